package testenv

import (
	"io"
	"testing"

	"golang.org/x/net/http2"
)

// H2Handshake does an HTTP/2 client's part of the connection preface on c,
// through fr (a Framer on c), as a real client would: the client preface,
// an empty SETTINGS, and the ACK of the server's SETTINGS. Frames the
// server sends before its SETTINGS are read and dropped.
func H2Handshake(t testing.TB, c io.Writer, fr *http2.Framer) {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			break
		}
	}
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
}
