package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	// A port below the kernel's ephemeral range: one it hands out may be
	// reused at once as the local end of another test's connection, and a
	// connect to it is then reset rather than refused.
	closed := ""
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(10000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			closed = addr
			break
		}
	}
	if closed == "" {
		t.Fatal("no free port in 10000-19999 on 127.0.0.1")
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: grpcpulse probe"},
		{[]string{"status"}, 2, "usage: grpcpulse probe"},
		{[]string{"probe"}, 2, "usage: grpcpulse probe"},
		{[]string{"probe", closed}, 1, "cannot connect"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errb); code != tc.code {
			t.Errorf("run(%q) = %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("run(%q): stderr %q lacks %q", tc.args, errb.String(), tc.want)
		}
		if tc.code == 1 && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("run(%q): stderr is not one line: %q", tc.args, errb.String())
		}
	}
}
