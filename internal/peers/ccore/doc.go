// Package ccore runs grpcpulse against real gRPC C-core peers: Python's
// grpcio, which wraps C-core, as Debian ships it (python3-grpcio, 1.51.x;
// C++, Ruby and PHP use the same core and the same HTTP/2 transport).
//
// The package holds only tests. The Python side lives in testdata/, which
// the go tool ignores. The test harness needs /usr/bin/python3 with grpc
// importable (apt-get install python3-grpcio; the python3 first on PATH may
// be another installation): without it the tests fail with a message saying
// so. It starts the small Python programs there as child processes bound to
// 127.0.0.1, which report what they see as JSON lines on stdout and take
// commands ("stop", "close") on stdin, and kills them when the test ends.
package ccore
