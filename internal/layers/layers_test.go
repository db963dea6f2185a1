package layers

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/grpcpulse/grpcpulse"

// rank is each layer's height. A package may import only packages of a
// lower rank, or of its own rank inside internal.
var rank = map[string]int{
	"stats/pulse":     0,
	"internal/durfmt": 0,
	"internal":        1,
	"options":         2,
	"tracing":         2,
	"stats":           3,
	"interceptors":    3,
}

// leaves may import nothing but the standard library and each other.
var leaves = map[string]bool{"stats/pulse": true, "internal/durfmt": true}

func layer(pkg string) (string, int, bool) {
	rel, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return "", 0, false
	}
	if r, ok := rank[rel]; ok {
		return rel, r, true
	}
	top, _, _ := strings.Cut(rel, "/")
	switch top {
	case "internal":
		if strings.HasPrefix(rel, "internal/testenv") || strings.HasPrefix(rel, "internal/peers") || rel == "internal/layers" {
			return rel, 100, true // test helpers and tests sit above everything
		}
		return rel, rank["internal"], true
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
			if leaves[from] && (ours && !leaves[to] || !ours && strings.Contains(strings.Split(imp, "/")[0], ".")) {
				t.Errorf("%s imports %s: the vocabulary imports only the standard library", from, imp)
			}
			if from == "internal/wire" || from == "internal/conntrack" {
				if strings.HasPrefix(imp, "go.opentelemetry.io/") {
					t.Errorf("%s imports %s: the ground floor stays free of OpenTelemetry", from, imp)
				}
				if ours && to != "internal/wire" && !leaves[to] {
					t.Errorf("%s imports %s: the ground floor imports only the frame observer and the vocabulary", from, to)
				}
			}
			if !ours || fromRank == 100 {
				continue
			}
			if toRank > fromRank || toRank == fromRank && !(fromRank == rank["internal"] || leaves[from]) {
				t.Errorf("%s imports %s, which is not below it", from, to)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list found %d packages", seen)
	}
}

// An instrumentation library depends on the OpenTelemetry API only: the
// SDK is the application's choice. No package a program imports pulls it
// in.
func TestNoSDK(t *testing.T) {
	for _, pkg := range []string{"options", "stats", "interceptors", "tracing", "stats/pulse"} {
		out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "go.opentelemetry.io/otel/sdk") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// The public packages' documentation names only public types: a user reads
// and uses every exported name without looking inside internal/.
func TestPublicDocsNameNoInternalType(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", module+"/internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var internals []string
	for _, p := range strings.Fields(string(out)) {
		internals = append(internals, p[strings.LastIndex(p, "/")+1:]+".")
	}
	for _, pkg := range []string{"options", "stats", "interceptors", "tracing", "stats/pulse"} {
		doc, err := exec.Command("go", "doc", "-all", module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go doc %s: %v", pkg, err)
		}
		for _, line := range strings.Split(string(doc), "\n") {
			code := strings.TrimSpace(line)
			if !strings.HasPrefix(code, "func ") && !strings.HasPrefix(code, "type ") && !strings.HasPrefix(code, "const ") && !strings.HasPrefix(code, "var ") {
				continue
			}
			for _, q := range internals {
				if strings.Contains(code, " "+q) || strings.Contains(code, "("+q) || strings.Contains(code, "*"+q) || strings.Contains(code, "]"+q) {
					t.Errorf("%s: %q names an internal package's type", pkg, code)
				}
			}
		}
	}
}
