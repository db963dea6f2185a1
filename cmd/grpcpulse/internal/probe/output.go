package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	mode := "plaintext HTTP/2"
	if r.TLS {
		mode = "TLS, ALPN h2"
	}
	fmt.Fprintf(&b, "grpcpulse probe %s (%s): %s of a %s budget, %d connections, %d PINGs sent\n\n",
		r.Target, mode, fmtDur(r.Elapsed), fmtDur(r.Budget), r.Connections, r.PingsSent)

	fmt.Fprintf(&b, "gRPC: health check %s; silent stream: %s", r.GRPC.Health, r.GRPC.HeldStream)
	if r.GRPC.HeldStreamNote != "" {
		fmt.Fprintf(&b, " (not available: %s)", r.GRPC.HeldStreamNote)
	}
	b.WriteString("\nSETTINGS:")
	for _, s := range r.Settings {
		if s.Value != nil {
			fmt.Fprintf(&b, " %s=%d", s.Name, *s.Value)
		} else {
			fmt.Fprintf(&b, " %s=(not sent: %s)", s.Name, s.Default)
		}
	}
	b.WriteString("\n\n")

	if r.Interrupted {
		b.WriteString("INTERRUPTED: the probe was cut short (SIGINT); what follows is partial\n\n")
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "STOPPED: %s\n\n", r.Stopped)
	}
	if r.Peer.Proxy {
		fmt.Fprintf(&b, "Answered by a proxy: %s (%s). Every finding below is the proxy's, not the server's behind it.\n\n", implName(r.Peer.Implementation), strings.Join(r.Peer.Evidence, "; "))
	} else {
		fmt.Fprintf(&b, "Server: %s (%s)\n\n", implName(r.Peer.Implementation), strings.Join(r.Peer.Evidence, "; "))
	}
	titles := map[string]string{
		FindingRTT:                 "RTT",
		FindingMinTime:             "Minimum ping interval (grpc-go EnforcementPolicy.MinTime)",
		FindingPermitWithoutStream: "Pings without calls (grpc-go EnforcementPolicy.PermitWithoutStream)",
		FindingMaxConnectionAge:    "Connection age limit (MaxConnectionAge)",
		FindingMaxConnectionGrace:  "Grace after the age (MaxConnectionAgeGrace)",
		FindingMaxConnectionIdle:   "Idle limit (MaxConnectionIdle)",
		FindingServerKeepalive:     "Server keepalive Time (server pings)",
		FindingPathIdleTimeout:     "Path idle timeout",
		FindingStreamIdleTimeout:   "Silent stream timeout",
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%s: %s [confidence: %s]\n", titles[f.Name], f.Result, f.Confidence)
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "    - %s\n", e)
		}
		if f.Note != "" {
			fmt.Fprintf(&b, "    note: %s\n", f.Note)
		}
	}
	if len(r.Limits) > 0 {
		b.WriteString("\nLimits of this measurement:\n")
		for _, o := range r.Limits {
			fmt.Fprintf(&b, "  - %s\n", o)
		}
	}
	if len(r.Open) > 0 {
		b.WriteString("\nLeft open:\n")
		for _, o := range r.Open {
			fmt.Fprintf(&b, "  - %s\n", o)
		}
	}
	a := r.Advice
	hop := "this server and path"
	if r.Peer.Proxy {
		hop = "the hop from the client to " + implName(r.Peer.Implementation)
	}
	fmt.Fprintf(&b, "\nAdvice: %s client keepalive for %s:\n\n", clientProfiles[a.Client].name, hop)
	for _, line := range strings.Split(a.Code, "\n") {
		fmt.Fprintf(&b, "    %s\n", line)
	}
	b.WriteString("\n")
	for _, reason := range a.Reasons {
		fmt.Fprintf(&b, "  - %s\n", reason)
	}
	for _, m := range a.ServerMust {
		fmt.Fprintf(&b, "  - %s\n", m)
	}
	if a.Client == ImplGo && a.Helps && !r.Peer.Proxy {
		fmt.Fprintf(&b, "\nChecked with options.Validate against the measured server policy\n  %s\n", a.ServerPolicyText)
		if len(a.Validate) == 0 {
			b.WriteString("  no findings\n")
		}
		for _, v := range a.Validate {
			fmt.Fprintf(&b, "  - %s\n", v)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
