package options_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/importer"
	"go/parser"
	gotoken "go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/options"
)

// Each option is accepted exactly where the table in the options package
// documentation says, and nowhere else.
func TestOptionTargets(t *testing.T) {
	type targets struct{ server, client, handler, interceptor bool }
	all := targets{true, true, true, true}
	handler := targets{true, true, true, false}
	bundle := targets{true, true, false, false}
	server := targets{server: true}
	client := targets{client: true}
	for _, tc := range []struct {
		name string
		opt  any
		want targets
	}{
		{"WithMeterProvider", options.WithMeterProvider(noop.NewMeterProvider()), all},
		{"WithErrorHandler", options.WithErrorHandler(func(error) {}), all},
		{"WithTracerProvider", options.WithTracerProvider(nil), handler},
		{"WithPropagators", options.WithPropagators(nil), handler},
		{"WithConnectionSpans", options.WithConnectionSpans(true), handler},
		{"WithRPCSpans", options.WithRPCSpans(true), handler},
		{"WithLogger", options.WithLogger(nil), handler},
		{"WithDiagnosisHandler", options.WithDiagnosisHandler(nil), handler},
		{"WithTransportCredentials", options.WithTransportCredentials(insecure.NewCredentials()), bundle},
		{"WithStatsHandler", options.WithStatsHandler(nil), bundle},
		{"WithServerPolicy", options.WithServerPolicy(options.DefaultServerPolicy()), server},
		{"WithServerParameters", options.WithServerParameters(keepalive.ServerParameters{}), server},
		{"WithEnforcementPolicy", options.WithEnforcementPolicy(keepalive.EnforcementPolicy{}), server},
		{"WithClientParameters", options.WithClientParameters(keepalive.ClientParameters{}), client},
		{"WithCredentialsBundle", options.WithCredentialsBundle(nil), client},
		{"WithPeerServerPolicy", options.WithPeerServerPolicy(options.DefaultServerPolicy()), client},
	} {
		_, s := tc.opt.(options.ServerOption)
		_, c := tc.opt.(options.ClientOption)
		_, h := tc.opt.(options.HandlerOption)
		_, i := tc.opt.(options.Option)
		if got := (targets{s, c, h, i}); got != tc.want {
			t.Errorf("%s is accepted by (Server, Client, handlers, interceptors) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Passing an option where it means nothing does not compile, and the
// compiler names the option type that would be needed.
func TestMisuseDoesNotCompile(t *testing.T) {
	for _, tc := range []struct {
		name, call, want string
	}{
		{"valid use compiles", `_ = options.Server(options.WithMeterProvider(nil), options.WithServerParameters(keepalive.ServerParameters{}))
	_ = stats.NewServerHandler(options.WithTracerProvider(nil))
	_ = interceptors.UnaryServerInterceptor(options.WithErrorHandler(nil))`, ""},
		{"a client option given to Server", `_ = options.Server(options.WithClientParameters(keepalive.ClientParameters{}))`, "does not implement options.ServerOption"},
		{"a server option given to Client", `_ = options.Client(options.WithEnforcementPolicy(keepalive.EnforcementPolicy{}))`, "does not implement options.ClientOption"},
		{"credentials given to a handler", `_ = stats.NewServerHandler(options.WithTransportCredentials(insecure.NewCredentials()))`, "does not implement options.HandlerOption"},
		{"keepalive given to a handler", `_ = stats.NewServerHandler(options.WithServerParameters(keepalive.ServerParameters{}))`, "does not implement options.HandlerOption"},
		{"another stats handler given to a handler", `_ = stats.NewClientHandler(options.WithStatsHandler(nil))`, "does not implement options.HandlerOption"},
		{"RPC spans given to an interceptor", `_ = interceptors.UnaryServerInterceptor(options.WithRPCSpans(true))`, "does not implement options.Option"},
		{"a tracer given to an interceptor", `_ = interceptors.StreamClientInterceptor(options.WithTracerProvider(nil))`, "does not implement options.Option"},
		{"a credentials bundle given to Server", `_ = options.Server(options.WithCredentialsBundle(nil))`, "does not implement options.ServerOption"},
		{"a bundle on a server handler", `_ = stats.NewServerHandler().WrapBundle`, "WrapBundle undefined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := typecheck(t, tc.call)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("does not compile: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("compiles; want an error saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

var (
	exportsOnce sync.Once
	exports     map[string]string
	exportsErr  error
)

// typecheck type-checks a program whose main function holds body, against
// the compiled packages, as the compiler would.
func typecheck(t *testing.T, body string) error {
	t.Helper()
	exportsOnce.Do(func() {
		cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}",
			"github.com/grpcpulse/grpcpulse/options", "github.com/grpcpulse/grpcpulse/stats",
			"github.com/grpcpulse/grpcpulse/interceptors", "google.golang.org/grpc/credentials/insecure")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if exportsErr = cmd.Run(); exportsErr != nil {
			return
		}
		exports = map[string]string{}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			if path, file, ok := strings.Cut(sc.Text(), "="); ok && file != "" {
				exports[path] = file
			}
		}
	})
	if exportsErr != nil {
		t.Fatalf("go list -export: %v", exportsErr)
	}
	src := `package misuse

import (
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcpulse/grpcpulse/interceptors"
	"github.com/grpcpulse/grpcpulse/options"
	"github.com/grpcpulse/grpcpulse/stats"
)

var (
	_ = insecure.NewCredentials
	_ keepalive.ClientParameters
	_ = interceptors.Cause
	_ = stats.NewServerHandler
)

func main() {
	` + body + `
}
`
	fset := gotoken.NewFileSet()
	f, err := parser.ParseFile(fset, "misuse.go", src, 0)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	var first error
	conf := types.Config{Importer: imp, Error: func(err error) {
		if first == nil {
			first = err
		}
	}}
	_, _ = conf.Check("misuse", fset, []*ast.File{f}, nil)
	return first
}
