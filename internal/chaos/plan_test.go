package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// impl is what runs at one end of a trial.
type impl string

const (
	implGo    impl = "go"     // grpc-go with grpcpulse's bundle
	implCCore impl = "c-core" // Python's grpcio
	implJS    impl = "js"     // @grpc/grpc-js on Node
	implJava  impl = "java"   // grpc-java on Netty
	implRaw   impl = "raw"    // an HTTP/2 client on x/net's Framer
)

// fault is what a trial does to its connection.
type fault string

const (
	// faultClientClose: the client cancels some of its streams, then
	// closes its channel under the others.
	faultClientClose fault = "client_close"
	// faultReset: the path resets the connection (RST both ways).
	faultReset fault = "reset"
	// faultFIN: the path ends the connection with a FIN both ways.
	faultFIN fault = "fin"
	// faultBlackhole: the path silently drops the flow; both sides'
	// keepalives time out.
	faultBlackhole fault = "blackhole"
	// faultBlackholeRestored: the path drops the flow until the server's
	// keepalive has timed out and closed, then delivers that close.
	faultBlackholeRestored fault = "blackhole_restored"
	// faultMaxAge: the server drains at its max age; its grace cuts the
	// streams still open, if any.
	faultMaxAge fault = "max_age"
	// faultMaxAgeCancel: during the max-age drain the client cancels some
	// or all of its streams; the grace cuts the rest.
	faultMaxAgeCancel fault = "max_age_cancel"
	// faultGracefulStop: the server stops gracefully; the client cancels
	// some or all of its streams, and Stop cuts the rest.
	faultGracefulStop fault = "graceful_stop"
	// faultPings: the path injects PINGs; the server answers GOAWAY
	// ENHANCE_YOUR_CALM "too_many_pings".
	faultPings fault = "too_many_pings"
	// faultMalformed: the path injects a malformed frame toward the
	// server.
	faultMalformed fault = "malformed"
	// faultMalformedToClient: the path injects a malformed frame toward
	// the client.
	faultMalformedToClient fault = "malformed_to_client"
)

// entry is one kind of trial: who serves, who calls, and the fault.
type entry struct {
	server, client impl
	fault          fault
}

func (e entry) String() string { return fmt.Sprintf("%s-%s-%s", e.server, e.client, e.fault) }

// catalog is every kind of trial. A plan goes through it in rounds, each
// round in its own random order, so that any plan of at least
// len(catalog) trials runs every kind.
var catalog = func() []entry {
	var c []entry
	for _, f := range []fault{faultClientClose, faultReset, faultFIN, faultBlackhole, faultBlackholeRestored,
		faultMaxAge, faultMaxAgeCancel, faultGracefulStop, faultPings, faultMalformed, faultMalformedToClient} {
		c = append(c, entry{implGo, implGo, f})
	}
	c = append(c, entry{implGo, implRaw, faultMalformed})
	for _, f := range []impl{implCCore, implJS, implJava} {
		for _, flt := range []fault{faultClientClose, faultReset, faultFIN, faultBlackhole,
			faultMaxAge, faultMaxAgeCancel, faultGracefulStop, faultMalformedToClient} {
			c = append(c, entry{f, implGo, flt})
		}
		for _, flt := range []fault{faultClientClose, faultReset, faultFIN, faultBlackhole,
			faultMaxAge, faultMaxAgeCancel, faultGracefulStop, faultPings, faultMalformed} {
			c = append(c, entry{implGo, f, flt})
		}
	}
	c = append(c, entry{implCCore, implGo, faultPings})
	return c
}()

// trial is one run: an entry and the choices made for it.
type trial struct {
	seed  uint64
	index int
	entry

	streams    int           // server streams the client holds open when the fault comes
	cancels    int           // of them, how many the client cancels first
	closeAfter bool          // after cancelling every stream, the client closes its channel
	proxied    bool          // the client reaches the server through the fault proxy
	jitter     time.Duration // a pause before the fault, to vary what is in flight
	age, grace time.Duration // MaxConnectionAge and its grace
	frame      int           // which malformed frame (malformedFrames)
}

func (tr trial) String() string {
	s := fmt.Sprintf("trial %d (seed %d): %s streams=%d", tr.index, tr.seed, tr.entry, tr.streams)
	if tr.cancels > 0 {
		s += fmt.Sprintf(" cancels=%d", tr.cancels)
	}
	if tr.closeAfter {
		s += " close-after"
	}
	if tr.proxied {
		s += " proxied"
	}
	if tr.age > 0 {
		s += fmt.Sprintf(" age=%v", tr.age)
	}
	if tr.grace > 0 {
		s += fmt.Sprintf(" grace=%v", tr.grace)
	}
	if tr.fault == faultMalformed || tr.fault == faultMalformedToClient {
		s += " frame=" + malformedFrames[tr.frame].name
	}
	return s + fmt.Sprintf(" jitter=%v", tr.jitter)
}

// plan returns trial i of the plan seed: the same trial for the same seed
// and index, whatever else runs.
func plan(seed uint64, i int) trial {
	n := len(catalog)
	order := rand.New(rand.NewPCG(seed, uint64(i/n)|1<<40)).Perm(n)
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	tr := trial{seed: seed, index: i, entry: catalog[order[i%n]]}
	tr.streams = r.IntN(3)
	tr.jitter = time.Duration(r.IntN(30)) * time.Millisecond
	tr.proxied = r.IntN(2) == 0
	switch tr.fault {
	case faultReset, faultFIN, faultBlackhole, faultBlackholeRestored, faultPings:
		tr.proxied = true
	case faultMalformedToClient:
		tr.proxied = true
		tr.frame = r.IntN(len(malformedFrames))
	case faultMalformed:
		tr.proxied = tr.client != implRaw
		tr.frame = r.IntN(len(malformedFrames))
		if tr.client == implRaw {
			tr.streams = r.IntN(2)
		}
	case faultClientClose:
		tr.cancels = r.IntN(tr.streams + 1)
	case faultMaxAge:
		tr.age = time.Duration(500+r.IntN(500)) * time.Millisecond
		tr.grace = time.Duration(100+r.IntN(500)) * time.Millisecond
	case faultMaxAgeCancel, faultGracefulStop:
		tr.streams = 1 + r.IntN(2)
		tr.cancels = 1 + r.IntN(tr.streams)
		if tr.fault == faultGracefulStop {
			tr.cancels = r.IntN(tr.streams + 1)
		}
		if isForeign(tr.client) && tr.cancels > 0 {
			// A foreign client cancels all of its calls at once.
			tr.cancels = tr.streams
		}
		tr.closeAfter = tr.cancels == tr.streams && r.IntN(2) == 0
		if tr.fault == faultMaxAgeCancel {
			tr.age = time.Duration(500+r.IntN(500)) * time.Millisecond
		}
		// Long enough for the cancels to reach the server first, which
		// the trial checks; a grace that no cancel needs is never
		// reached. (A Go server's graceful stop has no grace: the trial
		// calls Stop.)
		switch {
		case tr.cancels == 0:
			tr.grace = time.Duration(r.IntN(500)) * time.Millisecond
		case tr.cancels < tr.streams:
			tr.grace = 3 * time.Second
		default:
			tr.grace = time.Minute
		}
	}
	if isForeign(tr.client) && tr.fault == faultClientClose && (tr.cancels > 0 || tr.client == implJS) {
		// grpc-js's close leaves running calls running: they must be
		// cancelled for the connection to end.
		tr.cancels = tr.streams
	}
	return tr
}

// sideTruth is what one side must record in a trial.
type sideTruth struct {
	reason    pulse.Reason
	initiator pulse.Initiator
	// cut names the RPCs the transport's end cut: each is a transport
	// failure (failing) with reason, and Cause names reason for it (a
	// client whose own close cut it sees Canceled: not a failure, no
	// Cause). Every other RPC, and every one if cut is empty, has no
	// Cause.
	cut     []string
	failing bool
	codes   []string // the status codes its failures may be counted with
	// ended: how many of the cut RPCs the server's teardown ends with a
	// status or a reset that reaches the client before the connection's
	// end, at least and at most. Those were no longer in flight when the
	// transport began to end. The others count in
	// grpc.close.active_rpcs and in the diagnosis's cut count.
	endedMin, endedMax int
	// diagnosis: a diagnosis is made, with the cut count inflight says.
	diagnosis bool
}

// inflight returns how many of the cut RPCs were still in flight when the
// transport began to end, at least and at most.
func (s sideTruth) inflight() (lo, hi int) {
	return len(s.cut) - s.endedMax, len(s.cut) - s.endedMin
}

// truth returns what the server and the client must record, for streams
// named names (the first tr.cancels of them cancelled by the client).
func (tr trial) truth(names []string) (server, client sideTruth) {
	cut := names[tr.cancels:]
	server = sideTruth{cut: cut, failing: true, codes: []string{"CANCELLED"}}
	client = sideTruth{cut: cut, failing: true, codes: []string{"UNAVAILABLE"}}
	abrupt := len(cut) > 0 // peer_closed and connection_reset are diagnosed only when they cut RPCs
	switch tr.fault {
	case faultClientClose:
		server.reason, server.initiator = pulse.ReasonClientShutdown, pulse.InitiatorPeer
		client.reason, client.initiator = pulse.ReasonClientShutdown, pulse.InitiatorLocal
		client.failing = false
	case faultReset:
		server.reason, server.initiator = pulse.ReasonConnectionReset, pulse.InitiatorPeer
		client.reason, client.initiator = pulse.ReasonConnectionReset, pulse.InitiatorPeer
		server.diagnosis, client.diagnosis = abrupt, abrupt
	case faultFIN:
		server.reason, server.initiator = pulse.ReasonPeerClosed, pulse.InitiatorPeer
		client.reason, client.initiator = pulse.ReasonPeerClosed, pulse.InitiatorPeer
		server.diagnosis, client.diagnosis = abrupt, abrupt
	case faultBlackhole:
		server.reason, server.initiator = pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal
		client.reason, client.initiator = pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal
		server.diagnosis, client.diagnosis = true, true
	case faultBlackholeRestored:
		server.reason, server.initiator = pulse.ReasonKeepaliveTimeout, pulse.InitiatorLocal
		client.reason, client.initiator = pulse.ReasonPeerClosed, pulse.InitiatorPeer
		server.diagnosis, client.diagnosis = true, abrupt
	case faultMaxAge, faultMaxAgeCancel:
		server.reason, server.initiator = pulse.ReasonMaxConnectionAge, pulse.InitiatorLocal
		client.reason, client.initiator = pulse.ReasonMaxConnectionAge, pulse.InitiatorPeer
		server.diagnosis, client.diagnosis = len(cut) > 0, len(cut) > 0
	case faultGracefulStop:
		server.reason, server.initiator = pulse.ReasonServerShutdown, pulse.InitiatorLocal
		client.reason, client.initiator = pulse.ReasonServerShutdown, pulse.InitiatorPeer
	case faultPings:
		server.reason, server.initiator = pulse.ReasonTooManyPings, pulse.InitiatorLocal
		client.reason, client.initiator = pulse.ReasonTooManyPings, pulse.InitiatorPeer
		server.diagnosis, client.diagnosis = true, true
	case faultMalformed:
		server.reason, server.initiator = pulse.ReasonProtocolError, pulse.InitiatorLocal
		client.reason, client.initiator = pulse.ReasonPeerClosed, pulse.InitiatorPeer
		server.diagnosis, client.diagnosis = true, abrupt
	case faultMalformedToClient:
		// The client's framer rejects the frame, and the client closes
		// its transport as it always does, with its shutdown GOAWAY.
		server.reason, server.initiator = pulse.ReasonClientShutdown, pulse.InitiatorPeer
		client.reason, client.initiator = pulse.ReasonProtocolError, pulse.InitiatorLocal
		client.diagnosis = true
	}
	if isForeign(tr.server) {
		client = tr.foreignServerTruth(client)
	}
	if isForeign(tr.client) {
		server = tr.foreignClientTruth(server)
	}
	return server, client
}

// foreignServerTruth adjusts what a Go client must record where a foreign
// server does what grpc-go's does not.
func (tr trial) foreignServerTruth(c sideTruth) sideTruth {
	switch tr.fault {
	case faultMaxAge, faultMaxAgeCancel, faultGracefulStop, faultPings:
		switch tr.server {
		case implCCore:
			// C-core drains without debug data (the wire does not say
			// why), and ends every stream it cuts with a status of its
			// own ("enter idle", "Cancelling all calls", "Too many
			// pings") before it closes. Where nothing before that
			// status says the end has begun, the client has the status
			// first, and none of them is in flight at the end: so at
			// the end of the max-age grace. Its too_many_pings GOAWAY
			// comes first, and so does its shutdown's GOAWAY
			// INTERNAL_ERROR "Cancelling all calls", but only when the
			// drain's last GOAWAY was not out yet.
			switch tr.fault {
			case faultMaxAge, faultMaxAgeCancel:
				c.endedMin, c.endedMax = len(c.cut), len(c.cut)
			case faultGracefulStop:
				c.endedMax = len(c.cut)
			}
			if tr.fault != faultPings {
				c.reason = pulse.ReasonServerDrain
				c.diagnosis = false
			}
		case implJS:
			// grpc-js's shutdown drains without debug data. Node resets
			// the streams grpc-js cuts (RST_STREAM NO_ERROR at the end
			// of the max-age grace, CANCEL at a forced shutdown) as it
			// destroys the connection: any number of those resets
			// reach the client before the end does.
			if tr.fault == faultGracefulStop {
				c.reason = pulse.ReasonServerDrain
				c.diagnosis = false
			}
			c.endedMax = len(c.cut)
			c.codes = []string{"UNAVAILABLE", "INTERNAL", "CANCELLED"}
		case implJava:
			// grpc-java says "max_age" as grpc-go does, and
			// "app_requested" for its shutdown, whose shutdownNow
			// resets the streams left (RST_STREAM CANCEL).
			c.endedMax = len(c.cut)
			c.codes = []string{"UNAVAILABLE", "INTERNAL", "CANCELLED"}
		}
	}
	return c
}

// foreignClientTruth adjusts what a Go server must record where a foreign
// client does what grpc-go's does not.
func (tr trial) foreignClientTruth(s sideTruth) sideTruth {
	if tr.fault == faultClientClose {
		// Closing its channel, a foreign client cancels its calls first
		// (grpc-js's close leaves them running: the trial cancels
		// them).
		s.cut = nil
		s.diagnosis = false
		switch tr.client {
		case implCCore:
			// No GOAWAY: the socket closes.
			s.reason = pulse.ReasonPeerClosed
		case implJS, implJava:
			// A GOAWAY NO_ERROR, then the close.
			s.reason = pulse.ReasonClientShutdown
		}
	}
	return s
}
