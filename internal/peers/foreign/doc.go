// Package foreign finds and starts the foreign programs grpcpulse's tests
// run against, as real processes on loopback: gRPC servers and clients of
// other implementations (C-core through Python's grpcio, @grpc/grpc-js on
// Node, grpc-java on Netty), middleboxes (HAProxy, nginx), and tools
// (h2spec, Prometheus, promtool).
//
// # Runtimes
//
// Python, Node, Java, HAProxy, Nginx, H2Spec, Prometheus and Promtool each
// return the Runtime a test needs. Where it is absent, they skip the test
// with one line saying how to get it (apt-get install python3-grpcio, go
// install ..., ...), or fail it with that line when GRPCPULSE_REQUIRE_PEERS=1
// (RequireEnv), as CI sets it. A runtime that is present but cannot be
// prepared (the Java peer does not compile, say) fails the test in either
// case. Nothing is installed into the system and
// nothing is written into the source tree: the npm packages (pinned by
// js/package-lock.json), the compiled Java peer and the peer programs go
// to the user's cache directory (os.UserCacheDir()/grpcpulse), keyed by a
// hash of what they are made from, prepared once under a file lock shared
// by concurrent test binaries.
//
// # Launchers
//
// Each launcher starts its program for one test, returns once it is ready
// (it reported its port, or answered a readiness check: never a sleep),
// kills it when the test ends, and logs its stdout and stderr if the test
// failed.
//
//	StartCCoreServer(t, CCoreServerConfig{Args: Args{"grpc.max_connection_age_ms": 10000}}) *Server
//	StartCCoreClient(t, CCoreClientConfig{Target: addr, Args: ..., Call: CallWatch}) *Client
//	StartJSServer(t, JSServerConfig{Args: Args{"grpc.max_connection_idle_ms": 5000}}) *Server
//	StartJSClient(t, JSClientConfig{Target: addr, Args: ..., Call: CallStream}) *Client
//	StartJavaServer(t, JavaServerConfig{MaxConnectionAge: 10 * time.Second}) *Server
//	StartJavaClient(t, JavaClientConfig{Target: addr, KeepAliveTime: 10 * time.Second, Call: CallWatch}) *Client
//	StartHAProxy(t, HAProxyConfig{Backend: addr, TimeoutClient: 5 * time.Second, TimeoutServer: 5 * time.Second}) *Proxy
//	StartNginx(t, NginxConfig{Backend: addr, GRPCReadTimeout: 7 * time.Second}) *Proxy
//
// Every foreign server serves, with messages as raw bytes (no protoc):
//   - grpc.health.v1.Health/Check, answering the serving status (SERVING
//     until Server.SetHealth changes it), and Health/Watch, which streams
//     it and each change;
//   - grpc.testing.TestService: EmptyCall answers at once;
//     StreamingOutputCall sends its headers and never answers; UnaryCall
//     waits for Server.Release, then fails UNAVAILABLE "overloaded".
//
// Every foreign client connects at once and makes the Call it is given,
// then those Client.Call asks for, waiting for the channel to be ready;
// Client.Cancel cancels its running calls and Client.Close closes its
// channel. Closing a program's stdin (Process.WaitExit) ends it.
//
// # Events
//
// Peer programs print one JSON object per line on stdout, parsed into an
// Event; Process.WaitEvent waits for one. A server reports
// "listening" (Port), "call" (Method) when a call other than EmptyCall
// starts, "cancelled" (Method) when a Watch or StreamingOutputCall ends, and
// "stopped" once Server.Shutdown finished. A client reports "state" (State:
// each connectivity state change), "headers" (Method: a streaming call's
// response headers), "message" (Method, Health for health calls), "status"
// (Method, Code, CodeName, Details: a call's end) and "closed"; a grpc-js
// client also reports grpc-js's ERROR log lines as "log" (Text). A program
// the Go side never ends reports "failsafe" and exits after 10 minutes.
//
// # Middleboxes
//
// HAProxy runs in TCP mode (one frontend, one backend server), nginx as an
// HTTP/2-terminating gRPC proxy (listen ... http2, grpc_pass grpc://). Both
// run in the foreground as the current user, on a port picked below the
// kernel's ephemeral range (retried if taken), with their configuration in
// a temporary directory and their logs on stderr.
package foreign
