package intercept

import "context"

type unregisteredKey struct{}

// withUnregistered marks a server call whose method name must not become a
// label: a method the server does not register (grpc.UnknownServiceHandler).
// A client's unregistered calls are marked on their rpclink.Call.
func withUnregistered(ctx context.Context) context.Context {
	return context.WithValue(ctx, unregisteredKey{}, true)
}

func isUnregistered(ctx context.Context) bool {
	return ctx.Value(unregisteredKey{}) != nil
}
