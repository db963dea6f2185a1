// Package semconv is grpcpulse's names (package pulse) as the OpenTelemetry
// API types the recording code uses: attribute keys and instrument names.
// The strings themselves live in pulse, so that a rename is made once.
package semconv

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/grpcpulse/grpcpulse/stats/pulse"
)

// ScopeName and Version are the instrumentation scope of every meter and
// tracer.
const (
	ScopeName = pulse.ScopeName
	Version   = pulse.Version
)

// Attribute keys.
const (
	Side            = attribute.Key(pulse.AttrSide)
	CloseReason     = attribute.Key(pulse.AttrCloseReason)
	CloseInitiator  = attribute.Key(pulse.AttrCloseInitiator)
	CloseActiveRPCs = attribute.Key(pulse.AttrCloseActiveRPCs)
	DisconnectError = attribute.Key(pulse.AttrDisconnectError)
	GoAwayDirection = attribute.Key(pulse.AttrGoAwayDirection)
	GoAwayCode      = attribute.Key(pulse.AttrGoAwayCode)
	GoAwayReason    = attribute.Key(pulse.AttrGoAwayReason)
	GoAwayLastID    = attribute.Key(pulse.AttrGoAwayLastStreamID)
	PingDirection   = attribute.Key(pulse.AttrPingDirection)
	RPCMethod       = attribute.Key(pulse.AttrRPCMethod)
	RPCStatusCode   = attribute.Key(pulse.AttrRPCStatusCode)
	PingsSent       = attribute.Key(pulse.AttrPingsSent)
	PingsReceived   = attribute.Key(pulse.AttrPingsReceived)
	RPCs            = attribute.Key(pulse.AttrRPCs)
	GoAwayCount     = attribute.Key(pulse.AttrGoAwayCount)
	PeerImpl        = attribute.Key(pulse.AttrPeerImplementation)
)

// OtherMethod is the rpc.method of a method a peer chose.
const OtherMethod = pulse.OtherMethod

// Instrument names.
const (
	MetricConnections       = pulse.MetricConnections
	MetricCloses            = pulse.MetricCloses
	MetricLifetime          = pulse.MetricLifetime
	MetricGoAways           = pulse.MetricGoAways
	MetricPings             = pulse.MetricPings
	MetricRTT               = pulse.MetricRTT
	MetricTransportFailures = pulse.MetricTransportFailures
)

// Span and event names.
const (
	ConnSpanName          = pulse.SpanTransport
	EventGoAway           = pulse.EventGoAway
	EventKeepaliveTimeout = pulse.EventKeepaliveTimeout
	EventDiagnosis        = pulse.EventDiagnosis
	MaxGoAwayEvents       = pulse.MaxGoAwayEvents
)
