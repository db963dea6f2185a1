package ccore_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcpulse/grpcpulse/internal/testenv"
)

// The harness: the Python interpreter with grpc, checked once per test
// binary, and the Python peer programs as child processes.

// python is the interpreter Debian's python3-grpcio installs grpc for; the
// python3 first on PATH may be another installation without it.
const python = "/usr/bin/python3"

// cCoreMinor is the grpcio (C-core) release line the wire notes in these
// tests were taken from: Debian 12's python3-grpcio.
const cCoreMinor = "1.51."

var (
	setupOnce sync.Once
	setupErr  error
	pyDir     string // absolute path of testdata/
	pyVersion string // grpc.__version__
)

// requirePython makes sure /usr/bin/python3 can import grpc and fails the
// test if it cannot.
func requirePython(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("C-core peers unavailable: %v", setupErr)
	}
}

func setup() error {
	var err error
	if pyDir, err = filepath.Abs("testdata"); err != nil {
		return err
	}
	if _, err := os.Stat(python); err != nil {
		return fmt.Errorf("these tests run gRPC C-core through Python's grpcio and need %s "+
			"(apt-get install python3-grpcio): %w", python, err)
	}
	out, err := exec.Command(python, "-c", "import grpc; print(grpc.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import grpc (apt-get install python3-grpcio): %w\n%s", python, err, out)
	}
	pyVersion = strings.TrimSpace(string(out))
	if !strings.HasPrefix(pyVersion, cCoreMinor) {
		return fmt.Errorf("%s has grpcio %s, want %sx: the wire notes in these tests are for that line; update them",
			python, pyVersion, cCoreMinor)
	}
	return nil
}

// Event is one JSON line a Python program printed on stdout.
type Event struct {
	Event    string `json:"event"`
	Port     int    `json:"port"`
	State    string `json:"state"`
	Code     int    `json:"code"`
	CodeName string `json:"codeName"`
	Details  string `json:"details"`
	Method   string `json:"method"`
}

// Peer is a running Python program.
type Peer struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when the process has exited

	mu      sync.Mutex
	events  []Event
	stdout  bytes.Buffer // every line, as printed
	stderr  bytes.Buffer
	exitErr error
}

// startPeer runs `/usr/bin/python3 testdata/<script> args...`. The process
// is killed when the test ends, and its output is logged if the test failed.
// C-core's transport traces (GRPC_TRACE) go to its stderr.
func startPeer(t *testing.T, script string, args ...string) *Peer {
	t.Helper()
	requirePython(t)
	p := &Peer{name: script, done: make(chan struct{})}
	p.cmd = exec.Command(python, append([]string{"-u", filepath.Join(pyDir, script)}, args...)...)
	p.cmd.Dir = pyDir
	p.cmd.Env = append(os.Environ(),
		"GRPC_VERBOSITY=INFO",
		"GRPC_TRACE=http_keepalive",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s (grpcio %s) stdout:\n%s\nstderr (tail):\n%s", p.name, pyVersion, p.Stdout(), tail(p.Stderr(), 80))
		}
	})
	return p
}

// Send writes one command line to the program's stdin.
func (p *Peer) Send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: write %q: %v", p.name, line, err)
	}
}

// read parses stdout until EOF, then waits for the process.
func (p *Peer) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var e Event
		jerr := json.Unmarshal([]byte(line), &e)
		p.mu.Lock()
		p.stdout.WriteString(line + "\n")
		if jerr == nil {
			p.events = append(p.events, e)
		}
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exitErr = err
	p.mu.Unlock()
	close(p.done)
}

// Events returns what the program reported so far.
func (p *Peer) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Stdout and Stderr return the program's output so far.
func (p *Peer) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *Peer) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// WaitEvent waits until the program reported an event named name that
// satisfies match (nil: any), and returns it.
func (p *Peer) WaitEvent(t *testing.T, name string, match func(Event) bool) Event {
	t.Helper()
	var found Event
	testenv.Eventually(t, func() string {
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
// satisfies match.
func (p *Peer) Has(name string, match func(Event) bool) bool {
	for _, e := range p.Events() {
		if e.Event == name && (match == nil || match(e)) {
			return true
		}
	}
	return false
}

// WaitExit closes the program's stdin, which ends it, waits for it to exit
// and fails the test unless it exited with status 0.
func (p *Peer) WaitExit(t *testing.T) {
	t.Helper()
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(testenv.Patience):
		t.Fatalf("%s did not exit within %v; stdout:\n%s", p.name, testenv.Patience, p.Stdout())
	}
	if err := p.ExitErr(); err != nil {
		t.Fatalf("%s: %v; stdout:\n%s\nstderr (tail):\n%s", p.name, err, p.Stdout(), tail(p.Stderr(), 40))
	}
}

// ExitErr is the error Wait returned, once the program has exited.
func (p *Peer) ExitErr() error {
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
