// Package options installs grpcpulse: one option list on each side.
//
//	srv := grpc.NewServer(options.Server(options.WithMeterProvider(mp))...)
//	cc, err := grpc.NewClient(target, options.Client(options.WithMeterProvider(mp))...)
//
// Server and Client return the grpc options that install the wrapped
// credentials (a passive frame observer that reads each connection's HTTP/2
// frames after the security handshake, so TLS works too), a keepalive
// policy (DefaultServerPolicy, DefaultClientParameters), grpcpulse's stats
// handler, any other handler given with WithStatsHandler (otelgrpc's, say),
// and the interceptors.
//
// # Options
//
// The option types say where an option may be passed, so that an option
// passed where it means nothing does not compile:
//
//	option                                   Server  Client  stats handlers  interceptors
//	WithMeterProvider, WithErrorHandler      yes     yes     yes             yes          (Option)
//	WithTracerProvider, WithPropagators,     yes     yes     yes             no           (HandlerOption)
//	WithConnectionSpans, WithRPCSpans,
//	WithLogger, WithDiagnosisHandler
//	WithTransportCredentials,                yes     yes     no              no           (BundleOption)
//	WithStatsHandler
//	WithServerPolicy, WithServerParameters,  yes     no      no              no           (ServerOption)
//	WithEnforcementPolicy
//	WithClientParameters,                    no      yes     no              no           (ClientOption)
//	WithCredentialsBundle, WithPeerServerPolicy
//
// An option behaves the same wherever it is accepted. The defaults come
// from the OpenTelemetry globals, read when the option list is applied, as
// in otelgrpc. A stats handler composed without a bundle (package stats)
// wraps credentials and installs its keepalive policy through its own
// methods, WrapCredentials and KeepaliveOptions, so that what its diagnoses
// judge against is what it installed. A nil value where nil means nothing
// (a nil provider, a nil option) has no effect and is reported through the
// error handler (WithErrorHandler, by default otel.Handle).
//
// # Keepalive policy
//
// The preset applies unless overridden (WithServerPolicy,
// WithServerParameters, WithEnforcementPolicy, WithClientParameters). What
// the program writes is applied as written, and what Validate finds in it
// is reported through the error handler, never enforced by refusal. Only a
// value grpc-go would reject or panic on (a Fatal finding: a negative
// Timeout, a MaxConnectionAge below 10 ns) is not applied, and the preset
// stays.
//
// Validate checks keepalive settings before they run, a client's against
// its servers' policy and each alone, in the words of each implementation:
// GoClient and ServerPolicy for grpc-go. Its Findings' Err is the one way to
// fail at start on a policy that would break connections:
//
//	if err := options.Validate(options.GoClient(params), options.GRPCDefaultServerPolicy()).Err(); err != nil {
//		log.Fatal(err)
//	}
package options
