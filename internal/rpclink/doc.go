// Package rpclink joins RPCs to the transports they run on. The stats
// handlers, which see transports and attempts, and the interceptors, which
// see the call the application made, share what they know through the
// values this package stores in contexts.
package rpclink
