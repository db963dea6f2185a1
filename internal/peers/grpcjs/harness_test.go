package grpcjs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
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
	unlock, err := peertest.LockFile(filepath.Join(jsDir, ".npm-ci.lock"))
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

// Event and Peer are the shared harness's.
type (
	Event = peertest.Event
	Peer  = peertest.Peer
)

// startPeer runs `node testdata/<script> args...`. grpc-js's transport,
// keepalive and subchannel traces go to its stderr.
func startPeer(t *testing.T, script string, args ...string) *Peer {
	t.Helper()
	requireNode(t)
	return peertest.Start(t, peertest.Program{
		Name:    script,
		Path:    nodePath,
		Args:    append([]string{filepath.Join(jsDir, script)}, args...),
		Dir:     jsDir,
		Env:     []string{"GRPC_VERBOSITY=DEBUG", "GRPC_TRACE=transport,keepalive,subchannel,server,server_call"},
		Version: "grpc-js " + jsVersion,
	})
}
