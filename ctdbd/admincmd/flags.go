package admincmd

import (
	"context"
	"fmt"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// pollInterval is the pause between two looks at the cluster while the tool
// waits for a change it asked for (a flag to show, a recovery to end).
const pollInterval = 100 * time.Millisecond

// waitFlag polls the node map until the addressed node's flag is set (or
// cleared), for at most the maximum runtime.
func (t *tool) waitFlag(flag uint32, set bool) int {
	deadline := time.Now().Add(t.maxWait())
	for {
		m := t.getNodemap(true)
		if m == nil {
			return 1
		}
		if n := nodeByPNN(m, t.cmdPNN); n != nil && (n.Flags&flag != 0) == set {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(t.errw, "Timed out waiting for node %d to change its flags\n", t.cmdPNN)
			return exitETIMEDOUT
		}
		time.Sleep(pollInterval)
	}
}

// ipreallocate asks the leader for a takeover run and waits for its answer,
// asking again until a leader answers, for at most the maximum runtime.
func (t *tool) ipreallocate() int {
	srvid := t.nextSrvID()
	ctx, cancel := t.ctx()
	ch, err := t.conn.Register(ctx, t.pnn, srvid)
	cancel()
	if err != nil {
		return t.reportErr(protocol.ControlRegisterSrvID, t.pnn, err)
	}
	defer func() {
		ctx, cancel := t.ctx()
		defer cancel()
		t.conn.Deregister(ctx, t.pnn, srvid)
	}()
	deadline := time.Now().Add(t.maxWait())
	for time.Now().Before(deadline) {
		msg := &protocol.SrvIDMessage{PNN: t.pnn, SrvID: srvid}
		if err := t.conn.SendMessage(protocol.BroadcastConnected, protocol.SrvIDTakeoverRun, msg); err != nil {
			fmt.Fprintf(t.errw, "Failed to send takeover run request: %v\n", err)
			return 1
		}
		// A request sent while the cluster elects a leader is lost: ask again
		// every second (CTDB's tool waits a whole -t timeout).
		timer := time.NewTimer(min(t.timeout, time.Second))
		select {
		case m := <-ch:
			timer.Stop()
			var ret protocol.Int32
			if protocol.UnmarshalPayload(m.Data, &ret) == nil && ret >= 0 {
				return 0
			}
			// The leader failed the run: ask again (after a pause).
			time.Sleep(pollInterval)
		case <-t.conn.Done():
			timer.Stop()
			fmt.Fprintf(t.errw, "Connection to ctdbd lost during the IP reallocation\n")
			return 1
		case <-timer.C:
		}
	}
	fmt.Fprintf(t.errw, "IP reallocation timed out: no leader answered\n")
	return exitETIMEDOUT
}

// flagCommand is disable/enable/stop/continue: skip when the node is
// already in the state, else send the control, wait for the flag to show,
// then let the leader move the public addresses.
func (t *tool) flagCommand(op protocol.Opcode, flag uint32, set bool, already string) int {
	m := t.getNodemap(false)
	if m == nil {
		return 1
	}
	if n := nodeByPNN(m, t.cmdPNN); n != nil && (n.Flags&flag != 0) == set {
		fmt.Fprintf(t.errw, "Node %d is %s\n", t.cmdPNN, already)
		return 0
	}
	if r := t.control(t.cmdPNN, op, nil); r != 0 {
		return r
	}
	if r := t.waitFlag(flag, set); r != 0 {
		return r
	}
	return t.ipreallocate()
}

func cmdDisable(t *tool, _ []string) int {
	return t.flagCommand(protocol.ControlDisableNode, protocol.NodeFlagsPermanentlyDisabled, true, "already disabled")
}

func cmdEnable(t *tool, _ []string) int {
	return t.flagCommand(protocol.ControlEnableNode, protocol.NodeFlagsPermanentlyDisabled, false, "not disabled")
}

func cmdStop(t *tool, _ []string) int {
	return t.flagCommand(protocol.ControlStopNode, protocol.NodeFlagsStopped, true, "already stopped")
}

func cmdContinue(t *tool, _ []string) int {
	return t.flagCommand(protocol.ControlContinueNode, protocol.NodeFlagsStopped, false, "not stopped")
}

func cmdBan(t *tool, args []string) int {
	secs, errno := strtoul(args[0])
	if errno != 0 {
		return errno
	}
	if uint32(secs) == 0 {
		fmt.Fprintln(t.errw, "Ban time cannot be zero")
		return exitEINVAL
	}
	m := t.getNodemap(false)
	if m == nil {
		return 1
	}
	if n := nodeByPNN(m, t.cmdPNN); n != nil && n.Flags&protocol.NodeFlagsBanned != 0 {
		fmt.Fprintf(t.errw, "Node %d is already banned\n", t.cmdPNN)
		return 0
	}
	if r := t.control(t.cmdPNN, protocol.ControlSetBanState, &protocol.BanState{PNN: t.cmdPNN, Time: uint32(secs)}); r != 0 {
		return r
	}
	if r := t.waitFlag(protocol.NodeFlagsBanned, true); r != 0 {
		return r
	}
	return t.ipreallocate()
}

func cmdUnban(t *tool, _ []string) int {
	m := t.getNodemap(false)
	if m == nil {
		return 1
	}
	if n := nodeByPNN(m, t.cmdPNN); n != nil && n.Flags&protocol.NodeFlagsBanned == 0 {
		fmt.Fprintf(t.errw, "Node %d is not banned\n", t.cmdPNN)
		return 0
	}
	if r := t.control(t.cmdPNN, protocol.ControlSetBanState, &protocol.BanState{PNN: t.cmdPNN, Time: 0}); r != 0 {
		return r
	}
	if r := t.waitFlag(protocol.NodeFlagsBanned, false); r != 0 {
		return r
	}
	return t.ipreallocate()
}

// recmodeAndGeneration reads the addressed node's recovery mode and generation.
func (t *tool) recmodeAndGeneration() (uint32, uint32, int) {
	mode, err := t.status(t.cmdPNN, protocol.ControlGetRecMode)
	if err != nil {
		return 0, 0, t.reportErr(protocol.ControlGetRecMode, t.cmdPNN, err)
	}
	var vnn protocol.VNNMap
	if r := t.data(t.cmdPNN, protocol.ControlGetVNNMap, nil, &vnn); r != 0 {
		return 0, 0, r
	}
	return uint32(mode), vnn.Generation, 0
}

// cmdRecover forces a recovery: recovery mode ACTIVE on the node, then wait
// until the leader has recovered the cluster (mode NORMAL, new generation).
func cmdRecover(t *tool, _ []string) int {
	_, gen, r := t.recmodeAndGeneration()
	if r != 0 {
		return r
	}
	active := protocol.Uint32(protocol.RecoveryActive)
	if r := t.control(t.cmdPNN, protocol.ControlSetRecMode, &active); r != 0 {
		return r
	}
	deadline := time.Now().Add(t.maxWait())
	for {
		mode, g, r := t.recmodeAndGeneration()
		if r != 0 {
			return r
		}
		if mode == protocol.RecoveryNormal && g != gen {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(t.errw, "Timed out waiting for the recovery to finish\n")
			return exitETIMEDOUT
		}
		time.Sleep(pollInterval)
	}
}

// disableRecoveries asks the recovery daemon of each node in pnns to hold
// off recoveries for timeout seconds (0: allow them again) and waits for
// every answer.
func (t *tool) disableRecoveries(pnns []uint32, timeout uint32) int {
	srvid := t.nextSrvID()
	ctx, cancel := t.ctx()
	ch, err := t.conn.Register(ctx, t.pnn, srvid)
	cancel()
	if err != nil {
		return t.reportErr(protocol.ControlRegisterSrvID, t.pnn, err)
	}
	defer func() {
		ctx, cancel := t.ctx()
		defer cancel()
		t.conn.Deregister(ctx, t.pnn, srvid)
	}()
	msg := &protocol.DisableMessage{PNN: t.pnn, SrvID: srvid, Timeout: timeout}
	for _, p := range pnns {
		if err := t.conn.SendMessage(p, protocol.SrvIDDisableRecoveries, msg); err != nil {
			fmt.Fprintf(t.errw, "Failed to send disable recoveries request: %v\n", err)
			return 1
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	for got := 0; got < len(pnns); got++ {
		select {
		case m := <-ch:
			var ret protocol.Int32
			if protocol.UnmarshalPayload(m.Data, &ret) != nil || ret < 0 {
				fmt.Fprintf(t.errw, "Failed to disable recoveries\n")
				return 1
			}
		case <-ctx.Done():
			fmt.Fprintf(t.errw, "Failed to disable recoveries: timed out\n")
			return exitETIMEDOUT
		case <-t.conn.Done():
			return 1
		}
	}
	return 0
}

// cmdReloadnodes makes every connected node re-read its nodes file, after
// checking that the files agree and that the change is one CTDB allows
// (nodes added at the end or deleted, none moved).
func cmdReloadnodes(t *tool, _ []string) int {
	m := t.getNodemap(false)
	if m == nil {
		return 1
	}
	var files []*protocol.NodeMap
	var pnns []uint32
	for _, n := range m.Nodes {
		if n.Flags&(protocol.NodeFlagsDisconnected|protocol.NodeFlagsDeleted) != 0 {
			continue
		}
		var f protocol.NodeMap
		if r := t.data(n.PNN, protocol.ControlGetNodesFile, nil, &f); r != 0 {
			fmt.Fprintf(t.errw, "Failed to get nodes file from node %d\n", n.PNN)
			return r
		}
		files = append(files, &f)
		pnns = append(pnns, n.PNN)
	}
	if len(files) == 0 {
		return 1
	}
	want := files[0]
	for i, f := range files[1:] {
		if !sameNodes(want, f) {
			fmt.Fprintf(t.errw, "Nodes file on node %d differs from node %d\n", pnns[i+1], pnns[0])
			return 1
		}
	}
	changed := len(want.Nodes) != len(m.Nodes)
	for i, n := range want.Nodes {
		if i >= len(m.Nodes) {
			fmt.Fprintf(t.out, "Node %d is NEW\n", n.PNN)
			continue
		}
		old := m.Nodes[i]
		if n.Flags&protocol.NodeFlagsDeleted != 0 {
			if old.Flags&protocol.NodeFlagsDeleted == 0 {
				if old.Flags&protocol.NodeFlagsDisconnected == 0 {
					fmt.Fprintf(t.errw, "ERROR: Node %d is still connected\n", n.PNN)
					return 1
				}
				fmt.Fprintf(t.out, "Node %d is DELETED\n", n.PNN)
				changed = true
			}
			continue
		}
		if old.Flags&protocol.NodeFlagsDeleted != 0 {
			fmt.Fprintf(t.out, "Node %d is UNDELETED\n", n.PNN)
			changed = true
			continue
		}
		if n.Addr.Addr != old.Addr.Addr {
			fmt.Fprintf(t.errw, "Node %d has changed IP address (was %s, now %s)\n", n.PNN, addrString(old.Addr), addrString(n.Addr))
			return 1
		}
	}
	if !changed {
		fmt.Fprintln(t.errw, "No change in nodes file, skipping unnecessary reload")
		return 0
	}
	// Hold recoveries off while the nodes change their maps, then allow them.
	if r := t.disableRecoveries(pnns, uint32(t.timeout/time.Second)); r != 0 {
		return r
	}
	for _, p := range pnns {
		if r := t.control(p, protocol.ControlReloadNodesFile, nil); r != 0 {
			fmt.Fprintf(t.errw, "Failed to reload nodes file on node %d\n", p)
			return r
		}
	}
	return t.disableRecoveries(pnns, 0)
}

func sameNodes(a, b *protocol.NodeMap) bool {
	if len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		if a.Nodes[i].Addr.Addr != b.Nodes[i].Addr.Addr || a.Nodes[i].Flags != b.Nodes[i].Flags {
			return false
		}
	}
	return true
}
