package protocol

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets check that no input makes a decoder panic or allocate
// without bound, and that whatever decodes re-encodes to a canonical form:
// encode(decode(encode(decode(x)))) == encode(decode(x)).

func FuzzUnmarshal(f *testing.F) {
	addSeeds(f, "FuzzUnmarshal")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		h, p, err := Unmarshal(pkt)
		if err != nil {
			return
		}
		b1, err := Marshal(h, p)
		if err != nil {
			// Only values the wire cannot carry fail to encode, and a
			// decoded packet never holds one.
			t.Fatalf("re-encode: %v", err)
		}
		h2, p2, err := Unmarshal(b1)
		if err != nil {
			t.Fatalf("decode of re-encoded packet: %v\n%x", err, b1)
		}
		b2, err := Marshal(h2, p2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("not canonical:\n%x\n%x (%v)", b1, b2, err)
		}
		switch p := p.(type) {
		case *ReqControl:
			checkPayloadCanonical(t, p.Data, func() (Payload, error) { return RequestPayload(p.Opcode) })
		case *ReqMessage:
			checkPayloadCanonical(t, p.Data, func() (Payload, error) { return MessagePayload(p.SrvID) })
		}
	})
}

func FuzzControlPayload(f *testing.F) {
	for _, op := range Opcodes() {
		for _, reply := range []bool{false, true} {
			for _, seed := range samplePayloads(op, reply) {
				f.Add(uint32(op), reply, seed)
			}
		}
	}
	f.Fuzz(func(t *testing.T, op uint32, reply bool, data []byte) {
		if reply {
			checkPayloadCanonical(t, data, func() (Payload, error) { return ReplyPayload(Opcode(op)) })
		} else {
			checkPayloadCanonical(t, data, func() (Payload, error) { return RequestPayload(Opcode(op)) })
		}
	})
}

func FuzzMessagePayload(f *testing.F) {
	for _, m := range sampleMessages() {
		data, err := MarshalPayload(m.p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.srvid, data)
	}
	f.Fuzz(func(t *testing.T, srvid uint64, data []byte) {
		checkPayloadCanonical(t, data, func() (Payload, error) { return MessagePayload(srvid) })
	})
}

func FuzzSplitLTDB(f *testing.F) {
	f.Add(RecDataWithHeader(0, LTDBHeader{RSN: 3, DMaster: 1, Flags: RecFlagMigratedWithData}, nil, []byte("value")).Data)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, value []byte) {
		h, rest, err := SplitLTDB(value)
		if err != nil {
			if len(value) >= LTDBHeaderSize {
				t.Fatalf("%d-byte value refused: %v", len(value), err)
			}
			return
		}
		again := append(h.Bytes(), rest...)
		if !bytes.Equal(again[:20], value[:20]) || !bytes.Equal(again[24:], value[24:]) {
			t.Fatalf("re-encode changed the value:\n%x\n%x", value, again)
		}
	})
}

// checkPayloadCanonical decodes data with a fresh payload from mk; if it
// decodes, encoding must succeed and be stable under another round trip.
func checkPayloadCanonical(t *testing.T, data []byte, mk func() (Payload, error)) {
	t.Helper()
	p, err := mk()
	if err != nil {
		return
	}
	if UnmarshalPayload(data, p) != nil {
		return
	}
	b1, err := MarshalPayload(p)
	if err != nil {
		t.Fatalf("%T: re-encode: %v", p, err)
	}
	p2, _ := mk()
	if err := UnmarshalPayload(b1, p2); err != nil {
		t.Fatalf("%T: decode of re-encoded payload: %v\n%x", p, err, b1)
	}
	b2, err := MarshalPayload(p2)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("%T not canonical:\n%x\n%x (%v)", p, b1, b2, err)
	}
}

// addSeeds adds the golden packets as seeds of a packet fuzz target (the
// committed corpus under testdata/fuzz holds more).
func addSeeds(f *testing.F, _ string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.hex"))
	for _, file := range files {
		pkts, err := readGolden(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range pkts {
			f.Add(p)
		}
	}
}

// TestWriteFuzzCorpus writes the seed corpora under testdata/fuzz when run
// with -update: sample packets of every operation and sample payloads.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz seed corpora")
	}
	write := func(target string, i int, args ...any) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", a)
			case uint32:
				fmt.Fprintf(&b, "uint32(%d)\n", a)
			case uint64:
				fmt.Fprintf(&b, "uint64(%d)\n", a)
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", a)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range samplePackets(t) {
		write("FuzzUnmarshal", i, p)
	}
	n := 0
	for _, op := range Opcodes() {
		for _, reply := range []bool{false, true} {
			for _, seed := range samplePayloads(op, reply) {
				write("FuzzControlPayload", n, uint32(op), reply, seed)
				n++
			}
		}
	}
	for i, m := range sampleMessages() {
		data, err := MarshalPayload(m.p)
		if err != nil {
			t.Fatal(err)
		}
		write("FuzzMessagePayload", i, m.srvid, data)
	}
	write("FuzzSplitLTDB", 0, RecDataWithHeader(0, LTDBHeader{RSN: 3, DMaster: 1}, nil, []byte("v")).Data)
}
