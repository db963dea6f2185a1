package foreign

import (
	"archive/zip"
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// JavaLine is the grpc-java release line the Java peers are written for:
// Debian 12's libgrpc-java, on Netty from libnetty-java.
const JavaLine = "1.41."

// JavaJarDir is where Debian installs Java libraries.
const JavaJarDir = "/usr/share/java"

// javaJars are the jars the peers compile and run against, by Debian's
// unversioned names. grpc-core needs perfmark-api at run time, although
// libgrpc-java does not depend on libperfmark-java.
var javaJars = []string{
	"grpc-api", "grpc-core", "grpc-netty", "grpc-stub", "grpc-context",
	"guava", "perfmark-api",
	"netty-common", "netty-buffer", "netty-transport", "netty-codec", "netty-codec-http",
	"netty-codec-http2", "netty-handler", "netty-resolver",
}

//go:embed java/Peer.java
var javaSource []byte

var javaLookup lookup

// Java returns java with the Java peer compiled: Dir holds its classes,
// in the user's cache directory (compiled once per source and jar set),
// and ClassPath is Dir and grpc-java's jars.
func Java(t testing.TB) Runtime {
	t.Helper()
	return javaLookup.get(t, findJava)
}

func findJava() (Runtime, error) {
	const how = "apt-get install openjdk-17-jdk-headless libgrpc-java libnetty-java libperfmark-java"
	java, err := exec.LookPath("java")
	if err != nil {
		return Runtime{}, absent("", "grpc-java peer: java not found on PATH; %s", how)
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		return Runtime{}, absent("", "grpc-java peer: javac not found on PATH; %s", how)
	}
	var jars, real []string
	for _, name := range javaJars {
		p := filepath.Join(JavaJarDir, name+".jar")
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return Runtime{}, absent("", "grpc-java peer: %s not found; %s", p, how)
		}
		jars = append(jars, p)
		real = append(real, r)
	}
	v, err := jarVersion(filepath.Join(JavaJarDir, "grpc-core.jar"))
	if err != nil {
		return Runtime{}, err
	}
	if !strings.HasPrefix(v, JavaLine) {
		return Runtime{}, absent("", "grpc-java peer: %s has grpc-java %s, the tests are written for %sx; %s (Debian 12)",
			JavaJarDir, v, JavaLine, how)
	}
	cp := strings.Join(jars, string(os.PathListSeparator))
	root, err := cacheRoot()
	if err != nil {
		return Runtime{}, err
	}
	key := hashFiles(map[string][]byte{"Peer.java": javaSource}, append(real, javac)...)
	dir, err := prepared(root, "java-"+key, func(tmp string) error {
		src := filepath.Join(tmp, "Peer.java")
		if err := os.WriteFile(src, javaSource, 0o644); err != nil {
			return err
		}
		out, err := exec.Command(javac, "-nowarn", "-d", tmp, "-cp", cp, src).CombinedOutput()
		if err != nil {
			return fmt.Errorf("grpc-java peer: javac %s: %v: %s", src, err, oneLine(string(out)))
		}
		return nil
	})
	if err != nil {
		return Runtime{}, err
	}
	return Runtime{Path: java, Version: v, Dir: dir, ClassPath: dir + string(os.PathListSeparator) + cp}, nil
}

// jarVersion reads Implementation-Version from a jar's manifest.
func jarVersion(jar string) (string, error) {
	z, err := zip.OpenReader(jar)
	if err != nil {
		return "", err
	}
	defer z.Close()
	f, err := z.Open("META-INF/MANIFEST.MF")
	if err != nil {
		return "", fmt.Errorf("%s: %v", jar, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Implementation-Version:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s: no Implementation-Version in its manifest", jar)
}

// JavaZero passes zero to a grpc-java setting, which a zero Duration
// leaves at grpc-java's default (PermitKeepAliveTime: JavaZero permits
// keepalive PINGs at any rate).
const JavaZero = time.Duration(-1)

// JavaServerConfig configures a grpc-java server: each field is the
// NettyServerBuilder setting of the same name. A zero Duration keeps
// grpc-java's default; JavaZero sets zero.
//
// grpc-java 1.41 clamps what it is given: keepAliveTime to at least 1ms,
// keepAliveTimeout to at least 499µs, maxConnectionIdle and
// maxConnectionAge to at least 1s. It adds ±10% jitter to maxConnectionAge.
// Its defaults: keepAliveTime 2h, keepAliveTimeout 20s,
// permitKeepAliveTime 5m, permitKeepAliveWithoutCalls false, no age or
// idle limit, and an infinite age grace.
type JavaServerConfig struct {
	KeepAliveTime               time.Duration
	KeepAliveTimeout            time.Duration
	PermitKeepAliveTime         time.Duration
	PermitKeepAliveWithoutCalls bool
	MaxConnectionAge            time.Duration
	MaxConnectionAgeGrace       time.Duration
	MaxConnectionIdle           time.Duration
	// JVMArgs are added before the class (system properties, for one).
	JVMArgs []string
}

// StartJavaServer starts a grpc-java (Netty) server of
// grpc.health.v1.Health and grpc.testing.TestService on 127.0.0.1, and
// returns once it listens.
func StartJavaServer(t testing.TB, cfg JavaServerConfig) *Server {
	t.Helper()
	rt := Java(t)
	args := []string{"server"}
	args = javaDuration(args, "keepAliveTime", cfg.KeepAliveTime)
	args = javaDuration(args, "keepAliveTimeout", cfg.KeepAliveTimeout)
	args = javaDuration(args, "permitKeepAliveTime", cfg.PermitKeepAliveTime)
	if cfg.PermitKeepAliveWithoutCalls {
		args = append(args, "permitKeepAliveWithoutCalls=true")
	}
	args = javaDuration(args, "maxConnectionAge", cfg.MaxConnectionAge)
	args = javaDuration(args, "maxConnectionAgeGrace", cfg.MaxConnectionAgeGrace)
	args = javaDuration(args, "maxConnectionIdle", cfg.MaxConnectionIdle)
	return startServer(t, javaProgram(rt, cfg.JVMArgs, args))
}

// JavaClientConfig configures a grpc-java client: each Duration and the
// bool are the NettyChannelBuilder settings of the same name, as for
// JavaServerConfig.
//
// grpc-java 1.41 clamps keepAliveTime to at least 10s and
// keepAliveTimeout to at least 10ms; a client cannot ping faster. By
// default it sends no keepalive PING, and none without calls.
type JavaClientConfig struct {
	// Target is the server's address, host:port.
	Target                string
	KeepAliveTime         time.Duration
	KeepAliveTimeout      time.Duration
	KeepAliveWithoutCalls bool
	// Call is the first call to make (CallNone: none).
	Call Call
	// JVMArgs are added before the class.
	JVMArgs []string
}

// StartJavaClient starts a grpc-java (Netty) client, plaintext. Its calls
// wait for the channel to be ready (withWaitForReady).
func StartJavaClient(t testing.TB, cfg JavaClientConfig) *Client {
	t.Helper()
	rt := Java(t)
	args := []string{"client", "target=" + cfg.Target}
	if cfg.Call != CallNone {
		args = append(args, "call="+string(cfg.Call))
	}
	args = javaDuration(args, "keepAliveTime", cfg.KeepAliveTime)
	args = javaDuration(args, "keepAliveTimeout", cfg.KeepAliveTimeout)
	if cfg.KeepAliveWithoutCalls {
		args = append(args, "keepAliveWithoutCalls=true")
	}
	return &Client{Process: Start(t, javaProgram(rt, cfg.JVMArgs, args))}
}

func javaDuration(args []string, name string, d time.Duration) []string {
	switch {
	case d == 0:
		return args
	case d < 0:
		d = 0
	}
	return append(args, name+"="+strconv.FormatInt(int64(d), 10))
}

func javaProgram(rt Runtime, jvm, args []string) Program {
	// A small, quickly started JVM: the peers do little work, and the
	// machine's cores are shared with the tests around them.
	all := []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m"}
	all = append(all, jvm...)
	all = append(all, "-cp", rt.ClassPath, "Peer")
	return Program{
		Name:    "grpc-java " + args[0],
		Path:    rt.Path,
		Args:    append(all, args...),
		Version: "grpc-java " + rt.Version,
	}
}
