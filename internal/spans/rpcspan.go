package spans

import (
	"context"
	"net"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pulseconv "github.com/grpcpulse/grpcpulse/internal/semconv"
)

// RPCTracer starts grpcpulse's own RPC spans, for applications that do not
// use otelgrpc. The spans follow the OpenTelemetry RPC semantic conventions
// of the version otelgrpc v0.72 uses (semconv v1.43.0): span name
// "package.Service/Method", rpc.system.name "grpc", rpc.method,
// rpc.response.status_code, server.address and server.port on the client,
// network.peer.address and network.peer.port. The client injects the trace
// context into the request metadata and the server extracts it, so that a
// client and a server using grpcpulse, or one side using otelgrpc, share
// one trace.
type RPCTracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	server bool
}

// NewRPCTracer returns an RPCTracer for one side. prop carries the trace
// context in metadata (propagation.TraceContext for W3C traceparent).
func NewRPCTracer(tp trace.TracerProvider, prop propagation.TextMapPropagator, server bool) *RPCTracer {
	return &RPCTracer{tracer: tp.Tracer(pulseconv.ScopeName, trace.WithInstrumentationVersion(pulseconv.Version)), prop: prop, server: server}
}

type ownSpanKey struct{}

// Start starts the span of an RPC to fullMethod ("/pkg.Service/Method") and
// returns the context carrying it (and, on a client, the outgoing trace
// context).
func (t *RPCTracer) Start(ctx context.Context, fullMethod string) context.Context {
	name := strings.TrimPrefix(fullMethod, "/")
	kind := trace.SpanKindClient
	if t.server {
		kind = trace.SpanKindServer
		md, _ := metadata.FromIncomingContext(ctx)
		ctx = t.prop.Extract(ctx, metadataCarrier(md))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(kind),
		trace.WithAttributes(semconv.RPCSystemNameGRPC, semconv.RPCMethod(name)))
	ctx = context.WithValue(ctx, ownSpanKey{}, span)
	if !t.server {
		md, _ := metadata.FromOutgoingContext(ctx)
		md = md.Copy()
		t.prop.Inject(ctx, metadataCarrier(md))
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	return ctx
}

// ownSpan returns the span Start put in ctx, or nil.
func ownSpan(ctx context.Context) trace.Span {
	s, _ := ctx.Value(ownSpanKey{}).(trace.Span)
	return s
}

// SetPeer records the peer's address on the RPC's span: network.peer.* on
// both sides, and server.* on a client, whose peer is the server.
func (t *RPCTracer) SetPeer(ctx context.Context, remote net.Addr) {
	span := ownSpan(ctx)
	addr, port, ok := tcpAddr(remote)
	if span == nil || !ok {
		return
	}
	attrs := []attribute.KeyValue{semconv.NetworkPeerAddress(addr), semconv.NetworkPeerPort(port)}
	if !t.server {
		attrs = append(attrs, semconv.ServerAddress(addr), semconv.ServerPort(port))
	}
	span.SetAttributes(attrs...)
}

// End ends the RPC's span with its status. As the conventions say, a client
// span is an error for any status but OK, a server span only for the
// statuses that mean the server failed.
func (t *RPCTracer) End(ctx context.Context, err error) {
	span := ownSpan(ctx)
	if span == nil {
		return
	}
	s, _ := status.FromError(err)
	code := s.Code()
	if t.server && code == codes.Unimplemented {
		// grpc-go answers a method the server does not register with
		// Unimplemented: its name came from the peer.
		MarkUnregistered(ctx)
	}
	span.SetAttributes(semconv.RPCResponseStatusCode(CodeName(code)))
	if code != codes.OK && (!t.server || serverError(code)) {
		span.SetStatus(otelcodes.Error, s.Message())
	}
	span.End()
}

// MarkUnregistered renames grpcpulse's own span of a server RPC to a method
// the server does not register (grpc.UnknownServiceHandler) to pulseconv.OtherMethod,
// so that no span name or attribute is chosen by a peer. Spans of other
// instrumentation are left alone.
func MarkUnregistered(ctx context.Context) {
	if span := ownSpan(ctx); span != nil {
		span.SetName(pulseconv.OtherMethod)
		span.SetAttributes(semconv.RPCMethod(pulseconv.OtherMethod))
	}
}

func serverError(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// codeNames are the status code names of the gRPC specification, the values
// of rpc.response.status_code.
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName returns the specification's name of a status code; a code
// outside the specification, which a peer can send, is "UNKNOWN", as gRPC
// itself treats it.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}

// metadataCarrier adapts gRPC metadata to a propagation.TextMapCarrier.
type metadataCarrier metadata.MD

func (m metadataCarrier) Get(key string) string {
	if v := metadata.MD(m).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (m metadataCarrier) Set(key, value string) { metadata.MD(m).Set(key, value) }

func (m metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
