package protocol

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDaemon answers the real ctdb tool on a Unix socket with replies built
// by this package, from a small in-memory cluster state, and records every
// packet the tool sends. It exists only to capture golden bytes and to check
// that the real tool accepts what we encode.
type fakeDaemon struct {
	t  *testing.T
	ln net.Listener

	mu       sync.Mutex
	captured [][]byte // every packet received, in order
	errs     []error  // decoding failures (reported by the test)

	pnn        uint32
	leader     uint32
	generation uint32
	recmode    uint32
	debug      uint32
	pid        int32
	runstate   Runstate
	caps       uint32
	reclock    string
	nodes      []NodeAndFlags
	tunables   TunableList
	uptime     Uptime
	stats      Statistics
	bans       map[uint32]uint32

	cond     *sync.Cond // signalled when active or barriers change
	active   int        // connections being served
	barriers int        // barrier connections seen
	sock     string
	base     string // CTDB_BASE of the tool; GET_NODES_FILE reads base/nodes
}

func newFakeDaemon(t *testing.T, sock, base string) *fakeDaemon {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen %s: %v", sock, err)
	}
	f := &fakeDaemon{
		t: t, ln: ln,
		pnn: 1, leader: 1, generation: 412252839, debug: 3, pid: 31374,
		runstate: RunstateRunning, caps: CapDefault,
		reclock: "/clusterfs/.ctdb/cluster.lock",
		bans:    map[uint32]uint32{},
		sock:    sock,
		base:    base,
	}
	f.cond = sync.NewCond(&f.mu)
	for i := range 3 {
		f.nodes = append(f.nodes, NodeAndFlags{
			PNN:  uint32(i),
			Addr: SockAddr{Addr: netip.AddrFrom4([4]byte{10, 200, 0, byte(i + 1)})},
		})
	}
	f.nodes[2].Flags = NodeFlagsDisconnected | NodeFlagsUnhealthy
	f.tunables = defaultTunables()
	start := time.Date(2026, 11, 21, 10, 37, 39, 0, time.UTC)
	f.uptime = Uptime{
		CurrentTime:          TimevalOf(start.Add(40 * time.Second)),
		CtdbdStartTime:       TimevalOf(start),
		LastRecoveryStarted:  TimevalOf(start.Add(6 * time.Second)),
		LastRecoveryFinished: TimevalOf(start.Add(6*time.Second + 28772*time.Microsecond)),
	}
	f.stats = sampleStatistics(start)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.accept()
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return f
}

func defaultTunables() TunableList {
	var t TunableList
	defaults := map[string]uint32{
		"MaxRedirectCount": 3, "SeqnumInterval": 1000, "ControlTimeout": 60, "TraverseTimeout": 20,
		"KeepaliveInterval": 5, "KeepaliveLimit": 5, "RecoverTimeout": 30, "RecoverInterval": 1,
		"ElectionTimeout": 3, "TakeoverTimeout": 9, "MonitorInterval": 15, "TickleUpdateInterval": 20,
		"EventScriptTimeout": 30, "MonitorTimeoutCount": 20, "RecoveryGracePeriod": 120,
		"RecoveryBanPeriod": 300, "DatabaseHashSize": 100001, "DatabaseMaxDead": 5,
		"RerecoveryTimeout": 10, "EnableBans": 1, "LCP2PublicIPs": 1, "ReclockPingPeriod": 60,
		"RecdPingTimeout": 60, "RecdFailCount": 10, "RecLockLatencyMs": 1000,
		"RecoveryDropAllIPs": 120, "VerifyRecoveryLock": 1, "VacuumInterval": 10,
		"VacuumMaxRunTime": 120, "RepackLimit": 10000, "VacuumLimit": 5000,
		"VacuumFastPathCount": 60, "MaxQueueDropMsg": 1000000, "StatHistoryInterval": 1,
		"DeferredAttachTO": 120, "AllowClientDBAttach": 1, "RecoverPDBBySeqNum": 1,
		"DeferredRebalanceOnNodeAdd": 300, "FetchCollapse": 1, "HopcountMakeSticky": 50,
		"StickyDuration": 600, "StickyPindown": 200, "DBRecordCountWarn": 100000,
		"DBRecordSizeWarn": 10000000, "DBSizeWarn": 100000000, "PullDBPreallocation": 10485760,
		"NoIPHostOnAllDisabled": 1, "TDBMutexEnabled": 1, "LockProcessesPerDB": 200,
		"RecBufferSizeLimit": 1000000, "QueueBufferSize": 1024, "IPAllocAlgorithm": 2,
	}
	for n, v := range defaults {
		if !t.Set(n, v) {
			panic("unknown tunable " + n)
		}
	}
	return t
}

func sampleStatistics(start time.Time) Statistics {
	var s Statistics
	s.NumClients = 2
	s.NumRecoveries = 1
	s.ClientPacketsSent = 1924
	s.ClientPacketsRecv = 1872
	s.NodePacketsSent = 3888
	s.NodePacketsRecv = 405
	s.KeepalivePacketsSent = 16
	s.KeepalivePacketsRecv = 16
	s.Node.ReplyDMaster = 2
	s.Node.ReqMessage = 52
	s.Node.ReqControl = 1992
	s.Node.ReplyControl = 1872
	s.Client.ReqCall = 2
	s.Client.ReqMessage = 1
	s.Client.ReqControl = 1869
	s.TotalCalls = 2
	s.ChildwriteCalls = 1
	s.MemoryUsed = 91997
	s.HopCountBucket[1] = 3
	s.Locks.Buckets[15] = 7
	s.Reclock.Ctdbd = LatencyCounter{Num: 1, Min: 0.008521, Max: 0.008521, Total: 0.008521}
	s.CallLatency = LatencyCounter{Num: 2, Min: 0.000611, Max: 0.000715, Total: 0.001326}
	s.ChildwriteLatency = LatencyCounter{Num: 1, Min: 0.005889, Max: 0.005889, Total: 0.005889}
	s.StatisticsStartTime = TimevalOf(start)
	s.StatisticsCurrentTime = TimevalOf(start.Add(41 * time.Second))
	return s
}

func (f *fakeDaemon) accept() {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.active++
		f.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				c.Close()
				f.mu.Lock()
				f.active--
				f.cond.Broadcast()
				f.mu.Unlock()
			}()
			f.serve(c)
		}()
	}
}

func (f *fakeDaemon) fail(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

func (f *fakeDaemon) serve(c net.Conn) {
	for {
		var prefix [4]byte
		if _, err := io.ReadFull(c, prefix[:]); err != nil {
			return
		}
		if string(prefix[:]) == barrierMagic {
			f.mu.Lock()
			f.barriers++
			f.mu.Unlock()
			return
		}
		n, err := FrameLength(prefix[:])
		if err != nil {
			f.fail(err)
			return
		}
		pkt := make([]byte, n)
		copy(pkt, prefix[:])
		if _, err := io.ReadFull(c, pkt[4:]); err != nil {
			f.fail(err)
			return
		}
		f.mu.Lock()
		f.captured = append(f.captured, pkt)
		f.mu.Unlock()
		h, p, err := Unmarshal(pkt)
		if err != nil {
			f.fail(err)
			return
		}
		replies, hangup := f.handle(h, p)
		for _, out := range replies {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if hangup {
			return
		}
	}
}

func (f *fakeDaemon) marshal(h Header, p Packet) []byte {
	b, err := Marshal(h, p)
	if err != nil {
		f.fail(err)
	}
	return b
}

func (f *fakeDaemon) message(srvid uint64, p Payload) []byte {
	m, err := NewReqMessage(srvid, p)
	if err != nil {
		f.fail(err)
		return nil
	}
	return f.marshal(Header{Generation: f.generation, DestNode: f.pnn, SrcNode: f.pnn}, m)
}

// handle returns the packets to send back for one request, and whether to
// close the connection afterwards (as ctdbd does when it shuts down).
func (f *fakeDaemon) handle(h Header, p Packet) ([][]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch p := p.(type) {
	case *ReqMessage:
		pl, err := p.DecodeMessage()
		if err != nil {
			f.errs = append(f.errs, err)
			return nil, false
		}
		switch m := pl.(type) {
		case *SrvIDMessage: // takeover run: the leader answers with its pnn
			reply := Int32(f.leader)
			return [][]byte{f.message(m.SrvID, &reply)}, false
		case *DisableMessage: // disable recoveries: each node answers with its pnn
			reply := Int32(h.DestNode)
			return [][]byte{f.message(m.SrvID, &reply)}, false
		}
		f.errs = append(f.errs, fmt.Errorf("unexpected message to srvid 0x%x", p.SrvID))
		return nil, false
	case *ReqControl:
		req, err := p.DecodeRequest()
		if err != nil {
			f.errs = append(f.errs, err)
			return nil, false
		}
		status, reply, extra := f.control(h, p, req)
		r, err := NewReplyControl(status, reply)
		if err != nil {
			f.errs = append(f.errs, err)
			return nil, false
		}
		if status != 0 && reply == nil && status < 0 {
			r.ErrMsg = "fake daemon: control " + p.Opcode.String() + " failed"
		}
		out := [][]byte{f.marshal(Header{
			Generation: f.generation, DestNode: h.SrcNode, SrcNode: f.pnn, ReqID: h.ReqID,
		}, r)}
		if p.Flags&ControlFlagNoReply != 0 {
			out = nil
		}
		hangup := p.Opcode == ControlShutdown && (h.DestNode == f.pnn || h.DestNode == CurrentNode)
		return append(out, extra...), hangup
	}
	f.errs = append(f.errs, errors.New("unexpected "+h.Operation.String()))
	return nil, false
}

func (f *fakeDaemon) node(pnn uint32) *NodeAndFlags {
	if pnn == CurrentNode {
		pnn = f.pnn
	}
	for i := range f.nodes {
		if f.nodes[i].PNN == pnn {
			return &f.nodes[i]
		}
	}
	return nil
}

// control answers one control as node h.DestNode would.
func (f *fakeDaemon) control(h Header, c *ReqControl, req Payload) (status int32, reply Payload, extra [][]byte) {
	n := f.node(h.DestNode)
	if n == nil || n.Flags&NodeFlagsDisconnected != 0 {
		return -1, nil, nil
	}
	setFlag := func(flag uint32, on bool) {
		if on {
			n.Flags |= flag
		} else {
			n.Flags &^= flag
		}
	}
	switch c.Opcode {
	case ControlGetPNN:
		return int32(n.PNN), nil, nil
	case ControlRegisterSrvID:
		if c.SrvID == SrvIDLeader {
			leader := Uint32(f.leader)
			return 0, nil, [][]byte{f.message(SrvIDLeader, &leader)}
		}
		return 0, nil, nil
	case ControlDeregisterSrvID, ControlStatisticsReset, ControlShutdown,
		ControlReloadNodesFile, ControlSetTunable, ControlSetDebug:
		switch r := req.(type) {
		case *Tunable:
			if !f.tunables.Set(r.Name, r.Value) {
				return -1, nil, nil
			}
		case *Uint32:
			f.debug = uint32(*r)
		}
		return 0, nil, nil
	case ControlGetNodeMap:
		return 0, &NodeMap{Nodes: append([]NodeAndFlags(nil), f.nodes...)}, nil
	case ControlGetNodesFile:
		m, err := f.readNodesFile()
		if err != nil {
			f.errs = append(f.errs, err)
			return -1, nil, nil
		}
		return 0, m, nil
	case ControlGetVNNMap:
		return 0, &VNNMap{Generation: f.generation, Map: []uint32{0, 1}}, nil
	case ControlGetRecMode:
		return int32(f.recmode), nil, nil
	case ControlSetRecMode:
		if uint32(*req.(*Uint32)) == RecoveryActive {
			f.generation++ // the "recovery" finishes at once
		}
		return 0, nil, nil
	case ControlGetIfaces:
		return 0, &IfaceList{Ifaces: []Iface{{Name: "eth1", LinkState: 1, References: 2}}}, nil
	case ControlPing:
		return 2, nil, nil
	case ControlUptime:
		u := f.uptime
		return 0, &u, nil
	case ControlGetPID:
		return f.pid, nil, nil
	case ControlGetRunstate:
		v := Uint32(f.runstate)
		return 0, &v, nil
	case ControlGetCapabilities:
		v := Uint32(f.caps)
		return 0, &v, nil
	case ControlGetReclockFile:
		v := String(f.reclock)
		return 0, &v, nil
	case ControlListTunables:
		return 0, &VarList{Names: listvarsOrder}, nil
	case ControlGetTunable:
		v, ok := f.tunables.Get(string(*req.(*StringN)))
		if !ok {
			return -1, nil, nil
		}
		u := Uint32(v)
		return 0, &u, nil
	case ControlGetAllTunables:
		t := f.tunables
		return 0, &t, nil
	case ControlGetDebug:
		v := Uint32(f.debug)
		return 0, &v, nil
	case ControlSetBanState:
		b := req.(*BanState)
		f.bans[b.PNN] = b.Time
		setFlag(NodeFlagsBanned, b.Time != 0)
		return 0, nil, nil
	case ControlGetBanState:
		return 0, &BanState{PNN: n.PNN, Time: f.bans[n.PNN]}, nil
	case ControlDisableNode, ControlEnableNode:
		setFlag(NodeFlagsPermanentlyDisabled, c.Opcode == ControlDisableNode)
		return 0, nil, nil
	case ControlStopNode, ControlContinueNode:
		setFlag(NodeFlagsStopped, c.Opcode == ControlStopNode)
		return 0, nil, nil
	case ControlStatistics:
		s := f.stats
		return 0, &s, nil
	case ControlGetDBMap:
		return 0, &DBMap{}, nil
	case ControlSetVNNMap:
		f.generation = req.(*VNNMap).Generation
		return 0, nil, nil
	case ControlStartRecovery, ControlEndRecovery:
		return 0, nil, nil
	}
	f.errs = append(f.errs, errors.New("fake daemon: unhandled control "+c.Opcode.String()))
	return -1, nil, nil
}

// listvarsOrder is the order of `ctdb listvars` on 4.17 (ctdbd's tunable
// table order, obsolete tunables left out), which differs from the wire
// order of TunableList.
var listvarsOrder = []string{
	"SeqnumInterval", "ControlTimeout", "TraverseTimeout", "KeepaliveInterval",
	"KeepaliveLimit", "RecoverTimeout", "RecoverInterval", "ElectionTimeout",
	"TakeoverTimeout", "MonitorInterval", "TickleUpdateInterval", "EventScriptTimeout",
	"MonitorTimeoutCount", "RecoveryGracePeriod", "RecoveryBanPeriod", "DatabaseHashSize",
	"DatabaseMaxDead", "RerecoveryTimeout", "EnableBans", "NoIPFailback",
	"VerboseMemoryNames", "RecdPingTimeout", "RecdFailCount", "LogLatencyMs",
	"RecLockLatencyMs", "RecoveryDropAllIPs", "VacuumInterval", "VacuumMaxRunTime",
	"RepackLimit", "VacuumFastPathCount", "MaxQueueDropMsg", "AllowUnhealthyDBRead",
	"StatHistoryInterval", "DeferredAttachTO", "AllowClientDBAttach", "FetchCollapse",
	"HopcountMakeSticky", "StickyDuration", "StickyPindown", "NoIPTakeover",
	"DBRecordCountWarn", "DBRecordSizeWarn", "DBSizeWarn", "PullDBPreallocation",
	"LockProcessesPerDB", "RecBufferSizeLimit", "QueueBufferSize", "IPAllocAlgorithm",
	"AllowMixedVersions",
}

// readNodesFile returns the node map of base/nodes as ctdbd reads it.
func (f *fakeDaemon) readNodesFile() (*NodeMap, error) {
	data, err := os.ReadFile(filepath.Join(f.base, "nodes"))
	if err != nil {
		return nil, err
	}
	m := &NodeMap{}
	for _, line := range strings.Fields(string(data)) {
		a, err := netip.ParseAddr(line)
		if err != nil {
			return nil, err
		}
		m.Nodes = append(m.Nodes, NodeAndFlags{PNN: uint32(len(m.Nodes)), Addr: SockAddr{Addr: a}})
	}
	return m, nil
}

// barrierMagic starts a connection that only marks a point in time.
const barrierMagic = "SYNC"

// waitIdle returns once every connection accepted before it was called has
// been served to its end. Connections are accepted in order, so once a
// barrier connection has been seen and nothing else is active, everything
// the finished ctdb process wrote has been read and answered.
func (f *fakeDaemon) waitIdle(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	before := f.barriers
	f.mu.Unlock()
	c, err := net.Dial("unix", f.sock)
	if err != nil {
		t.Fatalf("barrier: %v", err)
	}
	if _, err := c.Write([]byte(barrierMagic)); err != nil {
		t.Fatalf("barrier: %v", err)
	}
	c.Close()
	stuck := false
	guard := time.AfterFunc(30*time.Second, func() {
		f.mu.Lock()
		stuck = true
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer guard.Stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for !stuck && (f.barriers == before || f.active > 0) {
		f.cond.Wait()
	}
	if stuck {
		t.Fatalf("fake daemon still serving %d connections after the tool exited", f.active)
	}
}

func (f *fakeDaemon) takeCaptured() ([][]byte, []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, e := f.captured, f.errs
	f.captured, f.errs = nil, nil
	return c, e
}
