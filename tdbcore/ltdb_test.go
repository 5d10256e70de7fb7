package tdbcore

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

func TestLtdbLayout(t *testing.T) {
	h := LtdbHeader{RSN: 0x0102030405060708, DMaster: 0x11223344, Reserved1: 0x55667788, Flags: LtdbFlagMigratedWithData | LtdbFlagAutomatic}
	want := []byte{
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // rsn
		0x44, 0x33, 0x22, 0x11, // dmaster
		0x88, 0x77, 0x66, 0x55, // reserved1
		0x00, 0x00, 0x05, 0x00, // flags
		0, 0, 0, 0, // padding
	}
	if got := h.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("encoding %x, want %x", got, want)
	}
	v := JoinLtdb(h, []byte("data"))
	h2, d, err := SplitLtdb(v)
	if err != nil || h2 != h || string(d) != "data" {
		t.Fatalf("split: %+v %q %v", h2, d, err)
	}
	if _, _, err := SplitLtdb(make([]byte, 23)); err == nil {
		t.Fatal("short value accepted")
	}
	// A 20-byte (32-bit) header holds all the fields.
	h3, d3, err := SplitLtdbSize(JoinLtdbSize(h, []byte("x"), LtdbHeaderSize32), LtdbHeaderSize32)
	if err != nil || h3 != h || string(d3) != "x" {
		t.Fatalf("32-bit: %+v %q %v", h3, d3, err)
	}
	if h4, d4, _ := SplitLtdbSize([]byte("abc"), 0); h4.DMaster != 0xffffffff || string(d4) != "abc" {
		t.Fatalf("no header: %+v %q", h4, d4)
	}
	if s := DumpString([]byte("a\"b\\c\x00\xff ~")); s != `a\22b\5Cc\00\FF ~` {
		t.Fatalf("DumpString: %s", s)
	}
}

func TestLtdbRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := LtdbHeader{
			RSN:       rapid.Uint64().Draw(t, "rsn"),
			DMaster:   rapid.Uint32().Draw(t, "dmaster"),
			Reserved1: rapid.Uint32().Draw(t, "reserved"),
			Flags:     rapid.Uint32().Draw(t, "flags"),
		}
		data := rapid.SliceOf(rapid.Byte()).Draw(t, "data")
		got, d, err := SplitLtdb(JoinLtdb(h, data))
		if err != nil || got != h || !bytes.Equal(d, data) {
			t.Fatalf("round trip: %+v %x %v", got, d, err)
		}
	})
}
