// Package options bundles grpcpulse's handlers, interceptors and wrapped
// credentials with recommended keepalive policies, so that adopting the
// middleware is one option list on each side.
//
// Validate checks keepalive settings before deployment: a client's against
// its server's policy, each in the words of its own gRPC implementation
// (grpc-go's GoClient and ServerPolicy, C-core's CCoreClient and
// CCoreServer, grpc-js's JSClient and JSServer, grpc-java's JavaClient and
// JavaServer), by that implementation's rules.
package options
