// Package layers holds no code: its test checks that grpcpulse's packages
// import only the layers below them, as the design draws them:
//
//	cmd/, examples/ → options → interceptors → stats → tracing → internal/...
//
// and, inside internal, that the frame observer (wire) and the journal
// (conntrack) stay the ground floor, free of OpenTelemetry.
package layers
