package probe

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http2"
)

// connView is a consistent copy of what one connection saw, for analysis.
type connView struct {
	role                       string
	dialStart, ready, closedAt time.Time
	goaways                    []goawayEvent
	pings                      []serverPing
	rsts                       []rstEvent
	hadStream                  bool
	end                        string // endKind
	closeErr                   error
	silenceAtEnd               time.Duration
	maxWriteGap                time.Duration
}

func (c *h2conn) snapshot() connView {
	end := c.endKind()
	silence := c.silenceAtEnd()
	c.mu.Lock()
	defer c.mu.Unlock()
	return connView{
		role: c.role, dialStart: c.dialStart, ready: c.ready, closedAt: c.closedAt,
		goaways: slices.Clone(c.goaways), pings: slices.Clone(c.serverPings), rsts: slices.Clone(c.rsts),
		hadStream: c.hadStream, end: end, closeErr: c.closeErr, silenceAtEnd: silence, maxWriteGap: c.maxWriteGap,
	}
}

// undrained is how long the connection ran from its SETTINGS without a
// drain: to its first GOAWAY, else to its close, else to now.
func (v connView) undrained() time.Duration {
	end := v.closedAt
	if end.IsZero() {
		end = time.Now()
	}
	if len(v.goaways) > 0 {
		end = v.goaways[0].At
	}
	return end.Sub(v.ready)
}

// Causes of a drain, as the probe reads them.
const (
	drainAge      = "age"
	drainIdle     = "idle"
	drainShutdown = "shutdown"
	drainUnknown  = "unknown"
)

// drainSample is one connection the server drained (GOAWAY NO_ERROR, or
// C-core's idle GOAWAY INTERNAL_ERROR "enter idle").
type drainSample struct {
	v      connView
	g      goawayEvent
	cause  string
	since  time.Duration // from the server's SETTINGS to the GOAWAY
	sinceD time.Duration // from the probe's dial to the GOAWAY
	idle   time.Duration // from the end of the last stream (or the connect) to the GOAWAY; 0 with a stream open
	why    string        // how the cause was decided
}

// drainCause reads a drain's cause from the GOAWAY alone, where it says.
// grpc-go and grpc-java name it in the debug data; grpc-js names max age
// in its first GOAWAY only; C-core's idle close is GOAWAY INTERNAL_ERROR
// "enter idle" ("connection idle" in later releases). C-core's and
// grpc-js's other drains carry no debug data.
func drainCause(g goawayEvent) (cause string, drain bool) {
	switch {
	case g.Code == http2.ErrCodeInternal && (g.Debug == "enter idle" || g.Debug == "connection idle"):
		return drainIdle, true
	case g.Code != http2.ErrCodeNo:
		return "", false
	}
	switch g.Debug {
	case "max_age":
		return drainAge, true
	case "max_idle":
		return drainIdle, true
	case "graceful_stop":
		return drainShutdown, true
	}
	return drainUnknown, true
}

// slack is the timing tolerance of one observation.
func (p *prober) slack() time.Duration { return max(250*time.Millisecond, 2*p.rtt) }

// analyzeLifetime reads MaxConnectionAge, its grace and MaxConnectionIdle
// from the drains of every connection, by what they do: a drain with a
// stream open is the age (no implementation counts such a connection as
// idle); one without is the idle limit if it comes sooner than the age, or
// at a time that follows the connection's last stream rather than its
// connect.
func (p *prober) analyzeLifetime(rep *Report, views []connView) (age, grace, idle Finding) {
	age = Finding{Name: FindingMaxConnectionAge}
	grace = Finding{Name: FindingMaxConnectionGrace}
	idle = Finding{Name: FindingMaxConnectionIdle}
	slack := p.slack()
	var samples []*drainSample
	var beforeFirst []string // nginx: connections closed before their first request
	for _, v := range views {
		if len(v.goaways) == 0 {
			continue
		}
		g := v.goaways[0]
		cause, ok := drainCause(g)
		if !ok {
			continue
		}
		if rep.Peer.Implementation == ImplNginx && !v.hadStream {
			// nginx waits client_header_timeout for a connection's first
			// request, and keepalive_timeout after its last: a connection
			// that never opened a stream measures the first.
			beforeFirst = append(beforeFirst, fmt.Sprintf("%s %s after connecting, on a connection that never opened a stream: nginx's client_header_timeout (how long it waits for the first request), not its idle limit", goawayText(g), fmtDur(g.At.Sub(v.ready))))
			continue
		}
		s := &drainSample{v: v, g: g, cause: cause, since: g.At.Sub(v.ready), sinceD: g.At.Sub(v.dialStart)}
		if g.OpenStreams == 0 {
			s.idle = g.At.Sub(g.IdleSince)
		}
		if cause != drainUnknown {
			s.why = fmt.Sprintf("GOAWAY %s %q", g.Code, printable(g.Debug, 40))
		}
		samples = append(samples, s)
	}
	// A server shutting down drains every connection at once, whatever
	// their ages.
	if shutdownAt, n := sameInstant(samples, slack); n >= 3 {
		rep.Open = append(rep.Open, fmt.Sprintf("the server drained %d connections at the same moment (%s into the probe), whatever their ages: it was shutting down or restarting", n, fmtDur(shutdownAt.Sub(p.start))))
		for _, s := range samples {
			if s.cause == drainUnknown && s.g.At.Sub(shutdownAt).Abs() <= slack {
				s.cause, s.why = drainShutdown, "drained with the others at the same moment"
			}
		}
	}
	// Drains with a stream open are the age.
	for _, s := range samples {
		if s.cause == drainUnknown && s.g.OpenStreams > 0 {
			s.cause, s.why = drainAge, fmt.Sprintf("GOAWAY %s without debug data while a stream was open", s.g.Code)
		}
	}
	ageLo, ageHi, nAge := ageBracket(samples, slack)
	// The longest any connection with a stream open lived undrained.
	var heldLived time.Duration
	for _, v := range views {
		if v.hadStream && v.role == watchHeld && len(v.goaways) == 0 {
			end := v.closedAt
			if end.IsZero() {
				end = time.Now()
			}
			heldLived = max(heldLived, end.Sub(v.ready))
		}
	}
	var unknown []*drainSample
	for _, s := range samples {
		if s.cause != drainUnknown {
			continue
		}
		switch {
		case nAge > 0 && s.since >= time.Duration(float64(ageLo)*0.9)-slack:
			// Each connection's age is jittered down by up to 10%.
			s.cause, s.why = drainAge, "no stream open, at the age measured on connections with one"
		case nAge > 0:
			s.cause, s.why = drainIdle, fmt.Sprintf("no stream open, sooner than the age measured on connections with one (%s), less its jitter", bracketText(ageLo, ageHi))
		case heldLived > s.sinceD*5/4+time.Second:
			s.cause, s.why = drainIdle, fmt.Sprintf("no stream open, while a connection with a stream open lived %s undrained", fmtDur(heldLived))
		default:
			unknown = append(unknown, s)
		}
	}
	// Without a connection that holds a stream, compare connections whose
	// last stream ended at different times: an idle limit follows the last
	// stream, an age the connect.
	if len(unknown) >= 2 {
		var tMin, tMax, iMin, iMax time.Duration
		for i, s := range unknown {
			if i == 0 || s.since < tMin {
				tMin = s.since
			}
			tMax = max(tMax, s.since)
			if i == 0 || s.idle < iMin {
				iMin = s.idle
			}
			iMax = max(iMax, s.idle)
		}
		spread := max(time.Second, tMin/4)
		switch {
		case tMax-tMin > spread:
			for _, s := range unknown {
				s.cause, s.why = drainIdle, fmt.Sprintf("no stream open; drains came %s to %s after connecting, so they follow the last stream, not the connect", fmtDur(tMin), fmtDur(tMax))
			}
			unknown = nil
		case iMax-iMin > spread:
			for _, s := range unknown {
				s.cause, s.why = drainAge, fmt.Sprintf("no stream open; drains came at the same age although the last streams ended %s to %s before them", fmtDur(iMin), fmtDur(iMax))
			}
			unknown = nil
		}
	}
	ageLo, ageHi, nAge = ageBracket(samples, slack)
	for _, s := range samples {
		if s.cause == drainAge {
			age.Evidence = append(age.Evidence, fmt.Sprintf("%s %s after connecting (%s): %s", goawayText(s.g), fmtDur(s.since), streamNote(s.g.OpenStreams > 0), s.why))
		}
	}
	if nAge > 0 {
		age.Observed, age.Low, age.High = true, ageLo, ageHi
		age.Confidence = ConfidenceMedium
		if nAge > 1 {
			age.Confidence = ConfidenceHigh
		}
		if ageLo >= ageHi {
			age.Confidence = ConfidenceLow
			age.Low, age.High = min(ageLo, ageHi), max(ageLo, ageHi)
		}
		age.Result = bracketText(age.Low, age.High)
		age.Note = "gRPC implementations jitter the age by up to 10% per connection; the range allows for that"
	} else {
		var longest time.Duration
		for _, v := range views {
			longest = max(longest, v.undrained())
		}
		age.Low, age.Confidence = longest, ConfidenceNone
		age.Result = fmt.Sprintf("not observed: no drain within %s (or infinite)", fmtDur(longest))
	}

	// The grace: from the age drain to the end of a connection that kept
	// its stream open. grpc-go closes up to 1s after the grace (it waits
	// for the client to close first); C-core, grpc-js and Netty close at
	// the grace.
	extra := time.Second
	if impl := rep.Peer.Implementation; impl == ImplCCore || impl == ImplJS || impl == ImplJava {
		extra = 0
	}
	for _, s := range samples {
		if s.cause != drainAge || s.g.OpenStreams == 0 || s.v.closedAt.IsZero() || s.v.end == endLocal {
			continue
		}
		end := s.v.closedAt
		for _, r := range s.v.rsts {
			if r.At.After(s.g.At) && r.At.Before(end) {
				end = r.At
			}
		}
		gr := end.Sub(s.g.At)
		lo, hi := max(0, gr-extra-slack), gr+slack
		if !grace.Observed || lo > grace.Low {
			grace.Low = lo
		}
		if !grace.Observed || hi < grace.High {
			grace.High = hi
		}
		grace.Observed, grace.Confidence = true, ConfidenceMedium
		grace.Evidence = append(grace.Evidence, fmt.Sprintf("the stream held open was ended %s after the drain (%s)", fmtDur(gr), s.v.end))
	}
	if grace.Observed {
		if grace.Low >= grace.High {
			grace.Low, grace.Confidence = 0, ConfidenceLow
		}
		grace.Result = bracketText(grace.Low, grace.High)
		if extra > 0 {
			grace.Note = "grpc-go closes up to 1s after the grace ends, waiting for the client to close first; the range allows for that"
		}
	} else {
		grace.Confidence = ConfidenceNone
		grace.Result = "not observed"
		if nAge > 0 {
			grace.Result = "not observed: no connection with a stream held open was closed after its drain within the budget"
		}
	}

	// The idle limit. C-core checks idleness once per idle period, so its
	// close comes between one and two periods after the last stream; the
	// others close one period after it.
	periodic := rep.Peer.Implementation == ImplCCore
	nIdle := 0
	var idleLo, idleHi, iMin time.Duration
	for _, s := range samples {
		if s.cause != drainIdle {
			continue
		}
		lo, hi := max(0, s.idle-slack), s.idle+slack
		if !s.v.hadStream {
			// Its clock may have started at the accept, before SETTINGS.
			hi = s.idle + s.v.ready.Sub(s.v.dialStart) + slack
		} else if periodic {
			lo = s.idle/2 - slack
		}
		if nIdle == 0 || lo > idleLo {
			idleLo = lo
		}
		if nIdle == 0 || hi < idleHi {
			idleHi = hi
		}
		if nIdle == 0 || s.idle < iMin {
			iMin = s.idle
		}
		nIdle++
		what := "no stream ever opened"
		if s.v.hadStream {
			what = fmt.Sprintf("%s after the last stream ended", fmtDur(s.idle))
		}
		idle.Evidence = append(idle.Evidence, fmt.Sprintf("%s %s after connecting, %s: %s", goawayText(s.g), fmtDur(s.since), what, s.why))
	}
	if nIdle > 0 {
		idle.Observed, idle.Low, idle.High = true, max(0, idleLo), idleHi
		idle.Confidence = ConfidenceMedium
		if nIdle > 1 {
			idle.Confidence = ConfidenceHigh
		}
		if idle.Low >= idle.High {
			idle.Confidence = ConfidenceLow
			idle.Low, idle.High = iMin/2, iMin+slack
		}
		idle.Result = bracketText(idle.Low, idle.High)
		switch {
		case periodic:
			idle.Note = "C-core checks idleness once per idle period, so its idle GOAWAY comes one to two periods after the last stream"
		case rep.Peer.Implementation == ImplNginx:
			idle.Note = "nginx's keepalive_timeout: it closes a connection with no stream open that long, with a GOAWAY; a client reconnects for its next call"
		}
	} else {
		var longest time.Duration
		for _, v := range views {
			if (v.hadStream && v.role != watchActivity) || (!v.hadStream && rep.Peer.Implementation == ImplNginx) {
				continue
			}
			longest = max(longest, v.undrained())
		}
		idle.Low, idle.Confidence = longest, ConfidenceNone
		idle.Result = fmt.Sprintf("not observed: no idle drain within %s (or infinite)", fmtDur(longest))
	}
	idle.Evidence = append(idle.Evidence, beforeFirst...)
	for _, s := range unknown {
		rep.Open = append(rep.Open, fmt.Sprintf("a connection without streams was drained (%s) %s after connecting: the server's idle or age limit is at most that; the probe could not tell which", goawayText(s.g), fmtDur(s.since)))
	}
	return age, grace, idle
}

// ageBracket intersects the age samples' ranges, allowing the jitter of
// up to 10% every implementation adds.
func ageBracket(samples []*drainSample, slack time.Duration) (lo, hi time.Duration, n int) {
	for _, s := range samples {
		if s.cause != drainAge {
			continue
		}
		l := time.Duration(float64(max(0, s.since-slack)) / 1.1)
		h := time.Duration(float64(s.sinceD+slack) / 0.9)
		if n == 0 || l > lo {
			lo = l
		}
		if n == 0 || h < hi {
			hi = h
		}
		n++
	}
	return lo, hi, n
}

// sameInstant finds the largest group of drains that came within slack
// of each other on connections opened at different times.
func sameInstant(samples []*drainSample, slack time.Duration) (time.Time, int) {
	var best time.Time
	bestN := 0
	for _, a := range samples {
		n := 0
		var minS, maxS time.Duration
		for _, b := range samples {
			if b.g.At.Sub(a.g.At).Abs() <= slack {
				if n == 0 || b.since < minS {
					minS = b.since
				}
				maxS = max(maxS, b.since)
				n++
			}
		}
		if maxS-minS > max(time.Second, minS/4) && n > bestN {
			best, bestN = a.g.At, n
		}
	}
	return best, bestN
}

func goawayText(g goawayEvent) string {
	t := fmt.Sprintf("GOAWAY %s", g.Code)
	if g.Debug != "" {
		t += fmt.Sprintf(" %q", printable(g.Debug, 40))
	}
	if g.LastStream == 1<<31-1 {
		t += " (first of a two-phase drain)"
	}
	return t
}

func streamNote(held bool) string {
	if held {
		return "stream open"
	}
	return "no stream open"
}

// timerLateness is how late a middlebox's idle timer may fire after its
// configured timeout, so that a PING just past it is still answered.
const timerLateness = 50 * time.Millisecond

// javaMinKeepalive is the shortest keepAliveTime grpc-java uses
// (KeepAliveManager's MIN_KEEPALIVE_TIME_NANOS).
const javaMinKeepalive = 10 * time.Second

// keepalivePings returns the server PINGs that are keepalives by what they
// do: not right behind a GOAWAY (a drain's PING), not a payload known to
// mean something else, and not following data the probe sent since the
// server's previous PING (a bandwidth-estimation PING, which C-core sends
// up to 10s after the data that triggered it), unless the connection had
// carried no data for longer than that.
func keepalivePings(v connView) (ka []serverPing, flow int) {
	for _, sp := range v.pings {
		switch {
		case sp.AfterGoaway || notKeepalivePayload(sp.Data):
		case sp.DataSincePrev && sp.SinceData < 10*time.Second:
			flow++
		default:
			ka = append(ka, sp)
		}
	}
	return ka, flow
}

// analyzeServerKeepalive reads the server's keepalive Time from its
// keepalive PINGs: each comes after that long without a frame from the
// probe.
func (p *prober) analyzeServerKeepalive(views []connView) Finding {
	f := Finding{Name: FindingServerKeepalive}
	impl, who := p.peer.Implementation, "the server"
	if p.peer.Proxy {
		who = implName(impl)
	}
	var silences []time.Duration
	flow := 0
	for _, v := range views {
		ka, fl := keepalivePings(v)
		flow += fl
		for _, sp := range ka {
			silences = append(silences, sp.Silence)
		}
	}
	tol := max(2*p.rtt, 150*time.Millisecond)
	if len(silences) > 0 {
		slices.Sort(silences)
		mid := silences[len(silences)/2]
		f.Observed, f.Confidence = true, ConfidenceMedium
		if len(silences) > 2 {
			f.Confidence = ConfidenceHigh
		}
		f.Low, f.High = max(0, mid-tol), mid+tol
		f.Result = fmt.Sprintf("about every %s", fmtDur(mid))
		f.Evidence = []string{fmt.Sprintf("%d keepalive PINGs from %s, after %s..%s without a frame from the probe", len(silences), who, fmtDur(silences[0]), fmtDur(silences[len(silences)-1]))}
		// grpc-java raises a keepAliveTime under 10s to 10s, in the
		// server's builder as in the channel's: a server configured with
		// less pings every 10s, and that is what it does.
		if impl == ImplJava && f.Low <= javaMinKeepalive && javaMinKeepalive <= f.High {
			f.Note = "grpc-java raises a keepAliveTime under 10s to 10s (NettyServerBuilder.keepAliveTime clamps it), so a grpc-java server configured with a shorter one pings every 10s, as measured here"
		}
	} else {
		var longest time.Duration
		for _, v := range views {
			longest = max(longest, v.maxWriteGap)
		}
		f.Low, f.Confidence = longest, ConfidenceNone
		f.Result = "none"
		if longest > 0 {
			f.Result = fmt.Sprintf("none within %s of silence", fmtDur(longest))
		}
		if _, ok := knownWithout(FindingServerKeepalive, impl); !ok && longest > 0 {
			f.Result += fmt.Sprintf(": %s is longer, or off", settingRef(FindingServerKeepalive, impl))
		}
	}
	if flow > 0 {
		why := "after data, C-core, grpc-go and grpc-java send flow-control (BDP) PINGs, which are not keepalives"
		if impl == ImplJS {
			why = "grpc-js sends no flow-control PINGs, but that data cut short the silence they came after"
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("%d PINGs that followed data the probe sent were left out: %s", flow, why))
	}
	return f
}

// analyzePathIdle brackets the path's idle timeout from every silent
// connection: a PING answered after a silence bounds it from below; a PING
// unanswered, or a FIN or reset without GOAWAY that ends a silent
// connection, bounds it from above. No gRPC server closes an idle
// connection without a GOAWAY, so such a close came from the path (a
// proxy's or load balancer's idle timeout), or from the server's host.
// Each path idle connection is one rung, judged once; the connections
// held for other measurements add the closes they saw.
func (p *prober) analyzePathIdle(rep *Report, o *pathIdleOutcome, views []connView, srvTime Finding) Finding {
	f := Finding{Name: FindingPathIdleTimeout}
	rungs := slices.Clone(o.rungs)
	slices.SortFunc(rungs, func(a, b idleResult) int { return int(a.Target - b.Target) })
	slack := p.slack()
	var lo, hi, closeMin, closeMax, reached, answered time.Duration
	var closes, drops int
	closed := func(s time.Duration) {
		closes++
		if closeMin == 0 || s < closeMin {
			closeMin = s
		}
		closeMax = max(closeMax, s)
	}
	var cut []idleResult // rungs a drain or the server's limits ended first
	for _, r := range rungs {
		switch r.Verdict {
		case idleAnswered:
			// Answered after that much silence: the timeout is longer,
			// less the lateness of the path's timer (HAProxy's fires a
			// few milliseconds after its configured timeout).
			lo = max(lo, r.Silence-timerLateness)
			answered = max(answered, r.Silence)
		case idleUnanswered:
			drops++
			if hi == 0 || r.Silence < hi {
				hi = r.Silence
			}
		case idleClosed:
			closed(r.Silence)
		case idleNotReached:
			if r.Ended {
				cut = append(cut, r)
				reached = max(reached, r.Silence)
			}
		}
		if r.Verdict == verdictImplied {
			continue
		}
		ev := fmt.Sprintf("idle %s: %s", fmtDur(r.Target), r.Verdict)
		if r.Silence > 0 && r.Verdict != idleNotReached && r.Verdict != idleClosed {
			ev = fmt.Sprintf("PING after %s of silence: %s", fmtDur(r.Silence), r.Verdict)
		}
		switch {
		case r.Verdict == idleClosed:
			ev = fmt.Sprintf("idle %s: %s", fmtDur(r.Target), r.Note)
		case r.Note != "":
			ev += " (" + r.Note + ")"
		}
		f.Evidence = append(f.Evidence, ev)
	}
	// Every other connection that ended silent without a GOAWAY, whatever
	// it was for, summed up by what it was for.
	type roleCloses struct {
		n        int
		min, max time.Duration
		kinds    map[string]bool
	}
	byRole := map[string]*roleCloses{}
	var roles []string
	for _, v := range views {
		if v.role == rolePathIdle || len(v.goaways) > 0 || (v.end != endEOF && v.end != endReset) || v.silenceAtEnd < max(500*time.Millisecond, 10*p.rtt) {
			continue
		}
		s := v.silenceAtEnd
		closed(s)
		rc := byRole[v.role]
		if rc == nil {
			rc = &roleCloses{min: s, kinds: map[string]bool{}}
			byRole[v.role] = rc
			roles = append(roles, v.role)
		}
		rc.n++
		rc.min, rc.max = min(rc.min, s), max(rc.max, s)
		rc.kinds[v.end] = true
	}
	for _, role := range roles {
		rc := byRole[role]
		var kinds []string
		for k := range rc.kinds {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		span := fmtDur(rc.min)
		if fmtDur(rc.max) != span {
			span += ".." + fmtDur(rc.max)
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("%d connection(s) held for %s closed (%s, no GOAWAY) after %s of silence", rc.n, roleText(role), strings.Join(kinds, " or "), span))
	}
	if closes > 0 {
		// The close comes when the timer fires: about the timeout.
		if hi == 0 || closeMin+slack < hi {
			hi = closeMin + slack
		}
		lo = max(lo, closeMin-slack)
		if closes > 1 && closeMax-closeMin > 2*slack {
			// Closes at different silences: the shortest bounds it.
			lo = max(0, min(lo, closeMin-slack))
		}
	}
	f.Low, f.High = lo, hi
	switch {
	case hi > 0 && lo >= hi:
		f.Observed, f.Confidence = true, ConfidenceLow
		f.Result = fmt.Sprintf("inconsistent: a connection was cut after %s of silence but another answered after %s", fmtDur(hi), fmtDur(answered))
		f.Low, f.High = 0, hi
	case hi > 0:
		f.Observed, f.Confidence = true, ConfidenceMedium
		if lo > 0 {
			f.Confidence = ConfidenceHigh
		}
		f.Result = bracketText(lo, hi)
		if closes > 0 && hi-lo <= 2*slack+100*time.Millisecond {
			f.Result = fmt.Sprintf("about %s (%s)", fmtDur(closeMin), bracketText(lo, hi))
		}
		var names []string
		for _, k := range knownIdleTimeouts {
			if k.d > lo && k.d <= hi {
				names = append(names, k.name)
			}
		}
		if len(names) > 0 {
			f.Result += ": matches " + strings.Join(names, ", ")
		}
		switch {
		case closes > 0 && drops > 0:
			f.Note = "some silent connections were closed without GOAWAY and PINGs on others went unanswered: something on the path both closes and forgets idle flows"
		case closes > 0:
			f.Note = fmt.Sprintf("silent connections were closed (FIN or reset) with no GOAWAY; no gRPC server closes an idle connection that way (%s drains with a GOAWAY), so a proxy or load balancer on the path closed them, e.g. HAProxy's timeout client/server, or the server's host", implName(rep.Peer.Implementation))
		default:
			f.Note = "a PING after that much silence went unanswered: a middlebox on the path forgets flows idle this long and drops what follows, silently"
		}
	default:
		f.Confidence = ConfidenceNone
		f.Result = "no drop observed"
		if answered > 0 {
			f.Result = fmt.Sprintf("no drop observed: a PING after %s of silence was still answered", fmtDur(answered))
		}
		if srvTime.Observed && srvTime.High > 0 {
			f.Note = fmt.Sprintf("the server's own keepalive PINGs (%s) keep its connections' flows alive, so longer idle periods do not occur on them", srvTime.Result)
		}
		switch {
		case len(cut) > 0:
			// Longer silences end first by the server's (or the proxy's)
			// own limits: no budget reaches them.
			who := "the server"
			if rep.Peer.Proxy {
				who = implName(rep.Peer.Implementation)
			}
			rep.Limits = append(rep.Limits, fmt.Sprintf("no path idle connection stayed silent longer than about %s: %s ended them first (on one, %s), so a path idle timeout longer than that cannot be seen from here, whatever the budget; nor can one cut these connections, which %s ends sooner",
				fmtDur(max(reached, answered)), who, cut[0].EndedHow, who))
		case len(o.notTried) > 0 || len(rungs) == 0:
			msg := fmt.Sprintf("path idle timeout: no drop within %s of silence", fmtDur(answered))
			if len(rungs) == 0 {
				msg = "path idle timeout: the budget allowed no idle period"
			}
			if len(o.notTried) > 0 {
				next := o.notTried[0]
				msg += fmt.Sprintf("; trying %s of silence needs --budget of at least %s", fmtDur(next), fmtDur(next+p.ackWait()+5*time.Second))
				if p.connLimited() {
					rep.Limits = append(rep.Limits, msg+", and a connection the limit refused others: probe where the limit allows more connections")
					break
				}
			}
			rep.Open = append(rep.Open, msg)
		}
	}
	f.Evidence = append(f.Evidence, "the probe disables TCP keepalive on its sockets; the server's kernel may still send TCP keepalive probes, which also keep flows alive")
	return f
}

// analyzeStreamIdle reports streams the server (or a proxy) reset while
// they were silent: a held stream that nothing was written on for a while
// ended by RST_STREAM. nginx does it at grpc_read_timeout; Envoy at its
// stream_idle_timeout.
func (p *prober) analyzeStreamIdle(views []connView) Finding {
	f := Finding{Name: FindingStreamIdleTimeout}
	var ss []time.Duration
	codes := map[http2.ErrCode]int{}
	for _, v := range views {
		for _, r := range v.rsts {
			// A reset during a drain is the drain's, not an idle timer's.
			if len(v.goaways) > 0 && r.At.After(v.goaways[0].At) {
				continue
			}
			if r.Silence < time.Second {
				continue
			}
			ss = append(ss, r.Silence)
			codes[r.Code]++
		}
	}
	if len(ss) == 0 {
		f.Confidence = ConfidenceNone
		f.Result = "no silent stream was reset"
		return f
	}
	slices.Sort(ss)
	slack := p.slack()
	f.Observed, f.Confidence = true, ConfidenceMedium
	if len(ss) > 1 {
		f.Confidence = ConfidenceHigh
	}
	f.Low, f.High = max(0, ss[0]-slack), ss[0]+slack
	f.Result = fmt.Sprintf("about %s", fmtDur(ss[0]))
	var cs []string
	for c, n := range codes {
		cs = append(cs, fmt.Sprintf("%d with %s", n, c))
	}
	slices.Sort(cs)
	f.Evidence = append(f.Evidence, fmt.Sprintf("%d streams held open with nothing on them were reset after %s..%s of silence (%s)", len(ss), fmtDur(ss[0]), fmtDur(ss[len(ss)-1]), strings.Join(cs, ", ")))
	f.Note = "long-lived streams that stay silent longer than this are cut: send messages on them more often, or raise the timer (nginx: grpc_read_timeout, how long it waits for the server behind it; Envoy: stream_idle_timeout)"
	switch p.peer.Implementation {
	case ImplNginx:
		f.Note = "nginx's grpc_read_timeout: it ends a stream on which the server behind it sent nothing that long (RST_STREAM to the client, \"upstream timed out\" in its error log); long-lived streams that stay silent longer are cut"
	case ImplEnvoy:
		f.Note = "Envoy's stream_idle_timeout: it ends a stream with no activity that long; long-lived streams that stay silent longer are cut"
	}
	return f
}

// roleText says what a connection was held for, for evidence lines.
func roleText(role string) string {
	switch role {
	case watchHeld:
		return "the age (a stream held open)"
	case watchNone:
		return "the idle limit (no stream)"
	case watchActivity:
		return "the idle limit (one health check, then no stream)"
	case "ping enforcement":
		return "ping enforcement"
	}
	return role
}
