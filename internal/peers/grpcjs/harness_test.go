package grpcjs_test

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

// The harness: Node.js and the npm packages, once per test binary, and the
// JS peer programs as child processes.

// grpcJSMinor is the @grpc/grpc-js release line package-lock.json pins.
const grpcJSMinor = "1.14."

var (
	setupOnce sync.Once
	setupErr  error
	nodePath  string
	jsDir     string // absolute path of testdata/, the npm project
	jsVersion string // installed @grpc/grpc-js version
)

// requireNode makes sure node and the npm packages are usable and fails the
// test if they are not. It runs `npm ci` at most once per test binary, under
// a file lock shared with concurrent test binaries.
func requireNode(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("grpc-js peers unavailable: %v", setupErr)
	}
}

func setup() error {
	var err error
	if jsDir, err = filepath.Abs("testdata"); err != nil {
		return err
	}
	if nodePath, err = exec.LookPath("node"); err != nil {
		return fmt.Errorf("these tests run @grpc/grpc-js and need Node.js (node and npm on PATH): %w", err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("these tests run @grpc/grpc-js and need npm (it comes with Node.js) on PATH: %w", err)
	}
	unlock, err := lockFile(filepath.Join(jsDir, ".npm-ci.lock"))
	if err != nil {
		return fmt.Errorf("lock %s: %w", jsDir, err)
	}
	defer unlock()
	if !installed() {
		cmd := exec.Command(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = jsDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("npm ci in %s: %w\n%s", jsDir, err, out)
		}
	}
	if !installed() {
		return fmt.Errorf("npm ci in %s left no usable node_modules", jsDir)
	}
	var pkg struct{ Version string }
	b, err := os.ReadFile(filepath.Join(jsDir, "node_modules", "@grpc", "grpc-js", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		return fmt.Errorf("read the installed @grpc/grpc-js version: %w", err)
	}
	if !strings.HasPrefix(pkg.Version, grpcJSMinor) {
		return fmt.Errorf("installed @grpc/grpc-js is %s, want %sx: update package-lock.json or the tests", pkg.Version, grpcJSMinor)
	}
	jsVersion = pkg.Version
	return nil
}

// installed reports whether node_modules is at least as new as
// package-lock.json. npm writes node_modules/.package-lock.json at the end of
// every install, so its time is the install's.
func installed() bool {
	lock, err := os.Stat(filepath.Join(jsDir, "package-lock.json"))
	if err != nil {
		return false
	}
	done, err := os.Stat(filepath.Join(jsDir, "node_modules", ".package-lock.json"))
	if err != nil || done.ModTime().Before(lock.ModTime()) {
		return false
	}
	_, err = os.Stat(filepath.Join(jsDir, "node_modules", "@grpc", "grpc-js", "package.json"))
	return err == nil
}

// Event is one JSON line a JS program printed on stdout.
type Event struct {
	Event    string `json:"event"`
	Port     int    `json:"port"`
	State    string `json:"state"`
	Code     int    `json:"code"`
	CodeName string `json:"codeName"`
	Details  string `json:"details"`
	Text     string `json:"text"`
	Method   string `json:"method"`
}

// Peer is a running JS program.
type Peer struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited

	mu      sync.Mutex
	events  []Event
	stdout  bytes.Buffer // every line, as printed
	stderr  bytes.Buffer
	exitErr error
}

// startPeer runs `node testdata/<script> args...`. The process is killed
// when the test ends, and its output is logged if the test failed.
// grpc-js's transport, keepalive and subchannel traces go to its stderr.
func startPeer(t *testing.T, script string, args ...string) *Peer {
	t.Helper()
	requireNode(t)
	p := &Peer{name: script, done: make(chan struct{})}
	p.cmd = exec.Command(nodePath, append([]string{filepath.Join(jsDir, script)}, args...)...)
	p.cmd.Dir = jsDir
	p.cmd.Env = append(os.Environ(),
		"GRPC_VERBOSITY=DEBUG",
		"GRPC_TRACE=transport,keepalive,subchannel,server,server_call",
	)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
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
			t.Logf("%s (grpc-js %s) stdout:\n%s\nstderr:\n%s", p.name, jsVersion, p.Stdout(), p.Stderr())
		}
	})
	return p
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

// WaitExit waits for the program to exit on its own and fails the test
// unless it exited with status 0.
func (p *Peer) WaitExit(t *testing.T) {
	t.Helper()
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
