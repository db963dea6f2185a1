package foreign

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// GRPCJSLine is the @grpc/grpc-js release line js/package-lock.json pins.
const GRPCJSLine = "1.14."

//go:embed js/*.js js/package.json js/package-lock.json
var jsFiles embed.FS

var (
	nodeLookup  lookup
	nodeScripts string // the grpc-js peer programs, inside the npm project
)

// Node returns node with the npm packages of js/package-lock.json
// installed (@grpc/grpc-js GRPCJSLine): Dir is that npm project, in the
// user's cache directory. The first call on a machine runs npm ci there,
// once across concurrent test binaries; later ones reuse it.
func Node(t testing.TB) Runtime {
	t.Helper()
	return nodeLookup.get(t, findNode)
}

func findNode() (Runtime, error) {
	const how = "install Node.js 18 or later with npm (apt-get install nodejs npm)"
	node, err := exec.LookPath("node")
	if err != nil {
		return Runtime{}, absent("", "grpc-js peer: node not found on PATH; %s", how)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return Runtime{}, absent("", "grpc-js peer: npm not found on PATH; %s", how)
	}
	out, err := exec.Command(node, "--version").Output()
	m := regexp.MustCompile(`^v(\d+)\.`).FindSubmatch(out)
	if err != nil || m == nil {
		return Runtime{}, absent(string(out), "grpc-js peer: %s --version failed (%v); %s", node, err, how)
	}
	if major, _ := strconv.Atoi(string(m[1])); major < 18 {
		return Runtime{}, absent("", "grpc-js peer: node is %s; %s", strings.TrimSpace(string(out)), how)
	}
	files, err := embedded(jsFiles, "js")
	if err != nil {
		return Runtime{}, err
	}
	project := map[string][]byte{"package.json": files["package.json"], "package-lock.json": files["package-lock.json"]}
	root, err := cacheRoot()
	if err != nil {
		return Runtime{}, err
	}
	dir, err := prepared(root, "grpcjs-"+hashFiles(project), func(tmp string) error {
		if err := writeFiles(tmp, project); err != nil {
			return err
		}
		cmd := exec.Command(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			return absent(string(out), "grpc-js peer: npm ci in %s failed (%v), it needs the npm registry or npm's cache; %s",
				tmp, err, strings.TrimSpace(lastLine(string(out))))
		}
		return nil
	})
	if err != nil {
		return Runtime{}, err
	}
	var pkg struct{ Version string }
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@grpc", "grpc-js", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		return Runtime{}, fmt.Errorf("grpc-js peer: read the installed @grpc/grpc-js version in %s: %v", dir, err)
	}
	if !strings.HasPrefix(pkg.Version, GRPCJSLine) {
		return Runtime{}, fmt.Errorf("grpc-js peer: %s has @grpc/grpc-js %s, want %sx", dir, pkg.Version, GRPCJSLine)
	}
	scripts := map[string][]byte{}
	for name, b := range files {
		if strings.HasSuffix(name, ".js") {
			scripts[name] = b
		}
	}
	// Inside the project, so that require('@grpc/grpc-js') finds its
	// node_modules by Node's own lookup.
	nodeScripts, err = prepared(dir, "peers-"+hashFiles(scripts), func(tmp string) error { return writeFiles(tmp, scripts) })
	if err != nil {
		return Runtime{}, err
	}
	return Runtime{Path: node, Version: pkg.Version, Dir: dir}, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// JSServerConfig configures a grpc-js server.
type JSServerConfig struct {
	// Args are grpc-js server options for new grpc.Server(...), such as
	// grpc.max_connection_idle_ms, grpc.max_connection_age_ms,
	// grpc.max_connection_age_grace_ms, grpc.keepalive_time_ms,
	// grpc.keepalive_timeout_ms or grpc.keepalive_permit_without_calls.
	Args Args
	// Env is added to the environment; it may override the default
	// traces (GRPC_VERBOSITY=DEBUG, GRPC_TRACE=transport,keepalive,
	// subchannel,server,server_call), which go to stderr.
	Env []string
}

// StartJSServer starts a @grpc/grpc-js server of grpc.health.v1.Health and
// grpc.testing.TestService on 127.0.0.1, and returns once it listens.
func StartJSServer(t testing.TB, cfg JSServerConfig) *Server {
	t.Helper()
	rt := Node(t)
	return startServer(t, nodeProgram(rt, "server.js", mustJSON(t, map[string]any{"options": cfg.Args}), cfg.Env))
}

// JSClientConfig configures a grpc-js client.
type JSClientConfig struct {
	// Target is the server's address, host:port.
	Target string
	// Args are grpc-js channel options, such as grpc.keepalive_time_ms,
	// grpc.keepalive_timeout_ms or grpc.keepalive_permit_without_calls.
	Args Args
	// Call is the first call to make (CallNone: none).
	Call Call
	// ExitWhenIdle makes a client that reads no commands: grpc-js unrefs
	// its HTTP/2 session while no call is active, so once the channel is
	// connected and its calls are done, Node exits with the connection
	// open, as a short-lived Node program that forgets to close its
	// channel does. Process.WaitExit waits for that.
	ExitWhenIdle bool
	// Env is added to the environment, as for JSServerConfig.
	Env []string
}

// StartJSClient starts a @grpc/grpc-js client. grpc-js's ERROR log lines
// (such as "rejected by server because of excess pings") are reported as
// "log" events.
func StartJSClient(t testing.TB, cfg JSClientConfig) *Client {
	t.Helper()
	rt := Node(t)
	conf := map[string]any{"target": cfg.Target, "options": cfg.Args, "call": string(cfg.Call), "exitWhenIdle": cfg.ExitWhenIdle}
	return &Client{Process: Start(t, nodeProgram(rt, "client.js", mustJSON(t, conf), cfg.Env))}
}

func nodeProgram(rt Runtime, script, conf string, env []string) Program {
	return Program{
		Name:    script,
		Path:    rt.Path,
		Args:    []string{filepath.Join(nodeScripts, script), conf},
		Dir:     nodeScripts,
		Env:     append([]string{"GRPC_VERBOSITY=DEBUG", "GRPC_TRACE=transport,keepalive,subchannel,server,server_call"}, env...),
		Version: "grpc-js " + rt.Version,
	}
}
