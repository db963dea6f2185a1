package pulse

// Implementation is the gRPC implementation a peer runs: the value of
// grpc.peer.implementation. A server learns it from the user-agent of its
// clients' RPCs, a client from what the server's frames show; a version
// never becomes part of it.
type Implementation uint8

const (
	// ImplementationUnknown: nothing observed tells. The attribute is
	// left out.
	ImplementationUnknown Implementation = iota
	// ImplementationGo ("go"): grpc-go.
	ImplementationGo
	// ImplementationCCore ("c-core"): gRPC C-core, the core of gRPC C++,
	// Python, Ruby, PHP and C#'s Grpc.Core.
	ImplementationCCore
	// ImplementationJS ("js"): @grpc/grpc-js, gRPC for Node.js.
	ImplementationJS
	// ImplementationJava ("java"): grpc-java.
	ImplementationJava
	// ImplementationOther ("other"): a gRPC peer of none of the above.
	ImplementationOther
)

// String returns "go", "c-core", "js", "java", "other", or "unknown" for
// ImplementationUnknown.
func (i Implementation) String() string {
	switch i {
	case ImplementationGo:
		return "go"
	case ImplementationCCore:
		return "c-core"
	case ImplementationJS:
		return "js"
	case ImplementationJava:
		return "java"
	case ImplementationOther:
		return "other"
	}
	return "unknown"
}
