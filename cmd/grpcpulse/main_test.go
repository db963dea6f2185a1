package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
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
