package options

import (
	"math"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/internal/policy"
)

// Infinity is the duration grpc-go itself uses for "never" (math.MaxInt64).
//
// Zero values in grpc-go's keepalive structs mean "grpc's default", and that
// default is not always "off", so the presets spell "off" with Infinity:
//   - ServerParameters.MaxConnectionIdle, MaxConnectionAge and
//     MaxConnectionAgeGrace: Infinity is exactly what their zero value means.
//   - ServerParameters.Time: Infinity stops the server's keepalive pings (and
//     the TCP_USER_TIMEOUT that comes with them); zero means 2 hours.
//   - ClientParameters.Time: Infinity passed to grpc.WithKeepaliveParams
//     behaves exactly like not passing the option (no keepalive pings, no
//     TCP_USER_TIMEOUT), whereas zero is raised to 10 s and turns pings on.
const Infinity = time.Duration(math.MaxInt64)

// ServerPolicy is a server's complete keepalive policy: what grpc.KeepaliveParams
// and grpc.KeepaliveEnforcementPolicy take, plus the one fact about the
// service that Validate needs to judge them.
//
// Zero fields mean what they mean to grpc-go: the zero ServerPolicy is grpc's
// default policy (see GRPCDefaultServerPolicy).
type ServerPolicy struct {
	// Parameters is passed to grpc.KeepaliveParams.
	Parameters keepalive.ServerParameters
	// Enforcement is passed to grpc.KeepaliveEnforcementPolicy.
	Enforcement keepalive.EnforcementPolicy
	// LongestRPC is the longest RPC, streams included, that the service
	// expects to serve. It is never passed to grpc; Validate uses it to check
	// that MaxConnectionAgeGrace lets such an RPC finish after the server
	// starts draining a connection at MaxConnectionAge. Zero means unknown
	// (the check is skipped); Infinity means RPCs may run forever.
	LongestRPC time.Duration
}

// DefaultServerPolicy is grpcpulse's recommended policy for a server that
// clients reach directly or through DNS (for servers behind an L4 load
// balancer see LoadBalancedServerPolicy):
//
//   - Parameters.Time = 2m: the server pings a connection after 2 minutes
//     without reading from it. That is half the shortest common load balancer
//     idle timeout (Azure Load Balancer: 4 min; AWS NLB: 350 s; Google Cloud
//     firewall connection tracking: 10 min), so even a connection with no
//     RPCs, or a stream that has gone quiet, keeps its flow alive, and a
//     vanished client is noticed after 2m20s instead of grpc's default 2h20m.
//     NATs vary more (60-300 s is common for TCP; Linux conntrack keeps
//     established flows 5 days); clients behind aggressive ones should ping
//     themselves (LossyNetworkClientParameters). A ping is a 17-byte frame
//     each way every 2 minutes per connection: negligible.
//   - Parameters.Timeout = 20s: grpc's default. grpc-go also sets the socket's
//     TCP_USER_TIMEOUT to Timeout, so a shorter Timeout would abort healthy
//     connections that merely retransmit a lost segment a few times.
//   - Parameters.MaxConnectionIdle, MaxConnectionAge, MaxConnectionAgeGrace =
//     Infinity (grpc's defaults): with no load balancer in the path there is
//     nothing to rebalance, and the 2-minute pings already keep idle flows
//     alive, so closing connections would only cost clients reconnects.
//   - Enforcement.MinTime = 5s: grpc-go and grpc-java clients raise any
//     keepalive Time below 10 s to 10 s, so whatever a client of theirs
//     configures, its keepalive settings cannot earn it too_many_pings from
//     this server (10 s clears 5 s by far more than Validate's margin). One
//     ping per 5 s per connection still bounds a misbehaving peer (HTTP/2
//     ping floods are thousands per second). grpc's own 5-minute default is what makes
//     clients with ordinary settings (say 1 minute) lose connections.
//   - Enforcement.PermitWithoutStream = true: lets clients keep idle
//     connections warm (LossyNetworkClientParameters does); the pings are
//     still rate-limited by MinTime, so allowing them costs nothing.
//
// It accepts DefaultClientParameters and LossyNetworkClientParameters
// without any finding from Validate.
func DefaultServerPolicy() ServerPolicy {
	return ServerPolicy{
		Parameters: keepalive.ServerParameters{
			MaxConnectionIdle:     Infinity,
			MaxConnectionAge:      Infinity,
			MaxConnectionAgeGrace: Infinity,
			Time:                  2 * time.Minute,
			Timeout:               policy.KeepaliveTimeout,
		},
		Enforcement: permissiveEnforcement(),
	}
}

// LoadBalancedServerPolicy is grpcpulse's recommended policy for servers
// behind an L4 (connection-level) load balancer such as AWS NLB, Azure Load
// Balancer or a Kubernetes Service. Such a balancer picks a backend per
// connection, not per RPC, so a long-lived HTTP/2 connection pins a client to
// one backend until it closes; and the balancer forgets flows that stay
// silent longer than its idle timeout, after which the connection is dead
// without either end being told.
//
//   - Parameters.MaxConnectionAge = 10m: the server drains each connection
//     (GOAWAY "max_age") after 10 minutes, plus or minus grpc-go's 10% jitter
//     (9-11 min), so new backends after a scale-out or a restart receive
//     traffic within about 11 minutes, and clients using DNS re-resolve. A
//     reconnect (TCP and TLS handshake) every 10 minutes per client is
//     negligible; a much shorter age multiplies that churn for little gain.
//   - Parameters.MaxConnectionAgeGrace = 2m: RPCs started before the drain
//     get 2 minutes to finish (new RPCs go to the new connection at once), that
//     is twice a common 60-s deadline; the server then closes the connection
//     hard and RPCs still running fail with Unavailable. Long-lived streams
//     must therefore resume on a new connection at least every ~13 minutes;
//     if yours cannot, raise the grace and set ServerPolicy.LongestRPC so
//     Validate checks it.
//   - Parameters.MaxConnectionIdle = 3m: a connection without RPCs for 3
//     minutes is closed gracefully (GOAWAY "max_idle") before Azure Load
//     Balancer's 4-minute default idle timeout could silently drop it, and
//     idle clients rebalance when they come back.
//   - Parameters.Time = 1m: well under every common idle timeout (Azure 4
//     min, AWS NLB 350 s, Google Cloud 10 min), so quiet streams keep their
//     flow; behind a balancer the flow can also vanish for other reasons
//     (balancer node replaced, target deregistered), and the backend only
//     learns of it from its own unanswered ping: after 1m20s.
//   - Parameters.Timeout = 20s and the Enforcement: as in DefaultServerPolicy.
//
// It accepts DefaultClientParameters and LossyNetworkClientParameters
// without any finding from Validate.
func LoadBalancedServerPolicy() ServerPolicy {
	return ServerPolicy{
		Parameters: keepalive.ServerParameters{
			MaxConnectionIdle:     3 * time.Minute,
			MaxConnectionAge:      10 * time.Minute,
			MaxConnectionAgeGrace: 2 * time.Minute,
			Time:                  time.Minute,
			Timeout:               policy.KeepaliveTimeout,
		},
		Enforcement: permissiveEnforcement(),
	}
}

// permissiveEnforcement is the EnforcementPolicy shared by grpcpulse's server
// presets; see DefaultServerPolicy for the reasons.
func permissiveEnforcement() keepalive.EnforcementPolicy {
	return keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}
}

// GRPCDefaultServerPolicy describes, with every zero value spelled out, the
// policy of a grpc-go server that sets neither grpc.KeepaliveParams nor
// grpc.KeepaliveEnforcementPolicy (grpc-go v1.85; grpc-java and grpc C-core
// use the same enforcement defaults). Use it to validate a client against a
// server you do not control. Passed to grpc it behaves exactly like the
// zero ServerPolicy:
//
//   - MaxConnectionIdle, MaxConnectionAge, MaxConnectionAgeGrace: Infinity.
//   - Time: 2h, so idle flows are not kept alive through middleboxes.
//   - Timeout: 20s.
//   - Enforcement.MinTime: 5m. A client that pings more often than every 5
//     minutes on a quiet RPC collects strikes; the third strike closes the
//     connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
//   - Enforcement.PermitWithoutStream: false. On a connection with no RPCs,
//     any ping within 2 hours of the previous one is a strike.
func GRPCDefaultServerPolicy() ServerPolicy {
	return ServerPolicy{
		Parameters: keepalive.ServerParameters{
			MaxConnectionIdle:     Infinity,
			MaxConnectionAge:      Infinity,
			MaxConnectionAgeGrace: Infinity,
			Time:                  policy.ServerKeepaliveTime,
			Timeout:               policy.KeepaliveTimeout,
		},
		Enforcement: keepalive.EnforcementPolicy{
			MinTime:             policy.EnforcementMinTime,
			PermitWithoutStream: false,
		},
	}
}

// DefaultClientParameters is grpcpulse's recommended client keepalive. It is
// built to be safe against a server it knows nothing about, that is, one left
// at grpc's default enforcement (GRPCDefaultServerPolicy: MinTime 5 min,
// PermitWithoutStream false):
//
//   - Time = 5m30s: a ping after 5.5 minutes without reading anything. A
//     default server counts a ping sooner than 5 minutes after the previous
//     one as a strike; 5m30s clears that by the 10% margin Validate demands,
//     because pings can arrive slightly early (grpc/grpc#28830; a stalled
//     server reader stamps one ping late and the next one early). It is also
//     under AWS NLB's 350-s idle timeout, so a quiet stream keeps its flow
//     there. It cannot beat Azure Load Balancer's 4 minutes: against a
//     default server no client can ping that often; the server's own pings
//     (DefaultServerPolicy pings every 2 minutes) or TCP keepalive (Go sends
//     probes every 15 s by default) must keep such flows alive.
//   - Timeout = 20s: grpc's default; it is also the socket's
//     TCP_USER_TIMEOUT, so it must tolerate a few retransmissions. A dead
//     connection under an RPC is noticed within Time+Timeout = 5m50s.
//   - PermitWithoutStream = false: a default server counts every ping on a
//     connection without RPCs as a strike unless 2 hours have passed. With
//     false, grpc-go sends no pings while no RPC is in flight; when the next
//     RPC starts on a connection idle for longer than Time it pings at once,
//     and TCP_USER_TIMEOUT (= Timeout) covers the RPC's own data, so a
//     connection that died while idle fails that RPC within about Timeout
//     instead of hanging it.
//
// Against a server you control, pair it with DefaultServerPolicy or
// LoadBalancedServerPolicy, which accept it too.
func DefaultClientParameters() keepalive.ClientParameters {
	return keepalive.ClientParameters{
		Time:                5*time.Minute + 30*time.Second,
		Timeout:             policy.KeepaliveTimeout,
		PermitWithoutStream: false,
	}
}

// LossyNetworkClientParameters is a client keepalive for clients on lossy,
// mobile or otherwise unreliable paths (cellular, satellite, Wi-Fi roaming,
// carrier-grade NAT), where connections die silently, for example when the
// device changes networks, and NATs forget idle flows after as little as a
// minute:
//
//   - Time = 30s: a dead connection is noticed within Time+Timeout = 50s
//     instead of 5m50s, and pings come often enough to keep a flow alive
//     through NATs that time out after 60 s.
//   - Timeout = 20s: a ping ACK may take many seconds on a congested
//     cellular or satellite path, and since grpc-go sets TCP_USER_TIMEOUT to
//     Timeout, 20 s lets TCP retransmit a lost segment about four times
//     (1+2+4+8 s with a 1-s retransmission timeout) before giving up.
//   - PermitWithoutStream = true: idle connections are probed too, so a
//     connection that died while idle is found and closed before the next RPC
//     is sent on it; that RPC then gets a fresh connection instead of failing
//     after Timeout. This costs one small packet exchange
//     every 30 s per idle connection (radio wake-ups on battery-powered
//     devices; set PermitWithoutStream to false to trade detection for that).
//
// It needs a server whose enforcement accepts a ping every 30 s with no RPCs
// in flight: EnforcementPolicy{MinTime <= 27s, PermitWithoutStream: true}.
// DefaultServerPolicy and LoadBalancedServerPolicy qualify (MinTime 5s). A
// server left at grpc's defaults does not: it would close such connections
// with GOAWAY "too_many_pings", and Validate reports that as an Error.
func LossyNetworkClientParameters() keepalive.ClientParameters {
	return keepalive.ClientParameters{
		Time:                30 * time.Second,
		Timeout:             policy.KeepaliveTimeout,
		PermitWithoutStream: true,
	}
}

// GRPCDefaultClientParameters describes a grpc-go client that does not pass
// grpc.WithKeepaliveParams: no keepalive pings at all (Time is Infinity), and
// the 20-s Timeout grpc would use if they were on. Passing this value to
// grpc.WithKeepaliveParams behaves exactly like not passing the option.
//
// Beware that keepalive.ClientParameters{} is not this: grpc.WithKeepaliveParams
// raises its zero Time to 10 s and so turns pings on.
func GRPCDefaultClientParameters() keepalive.ClientParameters {
	return keepalive.ClientParameters{
		Time:                Infinity,
		Timeout:             policy.KeepaliveTimeout,
		PermitWithoutStream: false,
	}
}
