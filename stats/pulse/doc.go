// Package pulse is grpcpulse's vocabulary: why a transport ended
// (Reason), who ended it (Initiator), on which side it was seen (Side),
// which gRPC implementation the peer runs (Implementation), the diagnosis
// of an abnormal end (Diagnosis), and the names of every metric,
// attribute, span and event grpcpulse records.
//
// Every other package of grpcpulse speaks these words: the stats handlers
// decide a Reason once per transport end, the metrics and spans record its
// String as grpc.close.reason, interceptors.Cause returns it for an RPC
// that died with its transport, and a Diagnosis carries it with the facts
// and the advice. A log line, a span and a dashboard therefore always
// agree.
//
// The package imports nothing of OpenTelemetry or gRPC, so that code which
// only reads grpcpulse's telemetry (tests, dashboards' generators, alert
// tooling) can name it without pulling in the rest.
package pulse
