package stats_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/peers/foreign"
	"github.com/grpcpulse/grpcpulse/internal/semconv"
	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// TestH2Spec runs h2spec (github.com/summerwind/h2spec), one test case at a
// time, against a bundled grpc-go server (plaintext, prior knowledge) and
// reports the close reasons the server recorded for each h2spec section. It
// checks that a server that never stopped records no server_shutdown. It
// needs h2spec on PATH or in $GOPATH/bin (it skips without it); with
// GRPCPULSE_H2SPEC_REPORT it also writes the table there.
func TestH2Spec(t *testing.T) {
	t.Parallel()
	bin := foreign.H2Spec(t).Path
	s := start(t, testenv.Setup{})
	_, port, err := net.SplitHostPort(s.Target)
	if err != nil {
		t.Fatal(err)
	}
	ids := h2specCases(t, bin)
	closes := func() map[string]int64 {
		out := map[string]int64{}
		for _, p := range s.Server.M.Points(t, semconv.MetricCloses) {
			r, _ := p.Attrs.Value(semconv.CloseReason)
			i, _ := p.Attrs.Value(semconv.CloseInitiator)
			out[r.AsString()+"/"+i.AsString()] += p.Value
		}
		return out
	}
	type result struct {
		section string
		passed  int
		failed  int
		reasons map[string]int64
	}
	bySection := map[string]*result{}
	var order []string
	for _, id := range ids {
		before := closes()
		cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", port, "-o", "1", id)
		out, err := cmd.CombinedOutput()
		testenv.EventuallyWithin(t, 10*time.Second, func() string {
			// Every transport that began has been counted closed.
			if b, c := s.Server.Counter.Begins.Load(), s.Server.Closes(t); c != b {
				return fmt.Sprintf("%d transports began, %d closes recorded after %s", b, c, id)
			}
			return ""
		})
		section := id[:strings.LastIndexByte(id, '/')]
		r := bySection[section]
		if r == nil {
			r = &result{section: section, reasons: map[string]int64{}}
			bySection[section] = r
			order = append(order, section)
		}
		if err == nil {
			r.passed++
		} else {
			r.failed++
		}
		var got []string
		for k, v := range closes() {
			if d := v - before[k]; d > 0 {
				r.reasons[k] += d
				got = append(got, fmt.Sprintf("%s×%d", k, d))
			}
		}
		sort.Strings(got)
		t.Logf("%-16s h2spec %-4s server: %s", id, map[bool]string{true: "pass", false: "FAIL"}[err == nil], strings.Join(got, " "))
		if err != nil && testing.Verbose() {
			t.Logf("%s", out)
		}
	}
	var md bytes.Buffer
	fmt.Fprintln(&md, "| h2spec section | cases (pass/fail) | server grpc.transport.closes reason/initiator |")
	fmt.Fprintln(&md, "| --- | --- | --- |")
	for _, sec := range order {
		r := bySection[sec]
		var rs []string
		for k, v := range r.reasons {
			rs = append(rs, fmt.Sprintf("%s ×%d", k, v))
		}
		sort.Strings(rs)
		fmt.Fprintf(&md, "| %s | %d/%d | %s |\n", sec, r.passed, r.failed, strings.Join(rs, ", "))
	}
	t.Logf("\n%s", md.String())
	if p := os.Getenv("GRPCPULSE_H2SPEC_REPORT"); p != "" {
		if err := os.WriteFile(p, md.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
	if n := s.Server.Closes(t, semconv.CloseReason.String("server_shutdown")); n != 0 {
		t.Errorf("server_shutdown recorded by a server that never stopped\n%s", s.Server.M.Dump(t, semconv.MetricCloses))
	}
}

var (
	h2specSection = regexp.MustCompile(`^\s+(\d+(?:\.\d+)*)\.\s`)
	h2specCase    = regexp.MustCompile(`^\s+(\d+):\s`)
)

// h2specCases lists h2spec's test case ids (generic/1/1, http2/6.5/2,
// hpack/2.3.3/1, ...) from its dry run.
func h2specCases(t *testing.T, bin string) []string {
	out, err := exec.Command(bin, "--dryrun").Output()
	if err != nil {
		t.Fatalf("h2spec --dryrun: %v", err)
	}
	var (
		ids     []string
		spec    string
		section string
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Generic"):
			spec = "generic"
		case strings.HasPrefix(line, "Hypertext"):
			spec = "http2"
		case strings.HasPrefix(line, "HPACK"):
			spec = "hpack"
		case h2specSection.MatchString(line):
			section = h2specSection.FindStringSubmatch(line)[1]
		case h2specCase.MatchString(line):
			ids = append(ids, spec+"/"+section+"/"+h2specCase.FindStringSubmatch(line)[1])
		}
	}
	if len(ids) == 0 {
		t.Fatal("no h2spec test cases found")
	}
	return ids
}
