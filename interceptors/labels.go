package interceptors

import "context"

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
