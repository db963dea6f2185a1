package peertest

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

// Event is one JSON line a peer program printed on stdout.
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

// Program says how to run a peer program.
type Program struct {
	Name    string   // for messages: the script's name
	Path    string   // the interpreter
	Args    []string // its arguments, the script's path among them
	Dir     string
	Env     []string // added to the environment
	Version string   // of the peer's gRPC, for messages
}

// Peer is a running peer program.
type Peer struct {
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

// Start runs the program. It is killed when the test ends, and its output
// is logged if the test failed.
func Start(t *testing.T, prog Program) *Peer {
	t.Helper()
	p := &Peer{name: prog.Name, version: prog.Version, done: make(chan struct{})}
	p.cmd = exec.Command(prog.Path, prog.Args...)
	p.cmd.Dir = prog.Dir
	p.cmd.Env = append(os.Environ(), prog.Env...)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: %v", prog.Name, err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatalf("%s: %v", prog.Name, err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", prog.Name, err)
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
			t.Logf("%s (%s) stdout:\n%s\nstderr (tail):\n%s", p.name, p.version, p.Stdout(), tail(p.Stderr(), 80))
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

// WaitExit closes the program's stdin, waits for it to exit and fails the test
// unless it exited with status 0.
func (p *Peer) WaitExit(t *testing.T) {
	t.Helper()
	// A program that waits for commands ends when its stdin does.
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
