package interceptors

import (
	"context"
	"errors"
	"time"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/tracing"
)

// recorder is the go-grpc-middleware Reportable of one interceptor: it
// hands each call a reporter that classifies the call's end.
type recorder struct {
	side     conntrack.Side
	sideAttr attribute.KeyValue
	failures metric.Int64Counter
}

func newRecorder(side conntrack.Side, opts []Option) *recorder {
	cfg := newConfig(opts)
	m := cfg.meterProvider.Meter(semconv.ScopeName)
	failures, err := m.Int64Counter(semconv.MetricTransportFailures,
		metric.WithUnit("{call}"),
		metric.WithDescription("RPCs that failed because their transport ended or drained, by the transport's close reason."))
	if err != nil {
		// The API returns a usable no-op instrument alongside an error;
		// report it the way the rest of OpenTelemetry does and carry on.
		otel.Handle(err)
	}
	return &recorder{side: side, sideAttr: semconv.Side.String(side.String()), failures: failures}
}

// ClientReporter implements mw.ClientReportable. The call's state was put in
// ctx by the client interceptor, before the stats handler sees the attempts.
func (r *recorder) ClientReporter(ctx context.Context, meta mw.CallMeta) (mw.Reporter, context.Context) {
	return &reporter{rec: r, ctx: ctx, meta: meta, call: rpclink.CallFrom(ctx)}, ctx
}

// ServerReporter implements mw.ServerReportable.
func (r *recorder) ServerReporter(ctx context.Context, meta mw.CallMeta) (mw.Reporter, context.Context) {
	return &reporter{rec: r, ctx: ctx, meta: meta}, ctx
}

// reporter classifies one call when it ends and counts it in
// grpc.rpc.transport_failures if its transport caused the failure.
type reporter struct {
	mw.NoopReporter
	rec  *recorder
	ctx  context.Context
	meta mw.CallMeta
	call *rpclink.Call // client only
}

// PostCall implements mw.Reporter. It runs once, when the application sees
// the call's final outcome: after grpc-go's transparent retries.
func (p *reporter) PostCall(err error, _ time.Duration) {
	if err == nil {
		return
	}
	var (
		reason conntrack.Reason
		ok     bool
	)
	if p.rec.side == conntrack.Client {
		if p.call == nil {
			return
		}
		if reason, ok = rpclink.ClientCause(p.call.LastAttempt(), err); ok {
			p.call.SetCause(reason)
		}
	} else {
		reason, ok = rpclink.ServerCause(p.ctx, rpclink.ConnFrom(p.ctx), err)
	}
	if !ok {
		return
	}
	p.rec.failures.Add(p.ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		p.rec.sideAttr,
		semconv.CloseReason.String(reason.String()),
		semconv.RPCMethod.String(p.method()),
		semconv.RPCStatusCode.String(tracing.CodeName(statusCode(err))),
	)))
}

// method is the call's rpc.method value: _OTHER for a method the server
// does not register or the client did not get from generated code.
func (p *reporter) method() string {
	if isUnregistered(p.ctx) {
		return otherMethod
	}
	return p.meta.Service + "/" + p.meta.Method
}

// statusCode is the status code the application saw. A handler that returns
// its context's error unconverted is answered by grpc-go with that error's
// code (CANCELLED, DEADLINE_EXCEEDED), so it is counted with it.
func statusCode(err error) codes.Code {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if _, ok := status.FromError(err); !ok {
			return status.FromContextError(err).Code()
		}
	}
	return status.Code(err)
}
