package pulse_test

import (
	"fmt"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// Every reason, as grpc.close.reason records it, and whether a transport
// that ended for it failed (its span's status is Error).
func ExampleReasons() {
	for _, r := range pulse.Reasons() {
		fmt.Println(r, r.Failure())
	}
	// Output:
	// unknown false
	// keepalive_timeout true
	// too_many_pings true
	// max_connection_age false
	// max_connection_idle false
	// server_shutdown false
	// client_shutdown false
	// goaway false
	// peer_closed false
	// connection_reset true
	// io_error true
	// protocol_error true
	// server_drain false
}
