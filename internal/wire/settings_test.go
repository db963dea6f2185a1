package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// settingsPayload encodes settings as a SETTINGS frame's payload.
func settingsPayload(ss ...http2.Setting) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Val)
	}
	return b
}

// Each SETTINGS frame the peer sends is reported whole, in its order,
// however it is cut; its acknowledgement and the sent direction's are not.
func TestSettingsReportsThePeers(t *testing.T) {
	first := []http2.Setting{
		{ID: http2.SettingInitialWindowSize, Val: 4194303},
		{ID: http2.SettingMaxFrameSize, Val: 4194303},
		{ID: http2.SettingMaxHeaderListSize, Val: 8192},
		{ID: 0xfe03, Val: 1},
	}
	var in bytes.Buffer
	fr := http2.NewFramer(&in, nil)
	fr.WriteSettingsAck()
	fr.WriteSettings(first...)
	fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7})
	stream := in.Bytes()
	for _, cuts := range [][]byte{nil, {0}, {1, 2, 3}, {0x80}} {
		for _, dir := range []Direction{Received, Sent} {
			p := newParser(dir, false)
			rec := &recorder{}
			feedChunked(&p, stream, cuts, rec)
			want := [][]byte{settingsPayload(first...), settingsPayload(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 7})}
			if dir == Sent {
				want = nil
			}
			if len(rec.settings) != len(want) || (len(want) == 2 && (!bytes.Equal(rec.settings[0], want[0]) || !bytes.Equal(rec.settings[1], want[1]))) {
				t.Errorf("%v, cuts %v: reported %x, want %x", dir, cuts, rec.settings, want)
			}
		}
	}

	// An empty first SETTINGS is reported empty; more than the buffer holds
	// is cut to whole settings.
	for _, tc := range []struct {
		n    int
		want int
	}{{0, 0}, {12, 12}, {13, (8 + MaxDebugData) / settingLen}} {
		ss := make([]http2.Setting, tc.n)
		for i := range ss {
			ss[i] = http2.Setting{ID: http2.SettingID(0x100 + i), Val: uint32(i)}
		}
		var in bytes.Buffer
		http2.NewFramer(&in, nil).WriteSettings(ss...)
		p := newParser(Received, false)
		rec := &recorder{}
		p.feed(in.Bytes(), rec)
		if len(rec.settings) != 1 || !bytes.Equal(rec.settings[0], settingsPayload(ss[:tc.want]...)) {
			t.Errorf("%d settings: reported %x, want the first %d", tc.n, rec.settings, tc.want)
		}
	}
}

// LastDataWrite moves when a Write carries DATA, once tracking is on, and
// not for a Write of other frames.
func TestConnLastDataWrite(t *testing.T) {
	c, s := tcpPair(t)
	go func() { _, _ = readN(s, 1<<20) }()
	wc := NewConn(c, true, &countingSink{})
	fr := http2.NewFramer(wc, nil)
	if _, err := wc.Write([]byte(clientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, false, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if !wc.LastDataWrite().IsZero() {
		t.Fatalf("LastDataWrite = %v before tracking was on", wc.LastDataWrite())
	}
	wc.TrackDataWrites()
	before := time.Now()
	if err := fr.WriteData(1, false, []byte("x")); err != nil {
		t.Fatal(err)
	}
	at := wc.LastDataWrite()
	if at.Before(before) || at.After(time.Now()) {
		t.Fatalf("LastDataWrite = %v, want between %v and now", at, before)
	}
	if err := fr.WritePing(false, [8]byte{}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteWindowUpdate(0, 100); err != nil {
		t.Fatal(err)
	}
	if got := wc.LastDataWrite(); !got.Equal(at) {
		t.Fatalf("LastDataWrite moved to %v on a Write without DATA", got)
	}
	// DATA split across Writes counts on the Write that carries its header.
	var b bytes.Buffer
	http2.NewFramer(&b, nil).WriteData(1, false, bytes.Repeat([]byte{1}, 100))
	if _, err := wc.Write(b.Bytes()[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Write(b.Bytes()[5:]); err != nil {
		t.Fatal(err)
	}
	if got := wc.LastDataWrite(); !got.After(at) {
		t.Fatalf("LastDataWrite = %v after a split DATA frame, want after %v", got, at)
	}
}
