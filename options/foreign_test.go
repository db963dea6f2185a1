package options

import (
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"
)

// Each implementation's own settings, checked by its own rules and named in
// its own words.
func TestValidateForeign(t *testing.T) {
	quietServer := serverWith(func(p *ServerPolicy) { p.Enforcement = keepalive.EnforcementPolicy{MinTime: time.Minute} })
	tests := []struct {
		name   string
		client ClientKeepalive
		server ServerKeepalive
		want   []want
	}{
		{"C-core client at its defaults", CCoreClient{}, nil, nil},
		{"C-core client with grpcpulse's recommended time", CCoreClient{"grpc.keepalive_time_ms": 330000, "grpc.http2.max_pings_without_data": 0}, DefaultServerPolicy(), nil},
		{"C-core client: keepalive stops after two pings without data", CCoreClient{"grpc.keepalive_time_ms": 330000}, DefaultServerPolicy(),
			[]want{{Warning, "grpc.http2.max_pings_without_data", []string{"is 2", "stops its keepalive PINGs after 2", "watched for 11m only", "to 0"}}}},
		{"C-core client: below a second runs as a second", CCoreClient{"grpc.keepalive_time_ms": 500, "grpc.keepalive_timeout_ms": 400, "grpc.http2.max_pings_without_data": 0}, nil,
			[]want{
				{Warning, "grpc.keepalive_time_ms", []string{"is 500", "at most one PING a second", "1000 or more"}},
				{Warning, "grpc.keepalive_timeout_ms", []string{"is 400ms", "C-core also sets it as the socket's TCP_USER_TIMEOUT", "grpc.keepalive_timeout_ms to 5000 (5s) and grpc.keepalive_time_ms to at least 10000 (10s)"}},
			}},
		{"C-core client: zero turns keepalive on", CCoreClient{"grpc.keepalive_time_ms": 0, "grpc.http2.max_pings_without_data": 0}, nil,
			[]want{
				{Warning, "grpc.keepalive_time_ms", []string{"is 0, which does not disable keepalive", "pings every second", "330000 (5m30s)", "2147483647"}},
				{Warning, "grpc.keepalive_timeout_ms", []string{"(20s) is not below grpc.keepalive_time_ms (1s)"}},
			}},
		{"C-core client: zero timeout", CCoreClient{"grpc.keepalive_time_ms": 60000, "grpc.keepalive_timeout_ms": 0}, nil,
			[]want{{Error, "grpc.keepalive_timeout_ms", []string{"is 0", "first keepalive PING", "20000 (20s)"}}}},
		{"C-core client: unknown and misspelled keys", CCoreClient{
			"grpc.http2.min_recv_ping_interval_without_data_ms": 1, "grpc.max_connection_age_ms": 1, "grpc.max_receive_message_length": 1, "grpc.http2.min_time_between_pings_ms": 1}, nil,
			[]want{
				{Warning, "grpc.http2.min_recv_ping_interval_without_data_ms", []string{"GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS", "grpc.http2.min_ping_interval_without_data_ms"}},
				{Warning, "grpc.http2.min_time_between_pings_ms", []string{"no longer read by C-core"}},
				{Warning, "grpc.max_connection_age_ms", []string{"argument of a C-core server"}},
				{Warning, "grpc.max_receive_message_length", []string{"not a keepalive argument a C-core client reads"}},
			}},
		{"C-core client without the limit, against a server at grpc's defaults",
			CCoreClient{"grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000, "grpc.http2.max_pings_without_data": 0}, quietServer,
			[]want{{Error, "grpc.keepalive_time_ms", []string{"(10s) is below the server's EnforcementPolicy.MinTime (1m)", "doubles its keepalive time", "grpc.keepalive_time_ms to at least 66000 (1m6s)", "EnforcementPolicy.MinTime to at most 9s"}}}},
		{"C-core client with the limit: two pings never strike out", CCoreClient{"grpc.keepalive_time_ms": 10000, "grpc.keepalive_timeout_ms": 5000}, quietServer,
			[]want{{Warning, "grpc.http2.max_pings_without_data", []string{"grpc.http2.max_pings_without_data to 0 and grpc.keepalive_time_ms to at least 66000 (1m6s)", "EnforcementPolicy.MinTime to at most 9s"}}}},
		{"grpc-js client: no floor, and no limit", JSClient{"grpc.keepalive_time_ms": 1000, "grpc.keepalive_timeout_ms": 500}, quietServer,
			[]want{{Error, "grpc.keepalive_time_ms", []string{"(1s) is below the server's EnforcementPolicy.MinTime (1m)", "at least 66000 (1m6s)"}}}},
		{"grpc-js client: permit only for 1", JSClient{"grpc.keepalive_time_ms": 60000, "grpc.keepalive_timeout_ms": 20000, "grpc.keepalive_permit_without_calls": 2}, nil,
			[]want{{Warning, "grpc.keepalive_permit_without_calls", []string{"only for exactly 1"}}}},
		{"grpc-java client: the builder throws", JavaClient{KeepAliveTime: -time.Second}, nil,
			[]want{{Fatal, "ManagedChannelBuilder.keepAliveTime", []string{"IllegalArgumentException"}}}},
		{"grpc-java client: raised to 10s", JavaClient{KeepAliveTime: time.Second, KeepAliveTimeout: 5 * time.Second}, nil,
			[]want{{Warning, "ManagedChannelBuilder.keepAliveTime", []string{"raises anything below 10s"}}}},
		{"grpc-java client against grpc-java's default server", JavaClient{KeepAliveTime: time.Minute, KeepAliveWithoutCalls: true}, JavaServer{KeepAliveTime: 2 * time.Minute},
			[]want{
				{Error, "ManagedChannelBuilder.keepAliveTime", []string{"below the server's NettyServerBuilder.permitKeepAliveTime (5m)", "grpc-java tolerates 2", "ManagedChannelBuilder.keepAliveTime to at least 5m30s", "NettyServerBuilder.permitKeepAliveTime to at most 54s"}},
				{Error, "ManagedChannelBuilder.keepAliveWithoutCalls", []string{"NettyServerBuilder.permitKeepAliveWithoutCalls is off", "ManagedChannelBuilder.keepAliveWithoutCalls to false"}},
			}},
		{"any client against a grpc-js server: no ping policy", GoClient{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true},
			JSServer{"grpc.keepalive_time_ms": 60000, "grpc.http2.min_ping_interval_without_data_ms": 300000},
			[]want{{Warning, "grpc.http2.min_ping_interval_without_data_ms", []string{"grpc-js server enforces no ping policy"}}}},
		{"C-core server at its defaults", nil, CCoreServer{},
			[]want{{Warning, "grpc.keepalive_time_ms", []string{"is 2h", "off on C-core's sockets", "grpc.keepalive_time_ms to at most 120000 (2m)"}}}},
		{"C-core server: strikes off", GoClient{Time: 10 * time.Second, Timeout: 5 * time.Second}, CCoreServer{"grpc.keepalive_time_ms": 120000, "grpc.http2.max_ping_strikes": 0}, nil},
		{"C-core server: more strikes tolerated", GoClient{Time: 10 * time.Second, Timeout: 5 * time.Second},
			CCoreServer{"grpc.keepalive_time_ms": 120000, "grpc.http2.max_ping_strikes": 5, "grpc.http2.min_ping_interval_without_data_ms": 60000},
			[]want{{Error, "ClientParameters.Time", []string{"at strike 6 (C-core tolerates 5)", "grpc.http2.min_ping_interval_without_data_ms to at most 9000 (9s)"}}}},
		{"C-core server: non-positive age", nil, CCoreServer{"grpc.keepalive_time_ms": 120000, "grpc.max_connection_age_ms": 0},
			[]want{{Error, "grpc.max_connection_age_ms", []string{"only 1 to 2147483647"}}}},
		{"grpc-js server: age without grace", nil, JSServer{"grpc.keepalive_time_ms": 60000, "grpc.max_connection_age_ms": 600000},
			[]want{{Warning, "grpc.max_connection_age_grace_ms", []string{"is infinite while MaxConnectionAge is 10m", "120000 (2m)"}}}},
		{"grpc-js server: zero idle", nil, JSServer{"grpc.keepalive_time_ms": 60000, "grpc.max_connection_idle_ms": 0},
			[]want{{Error, "grpc.max_connection_idle_ms", []string{"as soon as it has no call"}}}},
		{"grpc-java server: negative", nil, JavaServer{PermitKeepAliveTime: -time.Second},
			[]want{{Fatal, "NettyServerBuilder.permitKeepAliveTime", []string{"IllegalArgumentException", "must be non-negative"}}}},
		{"grpc-java server: raised to 10s", nil, JavaServer{KeepAliveTime: time.Second},
			[]want{
				{Warning, "NettyServerBuilder.keepAliveTime", []string{"raises anything below 10s"}},
				{Warning, "NettyServerBuilder.keepAliveTimeout", []string{"(20s) is not below NettyServerBuilder.keepAliveTime (10s)"}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFindings(t, Validate(tt.client, tt.server), tt.want)
		})
	}
}
