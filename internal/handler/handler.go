package handler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/config"
	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/credwrap"
	"github.com/grpcpulse/grpcpulse/internal/diagnose"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/shared"
	"github.com/grpcpulse/grpcpulse/internal/spans"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Handler is grpcpulse's grpc-go stats.Handler for one side (client or
// server), which stats.ServerHandler and stats.ClientHandler present and
// the bundles install directly.
//
// What depends only on the providers, the instruments with their prebuilt
// attribute sets and the connection spans' tracer, is shared by every
// Handler of the same side and providers; a Handler holds only what is its
// own, so that a program can build its options for every connection it
// dials.
type Handler struct {
	reg    *conntrack.Registry
	in     *instruments     // shared
	tracer *spans.Tracer    // shared; nil: no connection spans
	rpcs   *spans.RPCTracer // nil: no own RPC spans
	report func(error)

	// The diagnosis of abnormal ends.
	logger      *slog.Logger
	onDiagnosis func(pulse.Diagnosis)
	// sampler is made for the first record logged: most Handlers never
	// log one.
	sampler atomic.Pointer[diagnose.Sampler]
	policy  atomic.Pointer[Policy]

	side pulse.Side // beside unobserved, which leaves room for it
	// unobserved is set at the first transport that arrived without the
	// frame observer, which is reported once.
	unobserved atomic.Bool
}

// Policy is the keepalive policy a Handler's diagnoses judge against: the
// one installed beside it. A nil field is not known.
type Policy struct {
	Server      *keepalive.ServerParameters
	Enforcement *keepalive.EnforcementPolicy
	Client      *keepalive.ClientParameters
	// Peer is the servers' enforcement, when a client was told it.
	Peer *keepalive.EnforcementPolicy
}

// New returns the Handler of side, configured by cfg. Its policy is the
// one cfg's keepalive overrides describe; SetPolicy replaces it.
func New(side pulse.Side, cfg *config.Config) *Handler {
	// The error handler itself, not cfg.Handle: a method value would keep
	// the whole configuration alive with the Handler.
	h := &Handler{side: side, report: cfg.Reporter(), logger: cfg.Logger, onDiagnosis: cfg.OnDiagnosis}
	h.in = instrumentsFor(cfg.MeterProvider, side)
	if h.in.err != nil {
		h.report(h.in.err)
	}
	if side == pulse.SideServer {
		h.SetPolicy(Policy{Server: cfg.ServerParams, Enforcement: cfg.Enforcement})
	} else {
		h.SetPolicy(Policy{Client: cfg.ClientParams, Peer: cfg.PeerEnforcement})
	}
	if cfg.ConnSpans && !isNoop(cfg.TracerProvider) {
		h.tracer = tracerFor(cfg.TracerProvider, side)
	}
	if cfg.RPCSpans {
		h.rpcs = spans.NewRPCTracer(cfg.TracerProvider, cfg.Propagators, side == pulse.SideServer)
	}
	h.reg = conntrack.NewRegistry(side, hooks{h})
	return h
}

// SetPolicy makes p the policy the diagnoses judge against.
func (h *Handler) SetPolicy(p Policy) { h.policy.Store(&p) }

// SharePolicy is SetPolicy for a policy many Handlers judge against, which
// they then share: neither p nor what it points to may change afterwards.
func (h *Handler) SharePolicy(p *Policy) { h.policy.Store(p) }

// Side returns the side the Handler records.
func (h *Handler) Side() pulse.Side { return h.side }

// Report sends err to the Handler's error handler.
func (h *Handler) Report(err error) { h.report(err) }

// OpenJournals returns how many journals the Handler still holds: every
// one is freed when its connection closes.
func (h *Handler) OpenJournals() int { return h.reg.Len() }

// tracerKey names the connection spans' tracer of one side of one
// TracerProvider.
type tracerKey struct {
	tp   trace.TracerProvider
	side pulse.Side
}

// sharedTracers holds the tracer of every (TracerProvider, side) in use, for
// as long as a Handler holds it.
var sharedTracers shared.Cache[tracerKey, spans.Tracer]

// tracerFor returns the connection spans' tracer of side on tp, shared with
// every other Handler of side on tp.
func tracerFor(tp trace.TracerProvider, side pulse.Side) *spans.Tracer {
	return sharedTracers.Get(tracerKey{tp, side}, func() *spans.Tracer { return spans.NewTracer(tp, side) })
}

// SetUnclaimedGrace sets how long a journal opened from now on waits to be
// claimed by TagConn before it is freed unclaimed (see
// conntrack.Registry.SetUnclaimedGrace).
func (h *Handler) SetUnclaimedGrace(d time.Duration) { h.reg.SetUnclaimedGrace(d) }

// isNoop reports whether tp is OpenTelemetry's no-op provider, whose spans
// record nothing: a connection then costs no span at all.
func isNoop(tp trace.TracerProvider) bool {
	_, ok := tp.(noop.TracerProvider)
	return ok
}

// WrapCredentials returns credentials that behave exactly like c and let
// this Handler see the connection's HTTP/2 frames.
func (h *Handler) WrapCredentials(c credentials.TransportCredentials) credentials.TransportCredentials {
	return credwrap.Wrap(c, h.reg)
}

// WrapBundle is WrapCredentials for a credentials.Bundle: its transport
// credentials are wrapped, its per-RPC credentials are untouched.
func (h *Handler) WrapBundle(b credentials.Bundle) credentials.Bundle {
	return credwrap.WrapBundle(b, h.reg)
}

// TagConn joins the transport to its journal by address identity and stores
// the transport's state in the returned context, from which a server's RPC
// contexts derive.
func (h *Handler) TagConn(ctx context.Context, info *grpcstats.ConnTagInfo) context.Context {
	ctx, c := rpclink.NewConn(ctx)
	c.Origin = spans.Origin{Local: info.LocalAddr, Remote: info.RemoteAddr, Begin: time.Now()}
	if h.tracer != nil {
		// Only prepared: the span starts when it is first needed (see
		// spans.ConnSpan), so an idle connection holds no SDK span, and a
		// server's reader goroutine, which runs TagConn and then waits in
		// its read for the connection's whole life, never grows its stack
		// to start one.
		h.tracer.Prepare(&c.Span, &c.Origin)
	}
	if j := h.reg.Lookup(info.LocalAddr, info.RemoteAddr); j != nil && j.Claim(c) {
		c.Journal = j
	} else if !h.reg.Observed() && !h.unobserved.Swap(true) {
		h.report(h.unobservedError())
	}
	return ctx
}

// HandleConn counts transport opens and, at ConnEnd, classifies and counts
// the close and frees the journal.
func (h *Handler) HandleConn(ctx context.Context, s grpcstats.ConnStats) {
	c := rpclink.ConnFrom(ctx)
	if c == nil {
		return
	}
	switch s.(type) {
	case *grpcstats.ConnBegin:
		h.in.connections.Add(ctx, 1, h.in.sideAdd...)
	case *grpcstats.ConnEnd:
		h.in.connections.Add(ctx, -1, h.in.sideAdd...)
		h.recordClose(ctx, c)
	}
}

func (h *Handler) recordClose(ctx context.Context, c *rpclink.Conn) {
	e := h.classifyClose(ctx, c)
	k := e.key
	h.in.closes.Add(ctx, 1, h.in.closeOpts.get(k, func() []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			h.in.side,
			semconv.CloseReason.String(k.reason.String()),
			semconv.CloseInitiator.String(k.initiator.String()),
			semconv.CloseActiveRPCs.Bool(k.active),
			semconv.DisconnectError.String(k.disconnect),
		))}
	})...)
	h.in.lifetime.Record(ctx, time.Since(c.Begin).Seconds(), h.in.lifetimeOpts.get(k.reason, func() []metric.RecordOption {
		return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(h.in.side, semconv.CloseReason.String(k.reason.String())))}
	})...)
	c.Span.End(spans.ConnEnd{
		Reason:        k.reason,
		Initiator:     k.initiator,
		PingsSent:     e.pingsSent,
		PingsReceived: e.pingsReceived,
		RPCs:          c.RPCs(),
	})
}

// closing is what recordClose records of a transport's end.
type closing struct {
	key                      closeKey
	pingsSent, pingsReceived int64
}

// classifyClose takes the journal's snapshot, frees the journal, and
// classifies and diagnoses the end.
//
// It is kept out of line so that the snapshot, and the copies of it that the
// classifier takes, are off the stack when recordClose calls into the
// OpenTelemetry SDK: that runs on the goroutine that ends the transport,
// whose stack is small, and every kilobyte more on the way down can make
// the runtime copy it to a bigger one, which costs a short connection more
// than all of grpcpulse's own work at its end.
//
//go:noinline
func (h *Handler) classifyClose(ctx context.Context, c *rpclink.Conn) closing {
	snap := c.Snapshot()
	if c.Journal != nil {
		c.Journal.Release()
	}
	reason, initiator := conntrack.Classify(snap)
	// Diagnosed first: whoever sees the close counted finds its record
	// already written.
	if diagnose.Considered(reason) {
		// Checked here: diagnose's frame, with the facts it gathers, is
		// over a kilobyte.
		h.diagnose(ctx, c, snap, reason, initiator)
	}
	return closing{
		key:           closeKey{reason: reason, initiator: initiator, active: c.ActiveAtEnd(), disconnect: conntrack.DisconnectError(snap)},
		pingsSent:     snap.PingsSent,
		pingsReceived: snap.PingsReceived,
	}
}

// unobservedError says why a transport arrived without the frame observer
// and what to do about it.
func (h *Handler) unobservedError() error {
	if h.side == pulse.SideServer {
		return errors.New("grpcpulse: the server's connections arrive without the frame observer, so every close is recorded as unknown: " +
			"credentials passed with grpc.Creds replace the wrapped ones. Pass them with options.WithTransportCredentials, " +
			"or, with a stats handler composed alone, wrap them with its WrapCredentials")
	}
	return errors.New("grpcpulse: the client's connections arrive without the frame observer, so every close is recorded as unknown: " +
		"credentials passed with grpc.WithTransportCredentials or grpc.WithCredentialsBundle replace the wrapped ones. " +
		"Pass them with options.WithTransportCredentials or options.WithCredentialsBundle, " +
		"or, with a stats handler composed alone, wrap them with its WrapCredentials or WrapBundle")
}

// hooks records the journal's live events. It is a separate type so that
// the Handler's exported method set stays the stats.Handler interface.
type hooks struct{ h *Handler }

func (k hooks) KeepalivePing(_ *conntrack.Journal, dir conntrack.Direction) {
	k.h.in.pings.Add(context.Background(), 1, k.h.in.pingDir[dir]...)
}

func (k hooks) KeepaliveRTT(_ *conntrack.Journal, rtt time.Duration) {
	k.h.in.rtt.Record(context.Background(), rtt.Seconds(), k.h.in.sideRecord...)
}

func (k hooks) Closing(j *conntrack.Journal) {
	if c, ok := j.Tag().(*rpclink.Conn); ok {
		c.MarkClosing()
	}
}

func (k hooks) GoAway(j *conntrack.Journal, g conntrack.GoAway) {
	// The metric takes the span event's attributes but the last-stream-id.
	key := goAwayKey{dir: g.Dir, code: conntrack.GoAwayCodeName(g.Code), reason: g.Reason}
	k.h.in.goAways.Add(context.Background(), 1, k.h.in.goAwayOpts.get(key, func() []metric.AddOption {
		ev := spans.GoAwayAttributes(g)
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{k.h.in.side}, ev[:len(ev)-1]...)...))}
	})...)
	if c, ok := j.Tag().(*rpclink.Conn); ok {
		c.Span.GoAway(g)
		// An RPC span's event attributes are built only when a span in
		// flight takes them.
		var ev []attribute.KeyValue
		c.EachSpan(func(s trace.Span) {
			if ev == nil {
				ev = spans.GoAwayAttributes(g)
			}
			spans.AnnotateGoAway(s, ev)
		})
	}
}
