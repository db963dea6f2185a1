package intercept

import (
	"context"
	"errors"
	"fmt"
	"time"

	mw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/shared"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Recorder is the go-grpc-middleware Reportable of one side: it hands each
// call a reporter that classifies the call's end and counts it in
// grpc.rpc.transport_failures if its transport caused the failure.
//
// It depends only on the MeterProvider and the side, so one Recorder serves
// every interceptor of that side built with the provider: a program that
// builds its options for every connection it dials pays for it once.
type Recorder struct {
	side     pulse.Side
	sideAttr attribute.KeyValue
	failures metric.Int64Counter
	err      error // what creating the instrument failed with
}

// recorderKey names the Recorder of one side of one MeterProvider.
type recorderKey struct {
	mp   metric.MeterProvider
	side pulse.Side
}

// recorders holds the Recorder of every (MeterProvider, side) in use, for
// as long as an interceptor holds it.
var recorders shared.Cache[recorderKey, Recorder]

// NewRecorder returns the Recorder of side, configured by cfg: the one every
// interceptor of side on cfg's MeterProvider shares.
func NewRecorder(side pulse.Side, cfg *config.Config) *Recorder {
	mp := cfg.MeterProvider
	r := recorders.Get(recorderKey{mp, side}, func() *Recorder { return newRecorder(side, mp) })
	if r.err != nil {
		// The API returns a usable no-op instrument alongside an error:
		// each configuration reports it and carries on.
		cfg.Handle(r.err)
	}
	return r
}

func newRecorder(side pulse.Side, mp metric.MeterProvider) *Recorder {
	m := mp.Meter(semconv.ScopeName, metric.WithInstrumentationVersion(semconv.Version))
	failures, err := m.Int64Counter(semconv.MetricTransportFailures,
		metric.WithUnit("{call}"),
		metric.WithDescription("RPCs that failed because their transport ended or drained, by the transport's close reason."))
	r := &Recorder{side: side, sideAttr: semconv.Side.String(side.String()), failures: failures}
	if err != nil {
		r.err = fmt.Errorf("grpcpulse: creating the %s's instruments: %w", side, err)
	}
	return r
}

// ClientReporter implements mw.ClientReportable. Called by grpcpulse's own
// client interceptors, it finds the call's state in ctx; called by
// go-grpc-middleware's, it puts it there, in the context the call then runs
// with, so that the stats handler can join the call's attempts to it. Those
// interceptors do not pass the call options, where grpc.StaticMethod says a
// method came from generated code, so such calls are recorded with
// rpc.method _OTHER.
func (r *Recorder) ClientReporter(ctx context.Context, meta mw.CallMeta) (mw.Reporter, context.Context) {
	if rpclink.CallFrom(ctx) == nil {
		var call *rpclink.Call
		ctx, call = rpclink.WithCall(ctx)
		call.SetUnregistered()
	}
	p := r.clientReport(ctx, meta)
	return &p, ctx
}

// ServerReporter implements mw.ServerReportable, for go-grpc-middleware's
// server interceptors. Their unary interceptor runs only for methods the
// server registers; their stream interceptor does not pass the service
// implementation, which grpc-go sets to nil for a method the server does
// not register, so a stream reported through it is recorded with
// rpc.method _OTHER: a peer must not choose a label value.
func (r *Recorder) ServerReporter(ctx context.Context, meta mw.CallMeta) (mw.Reporter, context.Context) {
	p := r.serverReport(ctx, meta)
	p.unregistered = meta.Typ != mw.Unary
	return &p, ctx
}

// clientReport and serverReport return the reporters ClientReporter and
// ServerReporter return, as values, for the interceptors that keep them on
// the stack.
func (r *Recorder) clientReport(ctx context.Context, meta mw.CallMeta) reporter {
	return reporter{rec: r, ctx: ctx, meta: meta, call: rpclink.CallFrom(ctx)}
}

func (r *Recorder) serverReport(ctx context.Context, meta mw.CallMeta) reporter {
	return reporter{rec: r, ctx: ctx, meta: meta}
}

// reporter classifies one call when it ends and counts it in
// grpc.rpc.transport_failures if its transport caused the failure.
type reporter struct {
	mw.NoopReporter
	rec  *Recorder
	ctx  context.Context
	meta mw.CallMeta
	call *rpclink.Call // client only
	// unregistered: a server method the server does not register, or,
	// reported through go-grpc-middleware's stream interceptor, one it
	// cannot tell registered.
	unregistered bool
}

// PostCall implements mw.Reporter. It runs once, when the application sees
// the call's final outcome: after grpc-go's transparent retries.
func (p *reporter) PostCall(err error, _ time.Duration) {
	if p.rec.side == pulse.SideServer {
		if a := rpclink.AttemptFrom(p.ctx); a != nil {
			// The handler returned: the attempt no longer needs its
			// transport, and grpc-go has not yet written its status, so
			// a client that closes once it has the status can never make
			// this attempt look cut (grpc.close.active_rpcs).
			a.Finish()
		}
	}
	if err == nil {
		return
	}
	var (
		reason pulse.Reason
		ok     bool
	)
	if p.rec.side == pulse.SideClient {
		if p.call == nil {
			return
		}
		// The stats handler decided at the last attempt's End, which
		// precedes this; without a handler, grpc-go's text decides.
		a := p.call.LastAttempt()
		if a == nil {
			reason, ok = rpclink.TextCause(err)
		} else {
			reason, ok = a.Cause(func() (pulse.Reason, bool) { return rpclink.ClientCause(a, err) })
		}
		if ok {
			p.call.SetCause(reason)
		}
	} else {
		// The handler returned, before grpc-go writes its status: this
		// decides for the stats handler's End too.
		if a := rpclink.AttemptFrom(p.ctx); a != nil {
			reason, ok = a.Cause(func() (pulse.Reason, bool) {
				return rpclink.ServerCause(p.ctx, rpclink.ConnFrom(p.ctx), err)
			})
		} else {
			reason, ok = rpclink.ServerCause(p.ctx, rpclink.ConnFrom(p.ctx), err)
		}
	}
	if !ok {
		return
	}
	p.rec.failures.Add(p.ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		p.rec.sideAttr,
		semconv.CloseReason.String(reason.String()),
		semconv.RPCMethod.String(p.method()),
		semconv.RPCStatusCode.String(spans.CodeName(statusCode(err))),
	)))
}

// method is the call's rpc.method value: _OTHER for a method the server
// does not register or the client did not get from generated code.
func (p *reporter) method() string {
	// A client's call records it; a server's context carries it.
	if p.unregistered || (p.call != nil && p.call.Unregistered()) {
		return semconv.OtherMethod
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
