package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// The streaming workloads use a small service of their own with a codec that
// passes bytes through, so that a message is exactly as long as asked and no
// serialisation cost hides the transport's and the handlers'.

// rawCodecName is the content subtype of rawCodec; clients select it per call
// with grpc.CallContentSubtype.
const rawCodecName = "benchraw"

func init() { encoding.RegisterCodecV2(rawCodec{}) }

// rawCodec marshals a *[]byte as its bytes and unmarshals into a *[]byte,
// reusing its capacity.
type rawCodec struct{}

func (rawCodec) Name() string { return rawCodecName }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	p, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("benchraw: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*p)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("benchraw: cannot unmarshal into %T", v)
	}
	*p = (*p)[:0]
	for _, b := range data {
		*p = append(*p, b.ReadOnlyData()...)
	}
	return nil
}

const streamMethod = "/grpcpulse.bench.Stream/Pull"

// streamServer answers Pull: the request holds a message count (8 bytes) and
// a message size (4 bytes), and the server sends that many messages of that
// size.
type streamServer struct {
	c *counters // messages and bytes sent
}

var streamDesc = grpc.ServiceDesc{
	ServiceName: "grpcpulse.bench.Stream",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Pull",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			return srv.(*streamServer).pull(stream)
		},
	}},
}

func (s *streamServer) pull(stream grpc.ServerStream) error {
	var req []byte
	if err := stream.RecvMsg(&req); err != nil {
		return err
	}
	if len(req) != 12 {
		return fmt.Errorf("pull: request of %d bytes, want 12", len(req))
	}
	count := binary.BigEndian.Uint64(req)
	msg := make([]byte, binary.BigEndian.Uint32(req[8:]))
	for i := range msg {
		msg[i] = byte(i)
	}
	// The message is never modified after the first SendMsg, so it is
	// safe to send the same one every time.
	for range count {
		if err := stream.SendMsg(&msg); err != nil {
			return err
		}
		s.c.ops.Add(1)
		s.c.bytes.Add(int64(len(msg)))
	}
	return nil
}

// pull asks for count messages of size bytes on one stream and reads them
// all, adding each to msgs and its length to bytes as it arrives.
func pull(ctx context.Context, cc *grpc.ClientConn, count uint64, size uint32, c *counters) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cc.NewStream(ctx, &streamDesc.Streams[0], streamMethod, grpc.CallContentSubtype(rawCodecName))
	if err != nil {
		return err
	}
	req := make([]byte, 12)
	binary.BigEndian.PutUint64(req, count)
	binary.BigEndian.PutUint32(req[8:], size)
	if err := stream.SendMsg(&req); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	buf := make([]byte, 0, size)
	var got uint64
	for {
		err := stream.RecvMsg(&buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		got++
		c.ops.Add(1)
		c.bytes.Add(int64(len(buf)))
	}
	if got != count {
		return fmt.Errorf("pull: received %d messages, want %d", got, count)
	}
	return nil
}
