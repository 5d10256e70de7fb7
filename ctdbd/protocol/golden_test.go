package protocol

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

// TestGoldenRequests checks, without the ctdb tool, that every request
// captured from it decodes (header, body and typed payload) and re-encodes
// to the same bytes.
func TestGoldenRequests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d golden files, want at least 30", len(files))
	}
	for _, file := range files {
		pkts, err := readGolden(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkts) == 0 && filepath.Base(file) != "listnodes.hex" {
			t.Errorf("%s: no packets", file)
		}
		for i, p := range pkts {
			checkRoundTrip(t, fmt.Sprintf("%s: packet %d", filepath.Base(file), i), p)
		}
	}
}

// TestGoldenTyped checks the typed payloads of a few captured requests.
func TestGoldenTyped(t *testing.T) {
	tests := []struct {
		file  string
		index int // packet number in the file
		op    Opcode
		want  Payload
	}{
		{"pnn.hex", 0, ControlGetPNN, &Empty{}},
		{"setvar.hex", 3, ControlSetTunable, &Tunable{Value: 20, Name: "MonitorInterval"}},
		{"getvar.hex", 3, ControlGetTunable, ptr(StringN("RecoverTimeout"))},
		{"setdebug.hex", 2, ControlSetDebug, ptr(Uint32(5))},
		{"ban.hex", 3, ControlSetBanState, &BanState{PNN: 1, Time: 60}},
		{"recover.hex", 4, ControlSetRecMode, ptr(Uint32(RecoveryActive))},
	}
	for _, tc := range tests {
		pkts, err := readGolden(filepath.Join("testdata", "golden", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if tc.index >= len(pkts) {
			t.Errorf("%s: only %d packets", tc.file, len(pkts))
			continue
		}
		h, p, err := Unmarshal(pkts[tc.index])
		if err != nil {
			t.Errorf("%s[%d]: %v", tc.file, tc.index, err)
			continue
		}
		c, ok := p.(*ReqControl)
		if !ok || c.Opcode != tc.op {
			t.Errorf("%s[%d]: %v %+v, want control %v", tc.file, tc.index, h.Operation, p, tc.op)
			continue
		}
		got, err := c.DecodeRequest()
		if err != nil {
			t.Errorf("%s[%d]: %v", tc.file, tc.index, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s[%d]: payload %#v, want %#v", tc.file, tc.index, got, tc.want)
		}
		// A request built by this package is the same packet.
		built, err := NewReqControl(tc.op, tc.want)
		if err != nil {
			t.Fatal(err)
		}
		built.SrvID, built.ClientID, built.Flags = c.SrvID, c.ClientID, c.Flags
		b, err := Marshal(h, built)
		if err != nil || !bytes.Equal(b, pkts[tc.index]) {
			t.Errorf("%s[%d]: built packet\n%x (%v)\nwant\n%x", tc.file, tc.index, b, err, pkts[tc.index])
		}
	}
}

func ptr[T any](v T) *T { return &v }
