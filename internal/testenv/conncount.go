package testenv

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/stats"
)

// ConnCounter is an independent stats.Handler that counts ConnBegin and
// ConnEnd, the oracle for "every transport that began ends in exactly one
// close".
type ConnCounter struct {
	Begins, Ends atomic.Int64
}

// TagConn implements stats.Handler.
func (c *ConnCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler.
func (c *ConnCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.Begins.Add(1)
	case *stats.ConnEnd:
		c.Ends.Add(1)
	}
}

// TagRPC implements stats.Handler.
func (c *ConnCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// HandleRPC implements stats.Handler.
func (c *ConnCounter) HandleRPC(context.Context, stats.RPCStats) {}
