package testenv

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// Service is a real implementation of grpc.testing.TestService, the service
// grpc-go's own interop tests use, so scenarios need no generated code of
// their own.
//
//   - UnaryCall answers after ResponseSize microseconds (0: at once); the
//     interop message has no delay field, so the size field carries it. It
//     then fails with ResponseStatus, if set, as the interop server does.
//   - StreamingOutputCall sends one response per ResponseParameters entry,
//     each after its IntervalUs; a negative-size entry (Size < 0) means
//     "then block until the client goes away", for RPCs that must outlive
//     their transport.
//   - FullDuplexCall echoes until the client closes its side.
type Service struct {
	testgrpc.UnimplementedTestServiceServer
	// Started receives the method name when a handler starts, if non-nil.
	Started chan string
	// Ended, if non-nil, is called with the handler's context and error
	// when a handler gives up because its context ended.
	Ended func(ctx context.Context, err error)
}

func (s *Service) ended(ctx context.Context) error {
	err := ctx.Err()
	if s.Ended != nil {
		s.Ended(ctx, err)
	}
	return err
}

func (s *Service) started(name string) {
	if s.Started != nil {
		s.Started <- name
	}
}

// EmptyCall implements TestService.
func (s *Service) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

// UnaryCall implements TestService.
func (s *Service) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	s.started("UnaryCall")
	if d := time.Duration(req.GetResponseSize()) * time.Microsecond; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, s.ended(ctx)
		}
	}
	if st := req.GetResponseStatus(); st != nil {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &testgrpc.SimpleResponse{}, nil
}

// StreamingOutputCall implements TestService.
func (s *Service) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	s.started("StreamingOutputCall")
	for _, p := range req.GetResponseParameters() {
		if p.GetSize() < 0 {
			<-stream.Context().Done()
			return s.ended(stream.Context())
		}
		select {
		case <-time.After(time.Duration(p.GetIntervalUs()) * time.Microsecond):
		case <-stream.Context().Done():
			return s.ended(stream.Context())
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
	return nil
}

// FullDuplexCall implements TestService.
func (s *Service) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	s.started("FullDuplexCall")
	for {
		if _, err := stream.Recv(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
}

// Serve starts a grpc.Server with svc registered on 127.0.0.1:0 and returns
// it with its address. The server is stopped when the test ends.
func Serve(t testing.TB, svc *Service, opts ...grpc.ServerOption) (*grpc.Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(srv, svc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return srv, lis.Addr().String()
}
