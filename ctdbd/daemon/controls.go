package daemon

import (
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/server"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// clientHandler answers local clients on the Unix socket.
type clientHandler struct{ d *Daemon }

func (h clientHandler) Control(c *server.Client, hdr protocol.Header, req *protocol.ReqControl) *protocol.ReplyControl {
	d := h.d
	st := (&d.stats)
	st.clientControls.Add(1)
	if req.Opcode == protocol.ControlSetRecMode && isRecModeActive(req.Data) {
		// `ctdb recover`, to this node or (forwarded) to another one: the leader
		// must run a recovery, which ends in recovery mode NORMAL again.
		d.do(d.requestRecovery)
	}
	dest := hdr.DestNode
	if dest == protocol.CurrentNode {
		dest = d.self
	}
	if dest != d.self {
		d.forward(c, hdr, dest, req)
		return nil
	}
	switch req.Opcode {
	case protocol.ControlRegisterSrvID:
		d.call(func() { d.register(c, req.SrvID) })
		c.Reply(hdr, &protocol.ReplyControl{})
		if req.SrvID == protocol.SrvIDLeader {
			// Answer `ctdb status` at once instead of making it wait for the next
			// broadcast (CTDB makes it wait up to a second).
			var leader uint32
			d.call(func() { leader = d.election.Leader() })
			if leader != protocol.UnknownPNN {
				v := protocol.Uint32(leader)
				data, _ := protocol.MarshalPayload(&v)
				sendMessage(c, d.self, &protocol.ReqMessage{SrvID: protocol.SrvIDLeader, Data: data})
			}
		}
		return nil
	case protocol.ControlDeregisterSrvID:
		d.call(func() { d.deregister(c, req.SrvID) })
		return &protocol.ReplyControl{}
	case protocol.ControlTCPClient:
		var conn protocol.Connection
		if err := protocol.UnmarshalPayload(req.Data, &conn); err != nil {
			return failed("bad connection: " + err.Error())
		}
		var reply *protocol.ReplyControl
		if !d.call(func() { reply = d.tcpClient(c, conn) }) {
			return failed("ctdbd is shutting down")
		}
		return reply
	case protocol.ControlProcessExists:
		var pid protocol.Int32
		if err := protocol.UnmarshalPayload(req.Data, &pid); err != nil {
			return failed("bad pid")
		}
		if err := syscall.Kill(int(pid), 0); err != nil && err != syscall.EPERM {
			return &protocol.ReplyControl{Status: -1}
		}
		return &protocol.ReplyControl{}
	}
	if slowControl(req.Opcode) {
		return d.runSlowControl(req)
	}
	var reply *protocol.ReplyControl
	if !d.call(func() { reply = d.localControl(hdr, req) }) {
		return failed("ctdbd is shutting down")
	}
	return reply
}

func (h clientHandler) Packet(c *server.Client, hdr protocol.Header, p protocol.Packet) {
	d := h.d
	switch p := p.(type) {
	case *protocol.ReqMessage:
		(&d.stats).clientMessages.Add(1)
		if p.SrvID == protocol.SrvIDEventRun && (hdr.DestNode == protocol.CurrentNode || hdr.DestNode == d.self) {
			go d.handleEventRun(c, p)
			return
		}
		d.do(func() {
			switch dest := hdr.DestNode; dest {
			case protocol.CurrentNode, d.self:
				d.toClients(p)
			case protocol.BroadcastAll, protocol.BroadcastConnected, protocol.BroadcastActive:
				for _, n := range d.nodes {
					if n.pnn != d.self && n.connected {
						d.sendPeer(n.pnn, p, 0)
					}
				}
				d.toClients(p)
			default:
				d.sendPeer(dest, p, 0)
			}
		})
	default:
		d.log.Debug("client operation not supported yet", "client", c.ID, "op", hdr.Operation)
		c.Reply(hdr, &protocol.ReplyError{Status: -1, Msg: []byte("operation not supported by this ctdbd")})
	}
}

func (h clientHandler) Gone(c *server.Client) {
	h.d.do(func() {
		h.d.clientGoneTickles(c)
		for srvid, m := range h.d.srvids {
			delete(m, c.ID)
			if len(m) == 0 {
				delete(h.d.srvids, srvid)
			}
		}
	})
}

func (d *Daemon) register(c *server.Client, srvid uint64) {
	m := d.srvids[srvid]
	if m == nil {
		m = map[uint32]*server.Client{}
		d.srvids[srvid] = m
	}
	m[c.ID] = c
}

func (d *Daemon) deregister(c *server.Client, srvid uint64) {
	if m := d.srvids[srvid]; m != nil {
		delete(m, c.ID)
		if len(m) == 0 {
			delete(d.srvids, srvid)
		}
	}
}

// toClients delivers a message to the local clients registered for its srvid (or for
// every srvid).
func (d *Daemon) toClients(m *protocol.ReqMessage) {
	d.recoveryDaemonMessage(m)
	for _, srvid := range []uint64{m.SrvID, protocol.SrvIDAll} {
		for _, c := range d.srvids[srvid] {
			sendMessage(c, d.self, m)
		}
		if m.SrvID == protocol.SrvIDAll {
			break
		}
	}
}

func sendMessage(c *server.Client, self uint32, m *protocol.ReqMessage) {
	pkt, err := protocol.Marshal(protocol.Header{DestNode: self, SrcNode: self}, m)
	if err == nil {
		c.Send(pkt)
	}
}

// forward sends a client's control to another node and relays the reply.
func (d *Daemon) forward(c *server.Client, hdr protocol.Header, dest uint32, req *protocol.ReqControl) {
	var ok bool
	d.call(func() {
		n := d.node(dest)
		ok = n != nil && n.connected && n.pnn != d.self
	})
	if !ok {
		c.Reply(hdr, failed("node is not connected"))
		return
	}
	id := d.expectReply(func(r *protocol.ReplyControl) { c.Reply(hdr, r) })
	var timeout time.Duration
	d.call(func() {
		timeout = time.Duration(max(d.tunables.ControlTimeout, 1)) * time.Second
		d.sendPeer(dest, req, id)
	})
	time.AfterFunc(timeout, func() { d.forgetReply(id) })
}

func failed(msg string) *protocol.ReplyControl {
	return &protocol.ReplyControl{Status: -1, ErrMsg: msg}
}

func ok(p protocol.Payload) *protocol.ReplyControl {
	r, err := protocol.NewReplyControl(0, p)
	if err != nil {
		return failed(err.Error())
	}
	return r
}

func timeval(t time.Time) protocol.Timeval {
	if t.IsZero() {
		return protocol.Timeval{}
	}
	return protocol.Timeval{Sec: t.Unix(), Usec: int64(t.Nanosecond() / 1000)}
}

// localControl answers a control addressed to this node, from a client or another
// node. It runs on the loop.
func (d *Daemon) localControl(hdr protocol.Header, req *protocol.ReqControl) *protocol.ReplyControl {
	payload, perr := req.DecodeRequest()
	switch req.Opcode {
	case protocol.ControlPing:
		n := 0
		if d.srv != nil {
			n = len(d.srv.Clients())
		}
		return &protocol.ReplyControl{Status: int32(n)}
	case protocol.ControlGetPNN:
		return &protocol.ReplyControl{Status: int32(d.self)}
	case protocol.ControlGetPID:
		return &protocol.ReplyControl{Status: int32(os.Getpid())}
	case protocol.ControlGetRecMode:
		return &protocol.ReplyControl{Status: int32(d.recmode)}
	case protocol.ControlGetRecMaster:
		return &protocol.ReplyControl{Status: int32(d.election.Leader())}
	case protocol.ControlGetRunstate:
		v := protocol.Uint32(d.runstate)
		return ok(&v)
	case protocol.ControlGetCapabilities:
		v := protocol.Uint32(d.capabilities())
		return ok(&v)
	case protocol.ControlGetReclockFile:
		v := protocol.String(d.reclockFile)
		return ok(&v)
	case protocol.ControlGetNodeMap:
		m := &protocol.NodeMap{}
		for _, n := range d.nodes {
			m.Nodes = append(m.Nodes, protocol.NodeAndFlags{PNN: n.pnn, Flags: n.flags, Addr: protocol.SockAddr{Addr: n.addr}})
		}
		return ok(m)
	case protocol.ControlGetNodesFile:
		// The file as it is now (the tool compares it across nodes before reloadnodes).
		nodes, err := sysconfig.ReadNodes(d.cfg.Cluster.NodesList)
		if err != nil {
			return failed(err.Error())
		}
		m := &protocol.NodeMap{}
		for _, n := range nodes {
			f := uint32(0)
			if n.Deleted {
				f = protocol.NodeFlagsDeleted
			}
			m.Nodes = append(m.Nodes, protocol.NodeAndFlags{PNN: n.PNN, Flags: f, Addr: protocol.SockAddr{Addr: n.Addr}})
		}
		return ok(m)
	case protocol.ControlGetVNNMap:
		v := d.vnnmap
		return ok(&v)
	case protocol.ControlGetAllTunables:
		t := d.tunables
		return ok(&t)
	case protocol.ControlListTunables:
		var names []string
		for _, def := range sysconfig.TunableDefs() {
			if !def.Obsolete {
				names = append(names, def.Name)
			}
		}
		return ok(&protocol.VarList{Names: names})
	case protocol.ControlGetTunable:
		if perr != nil {
			return failed(perr.Error())
		}
		name := strings.TrimRight(string(*payload.(*protocol.StringN)), "\x00")
		v, found := d.tunables.Get(name)
		if !found {
			return failed("unknown tunable " + name)
		}
		u := protocol.Uint32(v)
		return ok(&u)
	case protocol.ControlSetTunable:
		if perr != nil {
			return failed(perr.Error())
		}
		t := payload.(*protocol.Tunable)
		def, found := sysconfig.LookupTunable(t.Name)
		if !found {
			return failed("unknown tunable " + t.Name)
		}
		if t.Value < def.Min || t.Value > def.Max {
			return failed("value out of range")
		}
		d.tunables.Set(def.Name, t.Value)
		if def.Obsolete {
			return &protocol.ReplyControl{Status: 1} // CTDB: obsolete, ignored
		}
		return &protocol.ReplyControl{}
	case protocol.ControlGetDebug:
		v := protocol.Uint32(d.debugLevel)
		return ok(&v)
	case protocol.ControlSetDebug:
		if perr != nil {
			return failed(perr.Error())
		}
		d.debugLevel = uint32(*payload.(*protocol.Uint32))
		return &protocol.ReplyControl{}
	case protocol.ControlUptime:
		return ok(&protocol.Uptime{
			CurrentTime: timeval(time.Now()), CtdbdStartTime: timeval(d.startTime),
			LastRecoveryStarted: timeval(d.recStarted), LastRecoveryFinished: timeval(d.recFinished),
		})
	case protocol.ControlStatistics:
		return ok(d.statistics())
	case protocol.ControlStatisticsReset:
		(&d.stats).reset()
		return &protocol.ReplyControl{}
	case protocol.ControlGetDBMap:
		return ok(&protocol.DBMap{})
	case protocol.ControlShutdown:
		d.log.Info("shutdown requested", "from", hdr.SrcNode)
		go func() {
			time.Sleep(50 * time.Millisecond) // let the reply go out
			d.Stop()
		}()
		return &protocol.ReplyControl{}
	case protocol.ControlSetRecMode:
		if perr != nil {
			return failed(perr.Error())
		}
		d.recmode = uint32(*payload.(*protocol.Uint32))
		if d.recmode == protocol.RecoveryActive && hdr.SrcNode != d.election.Leader() {
			// Not a step of the leader's recovery: someone asks for one.
			d.requestRecovery()
		}
		return &protocol.ReplyControl{}
	case protocol.ControlSetVNNMap:
		if perr != nil {
			return failed(perr.Error())
		}
		d.vnnmap = *payload.(*protocol.VNNMap)
		return &protocol.ReplyControl{}
	case protocol.ControlStartRecovery:
		d.recStarted = time.Now()
		return &protocol.ReplyControl{}
	case protocol.ControlEndRecovery:
		d.recFinished = time.Now()
		(&d.stats).recoveries.Add(1)
		d.recovered()
		return &protocol.ReplyControl{}
	case protocol.ControlStopNode:
		d.setFlags(protocol.NodeFlagsStopped, 0)
		return &protocol.ReplyControl{}
	case protocol.ControlContinueNode:
		d.setFlags(0, protocol.NodeFlagsStopped)
		return &protocol.ReplyControl{}
	case protocol.ControlDisableNode:
		d.setFlags(protocol.NodeFlagsPermanentlyDisabled, 0)
		return &protocol.ReplyControl{}
	case protocol.ControlEnableNode:
		d.setFlags(0, protocol.NodeFlagsPermanentlyDisabled)
		return &protocol.ReplyControl{}
	case protocol.ControlGetBanState:
		return ok(&protocol.BanState{PNN: d.self, Time: d.banTime()})
	case protocol.ControlSetBanState:
		if perr != nil {
			return failed(perr.Error())
		}
		b := payload.(*protocol.BanState)
		d.ban(b.Time)
		return &protocol.ReplyControl{}
	case protocol.ControlReloadNodesFile:
		if err := d.reloadNodes(); err != nil {
			d.log.Error("reloadnodes refused", "err", err)
			return failed(err.Error())
		}
		return &protocol.ReplyControl{}
	case protocol.ControlGetIfaces:
		return d.getIfaces()
	case protocol.ControlGetPublicIPInfo:
		if perr != nil {
			return failed(perr.Error())
		}
		return d.getPublicIPInfo(payload.(*protocol.SockAddr))
	case protocol.ControlSetIfaceLinkState:
		if perr != nil {
			return failed(perr.Error())
		}
		return d.setIfaceLink(payload.(*protocol.Iface))
	case protocol.ControlTCPAdd, protocol.ControlTCPAddDelayedUpdate, protocol.ControlTCPRemove,
		protocol.ControlGetTCPTickleList, protocol.ControlSetTCPTickleList:
		if perr != nil {
			return failed(perr.Error())
		}
		return d.tickleControl(req, payload)
	case protocol.ControlGetPublicIPs:
		return ok(d.publicIPList(req.Flags&protocol.PublicIPFlagsOnlyAvailable != 0))
	}
	d.log.Debug("control not implemented", "opcode", req.Opcode)
	return failed("control " + req.Opcode.String() + " is not implemented by this ctdbd")
}

func (d *Daemon) capabilities() uint32 {
	c := protocol.CapFeatures
	if d.cfg.Cluster.LeaderCapability {
		c |= protocol.CapRecMaster
	}
	if d.cfg.Legacy.LMasterCapability {
		c |= protocol.CapLMaster
	}
	return c
}

// flagNames renders node flags for logs.
func flagNames(f uint32) string {
	if f == 0 {
		return "OK"
	}
	var s []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{
		{protocol.NodeFlagsDisconnected, "DISCONNECTED"}, {protocol.NodeFlagsPermanentlyDisabled, "DISABLED"},
		{protocol.NodeFlagsBanned, "BANNED"}, {protocol.NodeFlagsUnhealthy, "UNHEALTHY"},
		{protocol.NodeFlagsDeleted, "DELETED"}, {protocol.NodeFlagsStopped, "STOPPED"},
	} {
		if f&x.bit != 0 {
			s = append(s, x.name)
		}
	}
	return strings.Join(s, "|")
}

// debugLevelNumber maps a CTDB log level name onto the number GET_DEBUG returns (Samba's
// debug levels: ERROR 0, WARNING 1, NOTICE 3, INFO 5, DEBUG 10).
func debugLevelNumber(level string) uint32 {
	switch level {
	case "ERROR":
		return 0
	case "WARNING":
		return 1
	case "INFO":
		return 5
	case "DEBUG":
		return 10
	}
	return 3
}

// ---------------------------------------------------------------------------
// What the ctdb tool's admin commands need from the daemon beyond plain
// controls: answers to the recovery daemon's message ports, a recovery on
// request, and statistics.

func isRecModeActive(data []byte) bool {
	var v protocol.Uint32
	return protocol.UnmarshalPayload(data, &v) == nil && uint32(v) == protocol.RecoveryActive
}

// requestRecovery makes the leader run a recovery: at once when this node
// leads, else by telling the leader (a SET_RECMODE ACTIVE from a node other
// than the leader, which the leader takes as the same request). Runs on the
// loop.
func (d *Daemon) requestRecovery() {
	if d.election.Acting() {
		d.needRecover = true
		return
	}
	leader := d.election.Leader()
	if n := d.node(leader); n != nil && n.connected && leader != d.self {
		active := protocol.Uint32(protocol.RecoveryActive)
		req, err := protocol.NewReqControl(protocol.ControlSetRecMode, &active)
		if err != nil {
			return
		}
		req.Flags |= protocol.ControlFlagNoReply
		d.sendPeer(leader, req, 0)
	}
}

// recoveryDaemonMessage answers the messages that CTDB's recovery daemon
// serves and the ctdb tool waits on: a takeover run (answered by the leader
// with its PNN once a run started after the request is done, see
// takeoverRunRequested), and requests to hold off recoveries or takeover runs
// (answered by every node with its PNN). Runs on the loop.
func (d *Daemon) recoveryDaemonMessage(m *protocol.ReqMessage) {
	var to uint32
	var srvid uint64
	switch m.SrvID {
	case protocol.SrvIDTakeoverRun:
		var r protocol.SrvIDMessage
		if protocol.UnmarshalPayload(m.Data, &r) != nil || !d.election.Acting() {
			return
		}
		d.takeoverRunRequested(r)
		return
	case protocol.SrvIDDisableRecoveries, protocol.SrvIDDisableTakeoverRuns:
		var r protocol.DisableMessage
		if protocol.UnmarshalPayload(m.Data, &r) != nil {
			return
		}
		if m.SrvID == protocol.SrvIDDisableRecoveries {
			// Hold off recoveries for the requested seconds (0 lifts the hold), as
			// CTDB's recovery daemon does while `ctdb reloadnodes` works.
			if r.Timeout == 0 {
				d.recoveriesHeldUntil = time.Time{}
			} else {
				d.recoveriesHeldUntil = time.Now().Add(time.Duration(r.Timeout) * time.Second)
			}
		} else {
			// Hold off takeover runs, as `ctdb reloadips` asks while the nodes
			// re-read their public addresses.
			d.disableTakeoverRuns(r.Timeout)
		}
		to, srvid = r.PNN, r.SrvID
	default:
		return
	}
	if srvid == 0 {
		return // no reply wanted
	}
	v := protocol.Int32(d.self)
	data, _ := protocol.MarshalPayload(&v)
	reply := &protocol.ReqMessage{SrvID: srvid, Data: data}
	if to == d.self {
		d.toClients(reply)
		return
	}
	d.sendPeer(to, reply, 0)
}

// adminStats are the counters behind CONTROL_STATISTICS that this file can
// keep. Safe for concurrent use (atomics and a mutex).
type adminStats struct {
	clientControls atomic.Uint32
	clientMessages atomic.Uint32
	recoveries     atomic.Uint32

	mu    sync.Mutex
	start time.Time // zero: the daemon's start time
}

func (s *adminStats) reset() {
	s.clientControls.Store(0)
	s.clientMessages.Store(0)
	s.recoveries.Store(0)
	s.mu.Lock()
	s.start = time.Now()
	s.mu.Unlock()
}

// statistics fills what the daemon knows of struct ctdb_statistics; the
// counters of packets between nodes, calls and locks stay zero until the
// transport and database layers count them. Runs on the loop.
func (d *Daemon) statistics() *protocol.Statistics {
	st := (&d.stats)
	s := &protocol.Statistics{}
	if d.srv != nil {
		s.NumClients = uint32(len(d.srv.Clients()))
	}
	if d.recmode == protocol.RecoveryActive {
		s.Recovering = 1
	}
	s.NumRecoveries = st.recoveries.Load()
	s.Client.ReqControl = st.clientControls.Load()
	s.Client.ReqMessage = st.clientMessages.Load()
	s.ClientPacketsRecv = s.Client.ReqControl + s.Client.ReqMessage
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.MemoryUsed = uint32(min(ms.HeapInuse, math.MaxUint32))
	st.mu.Lock()
	start := st.start
	st.mu.Unlock()
	if start.IsZero() {
		start = d.startTime
	}
	s.StatisticsStartTime = timeval(start)
	s.StatisticsCurrentTime = timeval(time.Now())
	return s
}
