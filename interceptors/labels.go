package interceptors

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
)

// otherMethod is the rpc.method value for methods the server does not
// register, as in the OpenTelemetry RPC conventions: the method name comes
// from the peer, and a peer must not be able to mint label values.
const otherMethod = "_OTHER"

// methodName returns the fully qualified method ("pkg.Service/Method") of a
// gRPC full method name ("/pkg.Service/Method").
func methodName(fullMethod string) string {
	return strings.TrimPrefix(fullMethod, "/")
}

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

// codeNames are the rpc.response.status_code values: the status code names
// of the gRPC specification. grpc-go's codes.Code.String spells them
// differently ("Unavailable").
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// codeName returns the status code name; a code outside the specification,
// which a peer can send, is "UNKNOWN", as gRPC itself treats it.
func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}
