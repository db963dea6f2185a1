// Package ccore runs grpcpulse against real gRPC C-core peers: Python's
// grpcio, which wraps C-core, as Debian ships it (python3-grpcio, 1.51.x;
// C++, Ruby and PHP use the same core and the same HTTP/2 transport).
//
// The package holds only tests. The C-core servers and clients are
// internal/peers/foreign's, which need /usr/bin/python3 with grpc
// importable: without it the tests skip, saying how to install it (and
// fail instead under GRPCPULSE_REQUIRE_PEERS=1).
package ccore
