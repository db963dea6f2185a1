// Package layers holds no code: its test checks that grpcpulse's packages
// import only the layers below them:
//
//	cmd/, examples/ → stats, interceptors → options → internal/... → stats/pulse
//	                  tracing ──────────────────────→ internal/... → stats/pulse
//
// The vocabulary (stats/pulse) is the leaf: it imports only the standard
// library (and internal/durfmt, which does too), so that every layer may
// speak it. The bundles of package options install the stats handler and
// the interceptors from their internal implementations, which is why
// stats and interceptors sit above options and take its option types.
// Inside internal, the frame observer (wire) and the journal (conntrack)
// stay the ground floor, free of OpenTelemetry.
package layers
