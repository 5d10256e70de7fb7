package protocol

import (
	"net/netip"
	"testing"
	"time"
)

var (
	sampleV4 = SockAddr{Addr: netip.MustParseAddr("10.200.0.1"), Port: 4379}
	sampleV6 = SockAddr{Addr: netip.MustParseAddr("fd00::1:2"), Port: 445, ScopeID: 3}
	sampleHd = LTDBHeader{RSN: 0x0102030405060708, DMaster: 2, Flags: RecFlagMigratedWithData}
)

// sample returns a populated value of the same type as p.
func sample(p Payload) Payload {
	switch p.(type) {
	case *Empty:
		return &Empty{}
	case *Uint32:
		return ptr(Uint32(0x7a19d84d))
	case *Int32:
		return ptr(Int32(-2))
	case *Uint64:
		return ptr(Uint64(0xF101000000000001))
	case *Double:
		return ptr(Double(0.008521))
	case *String:
		return ptr(String("/var/lib/ctdb/volatile/locking.tdb.1"))
	case *StringN:
		return ptr(StringN("RecoverTimeout"))
	case *DBIDPadded:
		return ptr(DBIDPadded(0x6645c6c4))
	case *Statistics:
		s := sampleStatistics(time.Date(2026, 11, 21, 10, 37, 39, 0, time.UTC))
		return &s
	case *StatisticsList:
		s := sampleStatistics(time.Date(2026, 11, 21, 10, 37, 39, 0, time.UTC))
		return &StatisticsList{Stats: []Statistics{s, {}}}
	case *VNNMap:
		return &VNNMap{Generation: 412252839, Map: []uint32{0, 1, 2}}
	case *DBMap:
		return &DBMap{DBs: []DBID{{DBID: 0x4d2a432b}, {DBID: 0x62b7cc78, Flags: DBFlagsPersistent}, {DBID: 0x70450c49, Flags: DBFlagsReplicated}}}
	case *TraverseStart:
		return &TraverseStart{DBID: 1, ReqID: 2, SrvID: 0xBE00000000000003}
	case *TraverseStartExt:
		return &TraverseStartExt{DBID: 1, ReqID: 2, SrvID: 3, WithEmptyRecords: true}
	case *TraverseAll:
		return &TraverseAll{DBID: 1, ReqID: 2, PNN: 3, ClientReqID: 4, SrvID: 5}
	case *TraverseAllExt:
		return &TraverseAllExt{TraverseAll: TraverseAll{DBID: 1, ReqID: 2, PNN: 3, ClientReqID: 4, SrvID: 5}, WithEmptyRecords: true}
	case *RecData:
		r := RecDataWithHeader(7, sampleHd, []byte("key"), []byte("value"))
		return &r
	case *RecBuffer:
		return &RecBuffer{DBID: 0x7a19d84d, Records: []RecData{
			RecDataWithHeader(0, sampleHd, []byte("k1"), []byte("v1")),
			{ReqID: 1, Key: []byte("k2")},
		}}
	case *Connection:
		return &Connection{Src: sampleV6, Dst: sampleV4}
	case *Tunable:
		return &Tunable{Value: 20, Name: "MonitorInterval"}
	case *VarList:
		return &VarList{Names: []string{"SeqnumInterval", "ControlTimeout", "AllowMixedVersions"}}
	case *NodeFlagChange:
		return &NodeFlagChange{PNN: 2, NewFlags: NodeFlagsBanned, OldFlags: 0}
	case *TunableList:
		t := defaultTunables()
		return &t
	case *SockAddr:
		a := sampleV4
		return &a
	case *TickleList:
		return &TickleList{Addr: sampleV4, Conns: []Connection{{Src: sampleV4, Dst: sampleV6}}}
	case *AddrInfo:
		return &AddrInfo{Addr: sampleV4, Mask: 24, Iface: "eth1"}
	case *TransDB:
		return &TransDB{DBID: 0x7a19d84d, TID: 412252839}
	case *Uptime:
		return &Uptime{CurrentTime: Timeval{1795000000, 5}, CtdbdStartTime: Timeval{1794999000, 6}}
	case *PublicIP:
		return &PublicIP{PNN: 2, Addr: sampleV4}
	case *PublicIPList:
		return &PublicIPList{IPs: []PublicIP{{PNN: 0, Addr: sampleV4}, {PNN: UnknownPNN, Addr: sampleV6}}}
	case *NodeMap:
		return &NodeMap{Nodes: []NodeAndFlags{{PNN: 0, Addr: sampleV4}, {PNN: 1, Flags: NodeFlagsDisconnected, Addr: sampleV6}}}
	case *BanState:
		return &BanState{PNN: 1, Time: 300}
	case *NotifyData:
		return &NotifyData{SrvID: 0xFE00000000000001, Data: []byte("notify")}
	case *PublicIPInfo:
		return &PublicIPInfo{IP: PublicIP{PNN: 1, Addr: sampleV4}, ActiveIdx: 0, Ifaces: IfaceList{Ifaces: []Iface{{Name: "eth1", LinkState: 1, References: 2}}}}
	case *IfaceList:
		return &IfaceList{Ifaces: []Iface{{Name: "eth1", LinkState: 1, References: 2}, {Name: "averylonginterfac", References: 0}}}
	case *Iface:
		return &Iface{Name: "eth2", LinkState: 0, References: 1}
	case *KeyData:
		return &KeyData{DBID: 3, Header: sampleHd, Key: []byte("key")}
	case *DBStatistics:
		s := &DBStatistics{NumHotKeys: MaxHotKeys, DBRODelegations: 4}
		s.HotKeys[0] = HotKey{Count: 1, Key: []byte("refkey")}
		s.Locks.Buckets[3] = 9
		return s
	case *PullDBExt:
		return &PullDBExt{DBID: 0x7a19d84d, LMaster: LMasterAny, SrvID: SrvIDRecovery | 7}
	case *PIDSrvID:
		return &PIDSrvID{PID: 31374, SrvID: SrvIDSambaProcess}
	case *DBVacuum:
		return &DBVacuum{DBID: 9, FullVacuumRun: true}
	case *EchoData:
		return &EchoData{Timeout: 1, Buf: []byte("echo")}
	case *ElectionMessage:
		return &ElectionMessage{NumConnected: 3, PriorityTime: Timeval{1795000000, 1}, PNN: 1}
	case *SrvIDMessage:
		return &SrvIDMessage{PNN: 1, SrvID: SrvIDCTDBTool | 1}
	case *DisableMessage:
		return &DisableMessage{PNN: 1, SrvID: SrvIDCTDBTool | 2, Timeout: 20}
	}
	panic("no sample for payload type")
}

// samplePayloads returns encoded payloads for op: a zero value and a sample.
func samplePayloads(op Opcode, reply bool) [][]byte {
	mk := RequestPayload
	if reply {
		mk = ReplyPayload
	}
	p, err := mk(op)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, v := range []Payload{p, sample(p)} {
		b, err := MarshalPayload(v)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

type sampleMessage struct {
	srvid uint64
	p     Payload
}

func sampleMessages() []sampleMessage {
	var out []sampleMessage
	for _, srvid := range []uint64{
		SrvIDBanning, SrvIDElection, SrvIDLeader, SrvIDReconfigure, SrvIDReleaseIP, SrvIDTakeIP,
		SrvIDSetNodeFlags, SrvIDRecdUpdateIP, SrvIDVacuumFetch, SrvIDDetachDatabase, SrvIDMemDump,
		SrvIDGetLog, SrvIDClearLog, SrvIDPushNodeFlags, SrvIDReloadNodes, SrvIDTakeoverRun,
		SrvIDRebalanceNode, SrvIDDisableTakeoverRuns, SrvIDDisableRecoveries, SrvIDDisableIPCheck,
	} {
		p, err := MessagePayload(srvid)
		if err != nil {
			panic(err)
		}
		out = append(out, sampleMessage{srvid, sample(p)})
	}
	return out
}

// samplePackets returns one packet of every operation.
func samplePackets(t testing.TB) [][]byte {
	h := Header{Generation: 412252839, DestNode: 1, SrcNode: 0, ReqID: 2147483447}
	bodies := []Packet{
		&ReqCall{Flags: CallImmediateMigration, DBID: 0x7a19d84d, CallID: CallNullFunc, Key: []byte("key")},
		&ReplyCall{Status: 0, Data: append(sampleHd.Bytes(), "value"...)},
		&ReqDMaster{DBID: 1, RSN: 5, DMaster: 2, Key: []byte("k"), Data: []byte("data"), RecordFlags: RecFlagMigratedWithData},
		&ReplyDMaster{DBID: 1, RSN: 5, Key: []byte("k"), Data: []byte("data"), RecordFlags: RecFlagMigratedWithData},
		&ReplyError{Status: -1, Msg: []byte("no such db")},
		&ReqMessage{SrvID: SrvIDLeader, Data: []byte{1, 0, 0, 0}},
		&ReqControl{Opcode: ControlGetPNN},
		&ReplyControl{Status: 1},
		&ReplyControl{Status: -1, ErrMsg: "failed"},
		&ReqKeepalive{Version: 4<<16 | 17, Uptime: 42},
		&ReqKeepalive{Bare: true},
		&ReqTunnel{TunnelID: TunnelTest, Flags: TunnelFlagRequest, Data: []byte("x")},
	}
	var out [][]byte
	for _, b := range bodies {
		p, err := Marshal(h, b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
