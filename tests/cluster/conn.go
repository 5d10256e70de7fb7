package cluster

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
)

// conn is a minimal client of a node's Unix socket (either daemon): controls to the
// local node, and the leader broadcast.
type conn struct {
	c     net.Conn
	reqid uint32
}

func dial(sock string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("unix", sock, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	return &conn{c: c}, nil
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) send(req *protocol.ReqControl) (uint32, error) {
	c.reqid++
	pkt, err := protocol.Marshal(protocol.Header{DestNode: protocol.CurrentNode, ReqID: c.reqid}, req)
	if err != nil {
		return 0, err
	}
	_, err = c.c.Write(pkt)
	return c.reqid, err
}

// next reads the next packet.
func (c *conn) next() (protocol.Header, protocol.Packet, error) {
	buf, err := transport.ReadFrame(c.c, false)
	if err != nil {
		return protocol.Header{}, nil, err
	}
	return protocol.Unmarshal(buf)
}

// raw sends a control with no payload and returns its reply (skipping messages).
func (c *conn) raw(op protocol.Opcode, srvid uint64) (*protocol.ReplyControl, error) {
	req, err := protocol.NewReqControl(op, nil)
	if err != nil {
		return nil, err
	}
	req.SrvID = srvid
	id, err := c.send(req)
	if err != nil {
		return nil, fmt.Errorf("control %v: %w", op, err)
	}
	for {
		h, p, err := c.next()
		if err != nil {
			return nil, fmt.Errorf("control %v: %w", op, err)
		}
		if r, ok := p.(*protocol.ReplyControl); ok && h.ReqID == id {
			return r, nil
		}
	}
}

// control sends a control and decodes its reply payload; a non-zero status is an error.
func (c *conn) control(op protocol.Opcode, srvid uint64) (protocol.Payload, error) {
	r, err := c.raw(op, srvid)
	if err != nil {
		return nil, err
	}
	if r.Status != 0 {
		return nil, fmt.Errorf("control %v failed, status %d: %s", op, r.Status, r.ErrMsg)
	}
	return r.DecodeReply(op)
}

// leader registers for the leader broadcast and waits for one (up to the deadline).
func (c *conn) leader() (uint32, error) {
	r, err := c.raw(protocol.ControlRegisterSrvID, protocol.SrvIDLeader)
	if err != nil {
		return 0, err
	}
	if r.Status != 0 {
		return 0, fmt.Errorf("register leader srvid: status %d", r.Status)
	}
	for {
		_, p, err := c.next()
		if err != nil {
			return 0, fmt.Errorf("waiting for the leader broadcast: %w", err)
		}
		if m, ok := p.(*protocol.ReqMessage); ok && m.SrvID == protocol.SrvIDLeader && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), nil
		}
	}
}
