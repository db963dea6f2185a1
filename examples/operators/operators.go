// Package operators holds what an operator needs to run grpcpulse's
// metrics in Prometheus and Grafana, and the tests that keep them true:
//
//   - rules.yml: recording rules and alerts (too_many_pings, keepalive
//     timeouts above a share of closes, RPCs cut by MaxConnectionAge,
//     HTTP/2 protocol errors, a collapse of open connections), each with
//     what to check and which keepalive parameter to change;
//   - rules_test.yml: their promtool unit tests, including the cases where
//     a counter has no series yet;
//   - dashboard.json: a Grafana dashboard (closes by reason and side, RPC
//     failures by cause and method, GOAWAYs, keepalive pings and RTT,
//     connection lifetimes).
//
// The names are those the OpenTelemetry Prometheus exporter writes
// (grpc_transport_closes_total, grpc_transport_lifetime_seconds_bucket,
// ...). README.md says how to load them, how exact the histograms'
// quantiles are, and how many series a process exports at most.
// go test ./examples/operators runs promtool check and test on the rules
// and checks that budget against the code; go test ./examples/otel runs
// every dashboard query and the rules in a real Prometheus scraping the
// example program.
package operators

import (
	_ "embed"
	"encoding/json"
)

// Rules is rules.yml.
//
//go:embed rules.yml
var Rules []byte

// Dashboard is dashboard.json.
//
//go:embed dashboard.json
var Dashboard []byte

// Panel is the part of a Grafana panel the tests read.
type Panel struct {
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// ParsedDashboard is the part of dashboard.json the tests read.
type ParsedDashboard struct {
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
}

// ParseDashboard parses Dashboard.
func ParseDashboard() (ParsedDashboard, error) {
	var d ParsedDashboard
	err := json.Unmarshal(Dashboard, &d)
	return d, err
}
