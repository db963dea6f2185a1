package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/grpcpulse/grpcpulse/internal/wire"
)

// The bulk-copy workload moves a stream of HTTP/2 frames, as a gRPC server
// writes them for a run of unary RPCs with 1 KiB responses, over a loopback
// TCP connection in 32 KiB writes and reads, as grpc-go's framer does: through
// bare conns (configuration bare) or through the frame observer on both ends
// (configuration grpcpulse; the writer observes Sent, the reader Received).
// It measures the observer alone, without grpc-go around it.

const bulkChunk = 32 << 10

// bdpPing is the payload of grpc-go's BDP-estimator PING.
var bdpPing = [8]byte{2, 4, 16, 16, 9, 14, 7, 7}

// frameStream returns at least minBytes of frames, ending on a frame
// boundary, that can be repeated back to back.
func frameStream(minBytes, payload int) ([]byte, error) {
	var buf, hbuf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hbuf)
	var err error
	must := func(e error) {
		if err == nil {
			err = e
		}
	}
	headers := func(id uint32, end bool, fields ...string) {
		hbuf.Reset()
		for i := 0; i < len(fields); i += 2 {
			must(enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}))
		}
		must(fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true, EndStream: end,
		}))
	}
	must(fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535}))
	must(fr.WriteSettingsAck())
	msg := make([]byte, payload)
	n := payload - 5
	msg[1], msg[2], msg[3], msg[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	for i := 5; i < payload; i++ {
		msg[i] = byte(i * 7)
	}
	for rpc := 0; buf.Len() < minBytes; rpc++ {
		id := uint32(2*rpc + 1)
		headers(id, false, ":status", "200", "content-type", "application/grpc")
		must(fr.WriteData(id, false, msg))
		headers(id, true, "grpc-status", "0", "grpc-message", "", "x-rpc", strconv.Itoa(rpc))
		must(fr.WriteWindowUpdate(id, uint32(payload)))
		if rpc%4 == 3 {
			must(fr.WriteWindowUpdate(0, uint32(4*payload)))
		}
		if rpc%8 == 7 {
			must(fr.WritePing(false, bdpPing))
			must(fr.WritePing(true, bdpPing))
		}
	}
	return buf.Bytes(), err
}

// nopSink receives the observer's reports and drops them.
type nopSink struct{}

func (nopSink) Ping(wire.Direction, bool, [8]byte)            {}
func (nopSink) GoAway(wire.Direction, uint32, uint32, []byte) {}
func (nopSink) RSTStream(wire.Direction, uint32, uint32)      {}
func (nopSink) End(wire.End)                                  {}
func (nopSink) Violation(wire.Direction, wire.Violation)      {}
func (nopSink) Settings()                                     {}
func (nopSink) Closed()                                       {}

func tcpPair() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	server = <-accepted
	if err == nil && server == nil {
		err = fmt.Errorf("accept failed")
	}
	if err != nil {
		if client != nil {
			client.Close()
		}
		if server != nil {
			server.Close()
		}
		return nil, nil, err
	}
	return client, server, nil
}

func runBulk(ctx context.Context, f childFlags, out *lineWriter, cmds <-chan string) error {
	stream, err := frameStream(4<<20, 1024)
	if err != nil {
		return err
	}
	c, s, err := tcpPair()
	if err != nil {
		return err
	}
	var w, r net.Conn = c, s
	switch f.config {
	case cfgBare:
	case cfgGRPCPulse:
		w = wire.NewConn(c, true, nopSink{})
		r = wire.NewConn(s, false, nopSink{})
	default:
		return fmt.Errorf("bulk copy: configuration %q has no frame observer variant", f.config)
	}
	defer w.Close()
	defer r.Close()
	if _, err := w.Write([]byte(http2.ClientPreface)); err != nil {
		return err
	}
	if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface))); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var cnt counters
	// The writer copies only during the warm-up and inside windows.
	var g gate
	wg.Go(func() {
		// grpc-go's framer writes frames into a 32 KiB buffer and writes
		// the buffer to the conn when full: what is written was just
		// produced, and is in the CPU's cache. So does this writer.
		wbuf := make([]byte, bulkChunk)
		for ctx.Err() == nil {
			for p := stream; len(p) > 0; {
				g.enter()
				n := copy(wbuf, p)
				_, err := w.Write(wbuf[:n])
				g.leave()
				if err != nil {
					return
				}
				p = p[n:]
			}
			cnt.ops.Add(1)
		}
	})
	wg.Go(func() {
		buf := make([]byte, bulkChunk)
		for {
			n, err := r.Read(buf)
			cnt.bytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	// Closing the conns when the window loop ends unblocks both goroutines.
	defer func() {
		cancel()
		w.Close()
		r.Close()
	}()
	time.Sleep(f.warmup)
	defer g.release()
	return g.serve(f, out, cmds, &cnt)
}
