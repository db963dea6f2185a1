package interceptors

import "context"

// otherMethod is the rpc.method value for methods the server does not
// register, as in the OpenTelemetry RPC conventions: the method name comes
// from the peer, and a peer must not be able to mint label values.
const otherMethod = "_OTHER"

type unregisteredKey struct{}

// withUnregistered marks a call whose method name must not become a label:
// on a server, a method it does not register (grpc.UnknownServiceHandler);
// on a client, one that does not come from generated code.
func withUnregistered(ctx context.Context) context.Context {
	return context.WithValue(ctx, unregisteredKey{}, true)
}

func isUnregistered(ctx context.Context) bool {
	return ctx.Value(unregisteredKey{}) != nil
}
