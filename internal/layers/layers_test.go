package layers

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/grpcpulse/grpcpulse"

// rank is each public layer's height; internal packages are 0. A package
// may import only packages of a lower rank (or, inside internal, the ones
// its rules allow).
var rank = map[string]int{
	"tracing":      1,
	"stats":        2,
	"interceptors": 3,
	"options":      4,
}

func layer(pkg string) (string, int, bool) {
	rel, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return "", 0, false
	}
	top, _, _ := strings.Cut(rel, "/")
	switch top {
	case "internal":
		if strings.HasPrefix(rel, "internal/testenv") || strings.HasPrefix(rel, "internal/peers") || rel == "internal/layers" {
			return rel, 100, true // test helpers and tests sit above everything
		}
		return rel, 0, true
	case "cmd", "examples":
		return rel, 100, true // programs: they may import any layer
	}
	return rel, rank[top], true
}

func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		from, fromRank, _ := layer(p.ImportPath)
		for _, imp := range p.Imports {
			to, toRank, ours := layer(imp)
			if from == "internal/wire" || from == "internal/conntrack" {
				if strings.HasPrefix(imp, "go.opentelemetry.io/") {
					t.Errorf("%s imports %s: the ground floor stays free of OpenTelemetry", from, imp)
				}
				if ours && to != "internal/wire" {
					t.Errorf("%s imports %s: the ground floor imports only the frame observer", from, to)
				}
			}
			if ours && toRank >= fromRank && fromRank > 0 && fromRank < 100 {
				t.Errorf("%s imports %s, which is not below it", from, to)
			}
			if ours && fromRank == 0 && toRank > 0 {
				t.Errorf("%s imports %s: an internal package imports a public one", from, to)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list found %d packages", seen)
	}
}
