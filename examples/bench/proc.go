package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// childEnv marks a process started by the suite as one of its children, so
// that the program (or the test binary) runs the child's code instead of the
// suite.
const childEnv = "GRPCPULSE_BENCH_CHILD"

// proc is a running child.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *tailBuffer
	waited chan struct{}
	err    error // from Wait, once waited is closed
}

// startProc starts this program as a child with args. The child is killed
// when ctx is done; close ends it normally.
func startProc(ctx context.Context, name string, args ...string) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.WaitDelay = 5 * time.Second
	setParentDeathSignal(cmd)
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 16), stderr: &tailBuffer{max: 8 << 10}, waited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.waited)
	}()
	return p, nil
}

func (p *proc) send(cmd string) error {
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		return p.fail(fmt.Errorf("sending %q: %w", cmd, err))
	}
	return nil
}

// start opens a measurement window and waits until it is open.
func (p *proc) start(timeout time.Duration) error {
	if err := p.send("start"); err != nil {
		return err
	}
	_, err := p.expect("started", timeout)
	return err
}

// expect waits for the next line, which must start with prefix, and returns
// the rest of it.
func (p *proc) expect(prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			<-p.waited
			return "", p.fail(fmt.Errorf("exited (%v) while the suite waited for %q", p.err, prefix))
		}
		rest, found := strings.CutPrefix(line, prefix)
		if !found {
			return "", p.fail(fmt.Errorf("said %q, want %q", line, prefix))
		}
		return strings.TrimSpace(rest), nil
	case <-t.C:
		return "", p.fail(fmt.Errorf("no %q within %v", prefix, timeout))
	}
}

func (p *proc) result(timeout time.Duration) (result, error) {
	var r result
	s, err := p.expect("result", timeout)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, p.fail(err)
	}
	return r, nil
}

func (p *proc) fail(err error) error {
	msg := strings.TrimSpace(p.stderr.String())
	if msg != "" {
		return fmt.Errorf("%s: %w\n%s", p.name, err, msg)
	}
	return fmt.Errorf("%s: %w", p.name, err)
}

// close ends the child: EOF on its stdin asks it to finish, and if it has
// not exited within a few seconds it is killed. It is safe to call more
// than once.
func (p *proc) close() error {
	_ = p.stdin.Close()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.waited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.waited
		return p.fail(errors.New("did not exit after its stdin closed; killed"))
	}
	if p.err != nil {
		return p.fail(p.err)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}
