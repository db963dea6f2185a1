package foreign

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// RequireEnv is the environment variable that turns a missing foreign
// runtime from a skipped test into a failed one: CI sets it to 1, so that
// a machine without a runtime cannot pass by skipping.
const RequireEnv = "GRPCPULSE_REQUIRE_PEERS"

// Required reports whether RequireEnv is set to 1.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Unavailable ends the test because something it needs is absent: it skips
// with msg, one line saying what is missing and how to get it, or, when
// Required, fails with the same line.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s=1: required)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// Runtime is a foreign runtime found on this machine.
type Runtime struct {
	// Path is the program to run: /usr/bin/python3, node, java, haproxy,
	// nginx, h2spec, prometheus or promtool.
	Path string
	// Version is what the tests depend on: grpcio's version for Python,
	// @grpc/grpc-js's for Node, grpc-java's for Java, the program's own
	// otherwise.
	Version string
	// Dir holds the runtime's prepared files, outside the source tree:
	// for Python the C-core peer programs, for Node the npm project whose
	// node_modules has the pinned packages, for Java the compiled peer
	// classes; "" otherwise.
	Dir string
	// ClassPath is, for Java, the class path of the peer classes and
	// grpc-java's jars.
	ClassPath string
}

// lookup caches one runtime's discovery per test binary: installing npm
// packages or compiling Java happens at most once.
type lookup struct {
	once sync.Once
	rt   Runtime
	msg  string // why it is unavailable: one line
	info string // details for a required run's log (command output)
	err  error  // a failure that is not an absence: the tests' own fault
}

func (l *lookup) get(t testing.TB, find func() (Runtime, error)) Runtime {
	t.Helper()
	l.once.Do(func() {
		rt, err := find()
		var u *unavailable
		switch {
		case errors.As(err, &u):
			l.msg, l.info = u.msg, u.info
		case err != nil:
			l.err = err
		default:
			l.rt = rt
		}
	})
	if l.err != nil {
		t.Fatal(l.err)
	}
	if l.msg != "" {
		if Required() && l.info != "" {
			t.Log(l.info)
		}
		Unavailable(t, l.msg)
	}
	return l.rt
}

// unavailable is a runtime's absence: msg is the one line for the skip,
// info the longer story (a failed command's output).
type unavailable struct{ msg, info string }

func (u *unavailable) Error() string { return u.msg }

func absent(info, format string, args ...any) error {
	return &unavailable{msg: oneLine(fmt.Sprintf(format, args...)), info: info}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// findProgram looks for name on PATH and then in the directories a
// package puts it in that an unprivileged user's PATH often lacks
// (/usr/sbin for haproxy and nginx).
func findProgram(name string, extra ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range extra {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", name)
}

var sbin = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

var (
	haproxyLookup, nginxLookup, h2specLookup, prometheusLookup, promtoolLookup lookup
)

// HAProxy returns the haproxy binary (Debian 12's is 2.6).
func HAProxy(t testing.TB) Runtime {
	t.Helper()
	return haproxyLookup.get(t, func() (Runtime, error) {
		p, err := findProgram("haproxy", sbin...)
		if err != nil {
			return Runtime{}, absent("", "HAProxy: %v; apt-get install haproxy", err)
		}
		out, err := exec.Command(p, "-v").CombinedOutput()
		m := regexp.MustCompile(`version (\S+)`).FindSubmatch(out)
		if err != nil || m == nil {
			return Runtime{}, absent(string(out), "HAProxy: %s -v failed (%v); apt-get install haproxy", p, err)
		}
		return Runtime{Path: p, Version: string(m[1])}, nil
	})
}

// Nginx returns the nginx binary (Debian 12's is 1.22), built with the
// HTTP/2 and gRPC proxy modules.
func Nginx(t testing.TB) Runtime {
	t.Helper()
	return nginxLookup.get(t, func() (Runtime, error) {
		p, err := findProgram("nginx", sbin...)
		if err != nil {
			return Runtime{}, absent("", "nginx: %v; apt-get install nginx", err)
		}
		out, err := exec.Command(p, "-V").CombinedOutput()
		m := regexp.MustCompile(`nginx/(\S+)`).FindSubmatch(out)
		if err != nil || m == nil {
			return Runtime{}, absent(string(out), "nginx: %s -V failed (%v); apt-get install nginx", p, err)
		}
		if !strings.Contains(string(out), "--with-http_v2_module") || strings.Contains(string(out), "--without-http_grpc_module") {
			return Runtime{}, absent(string(out), "nginx: %s lacks the http_v2 or grpc module; apt-get install nginx", p)
		}
		return Runtime{Path: p, Version: string(m[1])}, nil
	})
}

// H2SpecModule is the h2spec release the tests are written against; CI
// installs it with go install.
const H2SpecModule = "github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"

// H2Spec returns the h2spec binary, from PATH, $GOBIN or $GOPATH/bin.
func H2Spec(t testing.TB) Runtime {
	t.Helper()
	return h2specLookup.get(t, func() (Runtime, error) {
		var dirs []string
		if gobin := os.Getenv("GOBIN"); gobin != "" {
			dirs = append(dirs, gobin)
		}
		for _, gp := range filepath.SplitList(build.Default.GOPATH) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
		p, err := findProgram("h2spec", dirs...)
		if err != nil {
			return Runtime{}, absent("", "h2spec: not on PATH nor in $GOPATH/bin; go install %s", H2SpecModule)
		}
		out, _ := exec.Command(p, "--version").CombinedOutput()
		v := ""
		if m := regexp.MustCompile(`Version: (\S+)`).FindSubmatch(out); m != nil {
			v = string(m[1])
		}
		return Runtime{Path: p, Version: v}, nil
	})
}

// Prometheus returns the prometheus server binary.
func Prometheus(t testing.TB) Runtime {
	t.Helper()
	return prometheusLookup.get(t, func() (Runtime, error) { return promBinary("prometheus") })
}

// Promtool returns Prometheus's promtool.
func Promtool(t testing.TB) Runtime {
	t.Helper()
	return promtoolLookup.get(t, func() (Runtime, error) { return promBinary("promtool") })
}

func promBinary(name string) (Runtime, error) {
	p, err := findProgram(name)
	if err != nil {
		return Runtime{}, absent("", "%s: %v; apt-get install prometheus", name, err)
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		return Runtime{}, absent(string(out), "%s: %s --version failed (%v); apt-get install prometheus", name, p, err)
	}
	v := ""
	if m := regexp.MustCompile(`version (\S+)`).FindSubmatch(out); m != nil {
		v = string(m[1])
	}
	return Runtime{Path: p, Version: v}, nil
}

// cacheRoot is where prepared files go: the user's cache directory, or
// the temporary directory where there is none. Never the source tree.
func cacheRoot() (string, error) {
	if base, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(base, "grpcpulse")
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir, nil
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("grpcpulse-cache-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// hashFiles is a content hash of files, names included, for cache keys.
func hashFiles(files map[string][]byte, extra ...string) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	for _, e := range extra {
		fmt.Fprintf(h, "%s\x00", e)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// prepared returns parent/name, creating it if it is missing: build runs
// on a fresh temporary directory beside it, which is then renamed into
// place, under a lock shared with concurrent test binaries. A directory
// that exists is complete, so later runs reuse it as it is.
func prepared(parent, name string, build func(dir string) error) (string, error) {
	dir := filepath.Join(parent, name)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil // another test binary prepared it meanwhile
	}
	tmp, err := os.MkdirTemp(parent, name+".tmp-")
	if err != nil {
		return "", err
	}
	if err := build(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		if _, serr := os.Stat(dir); serr == nil {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// writeFiles writes files into dir.
func writeFiles(dir string, files map[string][]byte) error {
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
