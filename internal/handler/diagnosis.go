package handler

import (
	"context"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
	"github.com/grpcpulse/grpcpulse/internal/diagnose"
	"github.com/grpcpulse/grpcpulse/internal/rpclink"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// diagnose writes the diagnosis of an abnormal, actionable end: to the
// diagnosis handler always, to the log sampled, and to the connection span.
// It is called only for a reason diagnose.Considered.
func (h *Handler) diagnose(ctx context.Context, c *rpclink.Conn, snap conntrack.Snapshot, reason pulse.Reason, initiator pulse.Initiator) {
	if h.logger == nil && h.onDiagnosis == nil && !c.Span.On() {
		return
	}
	// The intervals are copied, so that only an end that is diagnosed
	// moves anything to the heap: a slice of snap would move snap, on
	// every end.
	intervals := snap.PeerPingIntervals
	pol := h.policy.Load()
	f := diagnose.Facts{
		Side:            h.side,
		Reason:          reason,
		Initiator:       initiator,
		Lifetime:        time.Since(c.Begin),
		LastRTT:         snap.LastRTT,
		PingIntervals:   intervals[:snap.NPeerPingIntervals],
		PingsSent:       snap.PingsSent,
		Remote:          c.Remote,
		Server:          pol.Server,
		Enforcement:     pol.Enforcement,
		Client:          pol.Client,
		PeerEnforcement: pol.Peer,
	}
	end := time.Now()
	if cl := snap.Closing; cl.Valid {
		end = cl.At
		if !cl.LastRead.IsZero() {
			// Before an unanswered PING, the silence that killed the
			// path; otherwise the silence before the end.
			to := cl.At
			if cl.PingOutstanding {
				to = cl.PingSentAt
			}
			f.Idle = to.Sub(cl.LastRead)
		}
	}
	if snap.Violation.Valid {
		f.Violation = snap.Violation.Kind.String()
	}
	n, cut := c.CutRPCs()
	f.ActiveRPCs = n
	for _, r := range cut {
		f.CutRPCs = append(f.CutRPCs, pulse.CutRPC{Method: r.Method, Ran: end.Sub(r.Began)})
	}
	d, ok := diagnose.Diagnose(f)
	if !ok {
		return
	}
	if h.onDiagnosis != nil {
		h.onDiagnosis(d)
	}
	attrs := append(peerAttrs(c.Remote), d.Attrs()...)
	c.Span.Event(semconv.EventDiagnosis, otelAttrs(attrs))
	if h.logger == nil {
		return
	}
	suppressed, ok := h.logSampler().Allow(reason, end)
	if !ok {
		return
	}
	head := []slog.Attr{
		slog.String(string(semconv.Side), h.side.String()),
		slog.String(string(semconv.CloseReason), reason.String()),
		slog.String(string(semconv.CloseInitiator), initiator.String()),
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int(pulse.AttrSuppressed, suppressed))
	}
	h.logger.LogAttrs(ctx, slog.LevelWarn, pulse.LogMessage, append(head, attrs...)...)
}

// logSampler returns the Handler's sampler, made at its first use.
func (h *Handler) logSampler() *diagnose.Sampler {
	if s := h.sampler.Load(); s != nil {
		return s
	}
	h.sampler.CompareAndSwap(nil, new(diagnose.Sampler))
	return h.sampler.Load()
}

// peerAttrs returns network.peer.address and network.peer.port for a TCP
// peer, network.peer.address alone for others.
func peerAttrs(a net.Addr) []slog.Attr {
	switch a := a.(type) {
	case nil:
		return nil
	case *net.TCPAddr:
		ap := a.AddrPort()
		return []slog.Attr{slog.String("network.peer.address", ap.Addr().Unmap().String()), slog.Int("network.peer.port", int(ap.Port()))}
	}
	return []slog.Attr{slog.String("network.peer.address", a.String())}
}

// otelAttrs converts the diagnosis's log attributes for the span event:
// durations in seconds, as the metrics record them.
func otelAttrs(attrs []slog.Attr) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			out = append(out, attribute.String(a.Key, v.String()))
		case slog.KindInt64:
			out = append(out, attribute.Int64(a.Key, v.Int64()))
		case slog.KindBool:
			out = append(out, attribute.Bool(a.Key, v.Bool()))
		case slog.KindDuration:
			out = append(out, attribute.Float64(a.Key, v.Duration().Seconds()))
		default:
			out = append(out, attribute.String(a.Key, v.String()))
		}
	}
	return out
}
