package foreign

import (
	"embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PythonPath is the interpreter Debian's python3-grpcio installs grpc for;
// the python3 first on PATH may be another installation without it.
const PythonPath = "/usr/bin/python3"

// CCoreLine is the grpcio (gRPC C-core) release line the C-core peers and
// the wire notes of the tests are written for: Debian 12's python3-grpcio.
const CCoreLine = "1.51."

//go:embed py/*.py
var pyFiles embed.FS

var pythonLookup lookup

// Python returns /usr/bin/python3 with grpcio (C-core) CCoreLine, with Dir
// holding the C-core peer programs.
func Python(t testing.TB) Runtime {
	t.Helper()
	return pythonLookup.get(t, findPython)
}

func findPython() (Runtime, error) {
	const how = "apt-get install python3-grpcio"
	if _, err := os.Stat(PythonPath); err != nil {
		return Runtime{}, absent("", "C-core peer: %s not found; %s", PythonPath, how)
	}
	out, err := exec.Command(PythonPath, "-c", "import grpc; print(grpc.__version__)").CombinedOutput()
	if err != nil {
		return Runtime{}, absent(string(out), "C-core peer: %s cannot import grpc; %s", PythonPath, how)
	}
	v := strings.TrimSpace(string(out))
	if !strings.HasPrefix(v, CCoreLine) {
		return Runtime{}, absent("", "C-core peer: %s has grpcio %s, the tests are written for %sx; %s (Debian 12)",
			PythonPath, v, CCoreLine, how)
	}
	files, err := embedded(pyFiles, "py")
	if err != nil {
		return Runtime{}, err
	}
	root, err := cacheRoot()
	if err != nil {
		return Runtime{}, err
	}
	dir, err := prepared(root, "ccore-"+hashFiles(files), func(tmp string) error { return writeFiles(tmp, files) })
	if err != nil {
		return Runtime{}, err
	}
	return Runtime{Path: PythonPath, Version: v, Dir: dir}, nil
}

// embedded returns the files of fsys's directory dir, by base name.
func embedded(fsys embed.FS, dir string) (map[string][]byte, error) {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range ents {
		b, err := fsys.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return files, nil
}

// CCoreServerConfig configures a C-core server.
type CCoreServerConfig struct {
	// Args are C-core channel arguments for grpc.server(options=...),
	// such as grpc.max_connection_age_ms, grpc.max_connection_age_grace_ms,
	// grpc.max_connection_idle_ms, grpc.keepalive_time_ms,
	// grpc.keepalive_timeout_ms, grpc.keepalive_permit_without_calls,
	// grpc.http2.min_ping_interval_without_data_ms (the string of C-core's
	// GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS),
	// grpc.http2.max_ping_strikes or grpc.http2.bdp_probe.
	Args Args
	// Workers is the size of the server's thread pool (default 64): each
	// Watch or StreamingOutputCall it serves holds one thread.
	Workers int
	// Env is added to the environment; it may override the default
	// traces (GRPC_VERBOSITY=INFO, GRPC_TRACE=http_keepalive), which go
	// to stderr.
	Env []string
}

// StartCCoreServer starts a gRPC C-core server (Python's grpcio) of
// grpc.health.v1.Health and grpc.testing.TestService on 127.0.0.1, and
// returns once it listens.
func StartCCoreServer(t testing.TB, cfg CCoreServerConfig) *Server {
	t.Helper()
	rt := Python(t)
	conf := map[string]any{"args": cfg.Args}
	if cfg.Workers > 0 {
		conf["workers"] = cfg.Workers
	}
	return startServer(t, pythonProgram(rt, "server.py", mustJSON(t, conf), cfg.Env))
}

// CCoreClientConfig configures a C-core client.
type CCoreClientConfig struct {
	// Target is the server's address, host:port.
	Target string
	// Args are C-core channel arguments, such as grpc.keepalive_time_ms,
	// grpc.keepalive_timeout_ms, grpc.keepalive_permit_without_calls or
	// grpc.http2.max_pings_without_data.
	Args Args
	// Call is the first call to make (CallNone: none).
	Call Call
	// Env is added to the environment, as for CCoreServerConfig.
	Env []string
}

// StartCCoreClient starts a gRPC C-core client (Python's grpcio). Its calls
// wait for the channel to be ready (wait_for_ready).
func StartCCoreClient(t testing.TB, cfg CCoreClientConfig) *Client {
	t.Helper()
	rt := Python(t)
	conf := map[string]any{"target": cfg.Target, "args": cfg.Args, "call": string(cfg.Call)}
	return &Client{Process: Start(t, pythonProgram(rt, "client.py", mustJSON(t, conf), cfg.Env))}
}

func pythonProgram(rt Runtime, script, conf string, env []string) Program {
	return Program{
		Name: script,
		Path: rt.Path,
		Args: []string{"-u", filepath.Join(rt.Dir, script), conf},
		Dir:  rt.Dir,
		Env: append([]string{"GRPC_VERBOSITY=INFO", "GRPC_TRACE=http_keepalive", "PYTHONDONTWRITEBYTECODE=1"},
			env...),
		Version: "grpcio " + rt.Version,
	}
}
