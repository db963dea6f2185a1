package ccore_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/grpcpulse/grpcpulse/internal/peers/peertest"
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
	out, err := exec.Command(python, "-c", "import grpc; print(grpc.__version__)").CombinedOutput()
	if err != nil {
		// As the grpc-js peers run npm ci, install the C-core peer on a
		// machine that lacks it, so that `go test ./...` is the whole
		// set-up; only where that is impossible do the tests fail.
		if ierr := installGRPCIO(); ierr != nil {
			return fmt.Errorf("%s cannot import grpc (%v), and installing python3-grpcio failed: %w", python, err, ierr)
		}
		if out, err = exec.Command(python, "-c", "import grpc; print(grpc.__version__)").CombinedOutput(); err != nil {
			return fmt.Errorf("%s cannot import grpc after installing python3-grpcio: %w\n%s", python, err, out)
		}
	}
	pyVersion = strings.TrimSpace(string(out))
	if !strings.HasPrefix(pyVersion, cCoreMinor) {
		return fmt.Errorf("%s has grpcio %s, want %sx: the wire notes in these tests are for that line; update them",
			python, pyVersion, cCoreMinor)
	}
	return nil
}

// installGRPCIO installs Debian's python3-grpcio with apt-get, once across
// concurrent test binaries. It needs root, as on this project's machines.
func installGRPCIO() error {
	unlock, err := peertest.LockFile(filepath.Join(os.TempDir(), "grpcpulse-python3-grpcio.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if exec.Command(python, "-c", "import grpc").Run() == nil {
		return nil // another test binary installed it meanwhile
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "python3-grpcio"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Event and Peer are the shared harness's.
type (
	Event = peertest.Event
	Peer  = peertest.Peer
)

// startPeer runs `/usr/bin/python3 testdata/<script> args...`. C-core's
// keepalive traces (GRPC_TRACE) go to its stderr.
func startPeer(t *testing.T, script string, args ...string) *Peer {
	t.Helper()
	requirePython(t)
	return peertest.Start(t, peertest.Program{
		Name:    script,
		Path:    python,
		Args:    append([]string{"-u", filepath.Join(pyDir, script)}, args...),
		Dir:     pyDir,
		Env:     []string{"GRPC_VERBOSITY=INFO", "GRPC_TRACE=http_keepalive", "PYTHONDONTWRITEBYTECODE=1"},
		Version: "grpcio " + pyVersion,
	})
}
