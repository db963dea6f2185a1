package stats

import (
	"context"
	"sync/atomic"

	grpcstats "google.golang.org/grpc/stats"

	"github.com/grpcpulse/grpcpulse/internal/conntrack"
)

// rpcState is the Handler's state for one RPC attempt.
// Stream events of one attempt can arrive from the sending and the receiving
// goroutine at once, hence the atomic.
type rpcState struct {
	conn atomic.Pointer[connState] // the transport the attempt ran on, once known
}

type rpcKey struct{}

// TagRPC attaches the attempt's state. On a server the transport is already
// known (the RPC context derives from the TagConn context); on a client it
// is chosen later and joined at OutHeader.
func (h *Handler) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcKey{}, &rpcState{})
}

// HandleRPC keeps each transport's count of attempts in flight, which
// grpc.close.active_rpcs reports.
func (h *Handler) HandleRPC(ctx context.Context, s grpcstats.RPCStats) {
	rs, _ := ctx.Value(rpcKey{}).(*rpcState)
	if rs == nil {
		return
	}
	switch ev := s.(type) {
	case *grpcstats.Begin:
		if h.side == conntrack.Server {
			h.attach(rs, connFromContext(ctx))
		}
	case *grpcstats.OutHeader:
		if ev.Client && rs.conn.Load() == nil {
			if j := h.reg.Lookup(ev.LocalAddr, ev.RemoteAddr); j != nil {
				cs, _ := j.Tag().(*connState)
				h.attach(rs, cs)
			}
		}
	case *grpcstats.End:
		if cs := rs.conn.Load(); cs != nil {
			cs.active.Add(-1)
		}
	}
}

func (h *Handler) attach(rs *rpcState, cs *connState) {
	if cs != nil && rs.conn.CompareAndSwap(nil, cs) {
		cs.active.Add(1)
	}
}
