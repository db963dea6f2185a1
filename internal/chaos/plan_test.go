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
		faultMaxAge, faultMaxAgeCancel, faultGracefulStop, faultPings, faultMalformed} {
		c = append(c, entry{implGo, implGo, f})
	}
	c = append(c, entry{implGo, implRaw, faultMalformed})
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
		s += fmt.Sprintf(" age=%v grace=%v", tr.age, tr.grace)
	}
	if tr.fault == faultMalformed {
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
		tr.closeAfter = tr.cancels == tr.streams && r.IntN(2) == 0
		if tr.fault == faultMaxAgeCancel {
			tr.age = time.Duration(500+r.IntN(500)) * time.Millisecond
			// Long enough for the cancels to reach the server first,
			// which the trial checks; a grace that no cancel needs is
			// never reached.
			tr.grace = 3 * time.Second
			if tr.cancels == tr.streams {
				tr.grace = time.Minute
			}
		}
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
	code    string // the status code its failures are counted with
	// diagnosis: a diagnosis is made, saying len(cut) RPCs were cut.
	diagnosis bool
}

// truth returns what the server and the client must record, for streams
// named names (the first tr.cancels of them cancelled by the client).
func (tr trial) truth(names []string) (server, client sideTruth) {
	cut := names[tr.cancels:]
	server = sideTruth{cut: cut, failing: true, code: "CANCELLED"}
	client = sideTruth{cut: cut, failing: true, code: "UNAVAILABLE"}
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
	}
	return server, client
}
