package onnode

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// DaemonStatus asks the local ctdbd at sock (default: the daemon's default socket) for
// its node map (GET_NODEMAP) and returns every node's flags. It gives up after 10 s or
// when ctx ends.
func DaemonStatus(ctx context.Context, sock string) ([]NodeState, error) {
	if sock == "" {
		sock = sysconfig.DefaultSocket
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to ctdbd at %s (is it running? set CTDB_SOCKET): %w", sock, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req, err := protocol.NewReqControl(protocol.ControlGetNodeMap, nil)
	if err != nil {
		return nil, err
	}
	pkt, err := protocol.Marshal(protocol.Header{DestNode: protocol.CurrentNode, ReqID: 1}, req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(pkt); err != nil {
		return nil, fmt.Errorf("sending GET_NODEMAP to %s: %w", sock, err)
	}
	for {
		buf, err := transport.ReadFrame(conn, false)
		if err != nil {
			return nil, fmt.Errorf("waiting for the node map from %s: %w", sock, err)
		}
		h, p, err := protocol.Unmarshal(buf)
		if err != nil {
			return nil, fmt.Errorf("reply from %s: %w", sock, err)
		}
		r, ok := p.(*protocol.ReplyControl)
		if !ok || h.ReqID != 1 {
			continue
		}
		if r.Status != 0 {
			return nil, fmt.Errorf("GET_NODEMAP failed on %s, status %d: %s", sock, r.Status, r.ErrMsg)
		}
		pl, err := r.DecodeReply(protocol.ControlGetNodeMap)
		if err != nil {
			return nil, err
		}
		var out []NodeState
		for _, n := range pl.(*protocol.NodeMap).Nodes {
			out = append(out, NodeState{PNN: n.PNN, Flags: n.Flags})
		}
		return out, nil
	}
}
