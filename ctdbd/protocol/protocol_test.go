package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderBytes(t *testing.T) {
	b, err := Marshal(Header{Generation: 7, DestNode: CurrentNode, SrcNode: 2, ReqID: 9}, &ReqControl{Opcode: ControlGetPNN})
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, ""+
		"40000000 42445443 01000000 07000000 07000000 010000f0 02000000 09000000"+ // header
		"23000000 00000000 0000000000000000 00000000 00000000 00000000"+ // opcode 35, pad, srvid, client_id, flags, datalen
		"00000000") // padding to 64
	if !bytes.Equal(b, want) {
		t.Fatalf("got\n%x\nwant\n%x", b, want)
	}
	if string(b[4:8]) != "BDTC" {
		t.Errorf("magic bytes %q", b[4:8])
	}
}

// TestBodyOffsets checks where each operation's variable data starts, the
// packet lengths ctdbd would use (sizeof of its structs, padded to 8), and
// that each decodes back.
func TestBodyOffsets(t *testing.T) {
	data := []byte("XYZ")
	tests := []struct {
		p       Packet
		dataOff int
		length  int
	}{
		{&ReqCall{Key: data}, 56, 64},
		{&ReplyCall{Data: data}, 40, 48},
		{&ReplyCall{}, -1, 48},
		{&ReqDMaster{Key: data}, 60, 72},
		{&ReplyDMaster{Key: data}, 56, 64},
		{&ReplyError{Msg: data}, 40, 48},
		{&ReplyError{}, -1, 48},
		{&ReqMessage{Data: data}, 44, 48},
		{&ReqControl{Data: data}, 60, 64},
		{&ReplyControl{Data: data}, 44, 48},
		{&ReplyControl{}, -1, 48},
		{&ReqKeepalive{Version: 1, Uptime: 2}, -1, 40},
		{&ReqKeepalive{Bare: true}, -1, 32},
		{&ReqTunnel{Data: data}, 48, 56},
		{&ReqTunnel{}, -1, 56},
	}
	for _, tc := range tests {
		b, err := Marshal(Header{}, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		name := tc.p.Operation().String()
		if len(b) != tc.length || int(order.Uint32(b)) != tc.length {
			t.Errorf("%s: length %d (field %d), want %d", name, len(b), order.Uint32(b), tc.length)
		}
		if tc.dataOff >= 0 && !bytes.Equal(b[tc.dataOff:tc.dataOff+3], data) {
			t.Errorf("%s: data not at offset %d:\n%x", name, tc.dataOff, b)
		}
		if order.Uint32(b[16:]) != uint32(tc.p.Operation()) {
			t.Errorf("%s: operation field %d", name, order.Uint32(b[16:]))
		}
		_, p, err := Unmarshal(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(p, tc.p) {
			t.Errorf("%s: decoded %#v, want %#v", name, p, tc.p)
		}
	}
}

func TestRecordFlagsTrailer(t *testing.T) {
	b, err := Marshal(Header{}, &ReqDMaster{DBID: 1, RSN: 2, DMaster: 3, Key: []byte("k"), Data: []byte("dd"), RecordFlags: 0x10000})
	if err != nil {
		t.Fatal(err)
	}
	// db_id at 32, pad, rsn at 40, dmaster 48, keylen 52, datalen 56, key 60, data 61, flags 63.
	if order.Uint64(b[40:]) != 2 || order.Uint32(b[48:]) != 3 || order.Uint32(b[63:]) != 0x10000 {
		t.Fatalf("layout:\n%x", b)
	}
	// A sender without the trailer (datalen exactly fills the packet).
	short := append([]byte(nil), b[:63]...)
	order.PutUint32(short, 63)
	_, p, err := Unmarshal(short)
	if err != nil {
		t.Fatal(err)
	}
	if p.(*ReqDMaster).RecordFlags != 0 || string(p.(*ReqDMaster).Data) != "dd" {
		t.Errorf("decoded %+v", p)
	}
}

func TestReplyControlErrMsg(t *testing.T) {
	b, err := Marshal(Header{}, &ReplyControl{Status: -1, ErrMsg: "boo"})
	if err != nil {
		t.Fatal(err)
	}
	// ctdbd sends errorlen = strlen, no NUL.
	if order.Uint32(b[40:]) != 3 || string(b[44:47]) != "boo" || len(b) != 48 {
		t.Fatalf("layout:\n%x", b)
	}
	// CTDB's client library sends the NUL and counts it.
	order.PutUint32(b[40:], 4)
	_, p, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.(*ReplyControl).ErrMsg != "boo" {
		t.Errorf("errmsg %q", p.(*ReplyControl).ErrMsg)
	}
}

func TestPayloadSizes(t *testing.T) {
	tests := []struct {
		p    Payload
		size int
	}{
		{&Statistics{}, 488},
		{&StatisticsList{Stats: make([]Statistics, 2)}, 8 + 2*488},
		{&TunableList{}, 248},
		{&Uptime{}, 64},
		{&SockAddr{}, 28},
		{&Connection{}, 56},
		{&NodeMap{Nodes: make([]NodeAndFlags, 3)}, 4 + 3*36},
		{&VNNMap{Map: []uint32{0, 1}}, 16},
		{&DBMap{DBs: make([]DBID, 2)}, 4 + 2*8},
		{&PublicIPList{IPs: make([]PublicIP, 2)}, 4 + 2*32},
		{&IfaceList{Ifaces: make([]Iface, 2)}, 4 + 2*24},
		{&PublicIPInfo{Ifaces: IfaceList{Ifaces: make([]Iface, 1)}}, 40 + 24},
		{&LTDBHeader{}, 24},
		{&KeyData{Key: []byte("ab")}, 4 + 4 + 24 + 4 + 2},
		{&TraverseStart{}, 16},
		{&TraverseStartExt{}, 24},
		{&TraverseAll{}, 24},
		{&TraverseAllExt{}, 32},
		{&ElectionMessage{}, 32},
		{&SrvIDMessage{}, 16},
		{&DisableMessage{}, 24},
		{&BanState{}, 8},
		{&NodeFlagChange{}, 12},
		{&PIDSrvID{}, 12},
		{&DBVacuum{}, 5},
		{&PullDBExt{}, 16},
		{&TransDB{}, 8},
		{&DBStatistics{}, 464},
		{ptr(DBIDPadded(1)), 8},
		{&AddrInfo{Iface: "eth0"}, 28 + 4 + 4 + 5},
		{&Tunable{Name: "A"}, 4 + 4 + 2},
		{&TickleList{Conns: make([]Connection, 1)}, 28 + 4 + 56},
		{&RecBuffer{Records: []RecData{{Key: []byte("k"), Data: []byte("dd")}}}, 8 + 16 + 3},
		{&VarList{Names: []string{"ab", "c"}}, 4 + 5},
		{ptr(String("")), 0},
		{ptr(String("x")), 2},
	}
	for _, tc := range tests {
		b, err := MarshalPayload(tc.p)
		if err != nil {
			t.Errorf("%T: %v", tc.p, err)
			continue
		}
		if len(b) != tc.size {
			t.Errorf("%T: %d bytes, want %d", tc.p, len(b), tc.size)
		}
	}
}

func TestSockAddrBytes(t *testing.T) {
	b, _ := MarshalPayload(&sampleV4) // 10.200.0.1:4379
	want := mustHex(t, "0200 111b 0ac80001 0000000000000000 000000000000000000000000")
	if !bytes.Equal(b, want) {
		t.Errorf("v4:\n%x\nwant\n%x", b, want)
	}
	b, _ = MarshalPayload(&sampleV6) // [fd00::1:2]:445 scope 3
	want = mustHex(t, "0a00 01bd 00000000 fd000000000000000000000000010002 03000000")
	if !bytes.Equal(b, want) {
		t.Errorf("v6:\n%x\nwant\n%x", b, want)
	}
	var s SockAddr
	bad := append([]byte{7, 0}, make([]byte, 26)...)
	if err := UnmarshalPayload(bad, &s); !errors.Is(err, ErrInvalid) {
		t.Errorf("family 7: %v", err)
	}
}

func TestStatisticsOffsets(t *testing.T) {
	var s Statistics
	s.Reclock.Ctdbd.Num = 0x11
	s.Locks.Buckets[0] = 0x22
	s.HopCountBucket[0] = 0x33
	s.CallLatency.Num = 0x44
	s.NumRecoveries = 0x55
	s.StatisticsStartTime.Sec = 0x66
	s.TotalRORevokes = 0x77
	b, err := MarshalPayload(&s)
	if err != nil {
		t.Fatal(err)
	}
	for off, v := range map[int]byte{104: 0x11, 216: 0x22, 308: 0x33, 376: 0x44, 440: 0x55, 448: 0x66, 484: 0x77} {
		if b[off] != v {
			t.Errorf("offset %d: 0x%x, want 0x%x", off, b[off], v)
		}
	}
}

func TestTunableNames(t *testing.T) {
	if n := reflect.TypeOf(TunableList{}).NumField(); n != len(tunableSlots) {
		t.Fatalf("%d fields, %d names", n, len(tunableSlots))
	}
	var tl TunableList
	if !tl.Set("keepaliveinterval", 7) || tl.KeepaliveInterval != 7 {
		t.Errorf("Set: %+v", tl)
	}
	if !tl.Set("AllowMixedVersions", 1) || tl.AllowMixedVersions != 1 {
		t.Error("last slot")
	}
	if v, ok := tl.Get("KEEPALIVEINTERVAL"); !ok || v != 7 {
		t.Errorf("Get = %d, %v", v, ok)
	}
	if _, ok := tl.Get("NoSuchTunable"); ok {
		t.Error("unknown name accepted")
	}
	b, _ := MarshalPayload(&tl)
	if order.Uint32(b[4*4:]) != 7 || order.Uint32(b[61*4:]) != 1 {
		t.Errorf("wire slots:\n%x", b)
	}
}

func TestOpcodes(t *testing.T) {
	ops := Opcodes()
	if len(ops) != 145 || ops[0] != ControlProcessExists || ops[len(ops)-1] != ControlEnableNode {
		t.Fatalf("%d opcodes, %v ... %v", len(ops), ops[0], ops[len(ops)-1])
	}
	for _, op := range ops {
		_, err := RequestPayload(op)
		if op.Obsolete() != (err != nil) && op != ControlGetRecMaster {
			t.Errorf("%v (obsolete %v): payload error %v", op, op.Obsolete(), err)
		}
	}
	if ControlGetNodeMap.String() != "GET_NODEMAP" || Opcode(2).String() != "CONTROL(2)" || Opcode(2).Known() {
		t.Error("names")
	}
	if OpReqControl.String() != "REQ_CONTROL" || Operation(6).String() != "OPERATION(6)" {
		t.Error("operation names")
	}
	if RunstateRunning.String() != "RUNNING" || Runstate(99).String() != "UNKNOWN" {
		t.Error("runstate names")
	}
}

// TestTruncated feeds every proper prefix of every sample payload and
// packet to its decoder: each must fail cleanly, and one extra byte must be
// refused as trailing data.
func TestTruncated(t *testing.T) {
	for _, op := range Opcodes() {
		for _, reply := range []bool{false, true} {
			for _, b := range samplePayloads(op, reply) {
				mk := RequestPayload
				if reply {
					mk = ReplyPayload
				}
				for n := 0; n < len(b); n++ {
					p, _ := mk(op)
					if _, isStr := p.(*String); isStr {
						continue // any prefix is a (mis-terminated) string
					}
					if err := UnmarshalPayload(b[:n], p); err == nil {
						t.Errorf("%v reply=%v: %d of %d bytes accepted", op, reply, n, len(b))
					}
				}
				p, _ := mk(op)
				if _, isStr := p.(*String); isStr {
					continue // "" is no bytes; a lone NUL is "" too
				}
				if err := UnmarshalPayload(append(b[:len(b):len(b)], 0), p); err == nil {
					t.Errorf("%v reply=%v: trailing byte accepted", op, reply)
				}
			}
		}
	}
	for _, pkt := range samplePackets(t) {
		for n := 0; n < len(pkt); n++ {
			if _, _, err := Unmarshal(pkt[:n]); err == nil {
				t.Errorf("packet %x: %d bytes accepted", pkt, n)
			}
		}
	}
}

func TestHostileLengths(t *testing.T) {
	// A count that the data cannot back is refused before any allocation.
	b := []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}
	for _, p := range []Payload{&NodeMap{}, &DBMap{}, &PublicIPList{}, &IfaceList{}, &RecBuffer{}, &StatisticsList{}, &ConnectionList{}} {
		err := UnmarshalPayload(b, p)
		if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrShort) {
			t.Errorf("%T: %v", p, err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		_ = UnmarshalPayload([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}, &VNNMap{})
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("100 hostile vnn maps allocated %d bytes", d)
	}

	var prefix [4]byte
	order.PutUint32(prefix[:], MaxPacketSize+1)
	if _, err := FrameLength(prefix[:]); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
	order.PutUint32(prefix[:], 31)
	if _, err := FrameLength(prefix[:]); !errors.Is(err, ErrInvalid) {
		t.Errorf("undersized frame: %v", err)
	}
	order.PutUint32(prefix[:], 64)
	if n, err := FrameLength(prefix[:]); err != nil || n != 64 {
		t.Errorf("frame 64: %d %v", n, err)
	}
	if err := CheckTCPLength(44); !errors.Is(err, ErrInvalid) {
		t.Errorf("unaligned TCP length: %v", err)
	}
	if err := CheckTCPLength(48); err != nil {
		t.Errorf("aligned TCP length: %v", err)
	}
	if _, err := Marshal(Header{}, &ReqMessage{Data: make([]byte, MaxPacketSize)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized packet encoded: %v", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	good, _ := Marshal(Header{}, &ReqControl{Opcode: ControlPing})
	bad := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		order.PutUint32(b[off:], v)
		return b
	}
	tests := []struct {
		b    []byte
		want error
		text string
	}{
		{bad(4, 0x12345678), ErrBadMagic, "header.magic at offset 4"},
		{bad(8, 2), ErrBadVersion, "header.version at offset 8"},
		{bad(16, 6), ErrUnknown, "header.operation"},
		{bad(0, 72), ErrShort, "header.length"},
		{bad(0, 32), ErrInvalid, "header.length"},
		{bad(56, 100), ErrTooLarge, "req_control.data.len at offset 56"},
	}
	for _, tc := range tests {
		_, _, err := Unmarshal(tc.b)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("got %v, want %v mentioning %q", err, tc.want, tc.text)
		}
	}
}

func TestEncodeRefusesBadStrings(t *testing.T) {
	for _, p := range []Payload{ptr(String("a\x00b")), &Tunable{Name: "x\x00"}, &Iface{Name: "eighteen-bytes-xxx"}, &VarList{Names: []string{"a:b"}}, &VarList{Names: []string{""}}} {
		if _, err := MarshalPayload(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%#v: %v", p, err)
		}
	}
}

func TestStringForms(t *testing.T) {
	var s String
	if err := UnmarshalPayload([]byte{0}, &s); err != nil || s != "" {
		t.Errorf("lone NUL: %q %v", s, err)
	}
	if err := UnmarshalPayload([]byte("abc"), &s); !errors.Is(err, ErrInvalid) {
		t.Errorf("unterminated: %v", err)
	}
	if err := UnmarshalPayload([]byte("a\x00b\x00"), &s); !errors.Is(err, ErrInvalid) {
		t.Errorf("inner NUL: %v", err)
	}
	var v VarList
	if err := UnmarshalPayload([]byte("\x07\x00\x00\x00a::b:c\x00"), &v); err != nil || !reflect.DeepEqual(v.Names, []string{"a", "b", "c"}) {
		t.Errorf("var list: %q %v", v.Names, err)
	}
	var i Iface
	raw := append([]byte("eth1\x00garbage\x00\x00\x00\x00\x00\x00"), 1, 0, 2, 0, 0, 0)
	if err := UnmarshalPayload(raw, &i); err != nil || i != (Iface{Name: "eth1", LinkState: 1, References: 2}) {
		t.Errorf("iface: %+v %v", i, err)
	}
	var b DBVacuum
	if err := UnmarshalPayload([]byte{1, 0, 0, 0, 2}, &b); !errors.Is(err, ErrInvalid) {
		t.Errorf("bool 2: %v", err)
	}
}

func TestRecords(t *testing.T) {
	r := RecDataWithHeader(3, sampleHd, []byte("key"), []byte("val"))
	h, data, err := SplitLTDB(r.Data)
	if err != nil || h != sampleHd || string(data) != "val" {
		t.Fatalf("split: %+v %q %v", h, data, err)
	}
	b, _ := MarshalPayload(&r)
	if order.Uint32(b) != uint32(len(b)) || order.Uint32(b[12:]) != 24+3 {
		t.Errorf("rec_data:\n%x", b)
	}
	order.PutUint32(b, uint32(len(b)+1)) // length disagreeing with keylen+datalen
	if err := UnmarshalPayload(append(b, 0), &RecData{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad length: %v", err)
	}
	if _, _, err := SplitLTDB(make([]byte, 23)); !errors.Is(err, ErrShort) {
		t.Errorf("short value: %v", err)
	}
}

func TestTimeval(t *testing.T) {
	tm := time.Date(2026, 11, 21, 10, 37, 39, 123456000, time.UTC)
	tv := TimevalOf(tm)
	if tv != (Timeval{Sec: tm.Unix(), Usec: 123456}) || !tv.Time().Equal(tm) {
		t.Errorf("%+v %v", tv, tv.Time())
	}
	if TimevalOf(time.Time{}) != (Timeval{}) || !(Timeval{}).Time().IsZero() {
		t.Error("zero")
	}
}

func TestMessages(t *testing.T) {
	leader := Uint32(2)
	m, err := NewReqMessage(SrvIDLeader, &leader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.DecodeMessage()
	if err != nil || *p.(*Uint32) != 2 {
		t.Errorf("%v %v", p, err)
	}
	if _, err := (&ReqMessage{SrvID: SrvIDSambaProcess}).DecodeMessage(); !errors.Is(err, ErrUnknown) {
		t.Errorf("opaque srvid: %v", err)
	}
}
