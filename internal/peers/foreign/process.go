package foreign

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// Patience is how long the waits of this package last before they fail the
// test: the scenarios' own (testenv.Patience), generous on purpose, since a
// JVM or a Python interpreter can take seconds to start on two busy cores.
const Patience = testenv.Patience

// Event is one JSON line a peer program printed on stdout. Which fields
// are set depends on Event.Event; the package doc lists the events.
type Event struct {
	Event    string `json:"event"`
	Port     int    `json:"port"`     // listening
	State    string `json:"state"`    // state: a connectivity state (IDLE, CONNECTING, READY, TRANSIENT_FAILURE, SHUTDOWN)
	Code     int    `json:"code"`     // status: the gRPC status code
	CodeName string `json:"codeName"` // status: its name (OK, UNAVAILABLE, ...)
	Details  string `json:"details"`  // status: the status message
	Text     string `json:"text"`     // log: the logged line
	Method   string `json:"method"`   // call, cancelled, headers, message, status: the method's short name (Watch, StreamingOutputCall, ...)
	Health   string `json:"health"`   // message, status of Check and Watch: the serving status (SERVING, NOT_SERVING, ...)
}

// Program says how to run a foreign program.
type Program struct {
	Name    string   // for messages: what runs (the script's name, "haproxy", ...)
	Path    string   // the executable
	Args    []string // its arguments
	Dir     string   // its working directory ("": the test's)
	Env     []string // added to the environment
	Version string   // of what the test is about (grpcio 1.51.1, HAProxy 2.6.12), for messages
}

// Process is a running foreign program. Its stdout is parsed into Events
// as it comes (lines that are not JSON are kept as text only); its stdout
// and stderr go to the test log if the test failed.
type Process struct {
	name, version string
	cmd           *exec.Cmd
	stdin         io.WriteCloser
	done          chan struct{} // closed when the process has exited

	mu      sync.Mutex
	events  []Event
	stdout  bytes.Buffer // every line, as printed
	stderr  bytes.Buffer
	exitErr error
}

// Start runs prog. The process is killed when the test ends (if it has not
// exited by then), and its output is logged if the test failed.
func Start(t testing.TB, prog Program) *Process {
	t.Helper()
	p, err := start(prog)
	if err != nil {
		t.Fatalf("start %s: %v", prog.Name, err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s (%s) stdout:\n%s\nstderr (tail):\n%s", p.name, p.version, p.Stdout(), tail(p.Stderr(), 80))
		}
	})
	return p
}

func start(prog Program) (*Process, error) {
	p := &Process{name: prog.Name, version: prog.Version, done: make(chan struct{})}
	p.cmd = exec.Command(prog.Path, prog.Args...)
	p.cmd.Dir = prog.Dir
	p.cmd.Env = append(os.Environ(), prog.Env...)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go p.read(stdout)
	return p, nil
}

// kill ends the process if it still runs and waits until it has.
func (p *Process) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// read parses stdout until EOF, then waits for the process.
func (p *Process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var e Event
		jerr := json.Unmarshal([]byte(line), &e)
		p.mu.Lock()
		p.stdout.WriteString(line + "\n")
		if jerr == nil && e.Event != "" {
			p.events = append(p.events, e)
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line too long for the scanner: keep the pipe drained
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exitErr = err
	p.mu.Unlock()
	close(p.done)
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Send writes one command line to the program's stdin.
func (p *Process) Send(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: write %q: %v", p.name, line, err)
	}
}

// Events returns what the program reported so far, in order.
func (p *Process) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Stdout returns the program's stdout so far.
func (p *Process) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr returns the program's stderr so far: the peer's own log and
// traces, or the proxy's log.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// WaitEvent waits until the program reported an event named name that
// satisfies match (nil: any), and returns the first such. It fails the test
// if the program exits first or Patience runs out.
func (p *Process) WaitEvent(t testing.TB, name string, match func(Event) bool) Event {
	t.Helper()
	var found Event
	testenv.EventuallyWithin(t, Patience, func() string {
		for _, e := range p.Events() {
			if e.Event == name && (match == nil || match(e)) {
				found = e
				return ""
			}
		}
		select {
		case <-p.done:
			return fmt.Sprintf("%s exited (%v) without reporting %q; stdout:\n%s\nstderr (tail):\n%s",
				p.name, p.ExitErr(), name, p.Stdout(), tail(p.Stderr(), 40))
		default:
		}
		return fmt.Sprintf("%s did not report %q; stdout so far:\n%s", p.name, name, p.Stdout())
	})
	return found
}

// Has reports whether the program reported an event named name that
// satisfies match (nil: any).
func (p *Process) Has(name string, match func(Event) bool) bool {
	for _, e := range p.Events() {
		if e.Event == name && (match == nil || match(e)) {
			return true
		}
	}
	return false
}

// Count returns how many events named name that satisfy match (nil: any)
// the program reported.
func (p *Process) Count(name string, match func(Event) bool) int {
	n := 0
	for _, e := range p.Events() {
		if e.Event == name && (match == nil || match(e)) {
			n++
		}
	}
	return n
}

// Exited is closed once the program has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// WaitExit closes the program's stdin, which ends every peer program of
// this package, waits for it to exit and fails the test unless it exited
// with status 0.
func (p *Process) WaitExit(t testing.TB) {
	t.Helper()
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(Patience):
		t.Fatalf("%s did not exit within %v; stdout:\n%s", p.name, Patience, p.Stdout())
	}
	if err := p.ExitErr(); err != nil {
		t.Fatalf("%s: %v; stdout:\n%s\nstderr (tail):\n%s", p.name, err, p.Stdout(), tail(p.Stderr(), 40))
	}
}

// Signal sends sig to the program: SIGSTOP and SIGCONT freeze and thaw a
// peer as a hung process would be, SIGTERM asks it to end.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill ends the program at once (SIGKILL where there are signals), as a
// crash would, and waits until it has exited.
func (p *Process) Kill() { p.kill() }

// ExitErr is the error Wait returned, once the program has exited.
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
