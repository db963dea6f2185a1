package operators

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
)

// promtool returns the path of promtool, skipping the test with how to
// install it if it is missing (failing it under GRPCPULSE_REQUIRE_PEERS=1):
// the rules are tested for real or not at all.
func promtool(t *testing.T) string {
	t.Helper()
	return foreign.Promtool(t).Path
}

// TestRulesCheck runs promtool check rules: syntax, PromQL, templates.
func TestRulesCheck(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "rules.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules rules.yml: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestRulesUnit runs the promtool unit tests in rules_test.yml.
func TestRulesUnit(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", "rules_test.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules rules_test.yml: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestDashboardShape checks what Grafana needs of dashboard.json and what
// the Prometheus test in examples/otel relies on: every panel has a
// unique id, a title, a description and queries against the ${datasource}
// variable. That every query returns data is tested against a real
// Prometheus by go test ./examples/otel.
func TestDashboardShape(t *testing.T) {
	d, err := ParseDashboard()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) == 0 {
		t.Fatal("dashboard.json has no panels")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.Description == "" {
			t.Errorf("panel %d: title %q, description %q: both are needed", p.ID, p.Title, p.Description)
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" {
				t.Errorf("panel %q: a target lacks expr or refId: %+v", p.Title, q)
			}
			if !strings.Contains(q.Expr, `job=~"$job"`) {
				t.Errorf("panel %q: query %s ignores the $job variable", p.Title, q.Expr)
			}
		}
	}
}
