package daemon

import (
	"fmt"
	"net/netip"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// reloadNodes re-reads the nodes file (ctdb reloadnodes). As in CTDB, nodes may only
// be added at the end or deleted (their line turned into a # line, which keeps the
// numbering); a deleted node may come back. Changing a node's address, removing lines
// or deleting this node are refused with the reason. Runs on the loop.
func (d *Daemon) reloadNodes() error {
	nodes, err := sysconfig.ReadNodes(d.cfg.Cluster.NodesList)
	if err != nil {
		return err
	}
	if len(nodes) < len(d.nodes) {
		return fmt.Errorf("the nodes file %s has %d nodes, fewer than the %d running: delete a node by turning its line into a # line, never by removing it", d.cfg.Cluster.NodesList, len(nodes), len(d.nodes))
	}
	for i, n := range nodes[:len(d.nodes)] {
		cur := d.nodes[i]
		curDeleted := cur.flags&protocol.NodeFlagsDeleted != 0
		switch {
		case n.Deleted && uint32(i) == d.self:
			return fmt.Errorf("the nodes file deletes this node (%d): stop it first", d.self)
		case !n.Deleted && !curDeleted && n.Addr != cur.addr:
			return fmt.Errorf("node %d changed its address from %s to %s: delete the node (# line) and add the new address at the end instead", i, cur.addr, n.Addr)
		}
	}
	for i, n := range nodes {
		if i >= len(d.nodes) {
			d.nodes = append(d.nodes, &nodeState{pnn: uint32(i)})
		}
		cur := d.nodes[i]
		switch {
		case n.Deleted && cur.flags&protocol.NodeFlagsDeleted == 0:
			d.log.Warn("node deleted from the cluster", "pnn", i)
			cur.connected = false
			cur.flags = protocol.NodeFlagsDeleted
			cur.addr = netip.Addr{}
		case !n.Deleted && (cur.flags&protocol.NodeFlagsDeleted != 0 || !cur.addr.IsValid()):
			d.log.Info("node added to the cluster", "pnn", i, "address", n.Addr.String())
			cur.addr = n.Addr
			cur.flags = protocol.NodeFlagsDisconnected | protocol.NodeFlagsUnhealthy
		}
	}
	d.cfg.Nodes = nodes
	if t, ok := d.tr.(interface {
		SetNodes(map[uint32]netip.Addr) error
	}); ok {
		addrs := map[uint32]netip.Addr{}
		for _, n := range d.nodes {
			if n.flags&protocol.NodeFlagsDeleted == 0 {
				addrs[n.pnn] = n.addr
			}
		}
		if err := t.SetNodes(addrs); err != nil {
			return err
		}
	}
	d.election.SetNodes(liveNodes(d.nodes))
	d.needRecover = true
	return nil
}

func liveNodes(nodes []*nodeState) int {
	n := 0
	for _, x := range nodes {
		if x.flags&protocol.NodeFlagsDeleted == 0 {
			n++
		}
	}
	return n
}
