// Package options bundles grpcpulse's handlers, interceptors and wrapped
// credentials with recommended keepalive policies, so that adopting the
// middleware is one option list on each side.
package options
