// Package client talks to a ctdbd over its Unix socket, as the ctdb tool and
// other local clients do: it sends controls to the local daemon or, through
// it, to any node of the cluster, and waits for their replies; it registers
// message ports (srvids) and delivers the messages that arrive on them.
//
// A Conn is safe for concurrent use by several goroutines: requests are
// matched to replies by request id, and one reader goroutine dispatches
// everything the daemon sends. Every wait is bounded by the caller's
// context, so a daemon that never answers cannot hang a caller that set a
// deadline.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// SocketPath returns the daemon's socket path: $CTDB_SOCKET if set, else the
// default path our ctdbd listens on (sysconfig.DefaultSocket, the same file
// as Debian's /run/ctdb/ctdbd.socket where /var/run links to /run).
func SocketPath(getenv func(string) string) string {
	if getenv != nil {
		if p := getenv("CTDB_SOCKET"); p != "" {
			return p
		}
	}
	return sysconfig.DefaultSocket
}

// ErrClosed is returned for requests on a connection that is closed, by
// Close or because the daemon went away.
var ErrClosed = errors.New("client: connection to ctdbd closed")

// ControlError is a control that the daemon answered with a non-zero status
// where success was required.
type ControlError struct {
	Op     protocol.Opcode
	Node   uint32
	Status int32
	Msg    string // the daemon's error message, often empty
}

func (e *ControlError) Error() string {
	s := fmt.Sprintf("control %v to node %s failed, ret=%d", e.Op, nodeName(e.Node), e.Status)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func nodeName(pnn uint32) string {
	if pnn == protocol.CurrentNode {
		return "local"
	}
	return fmt.Sprint(pnn)
}

// DialError is a failed connection to the socket; Errno is the system error
// number (ENOENT when no daemon created the socket, ECONNREFUSED when none
// listens on it), 0 if unknown.
type DialError struct {
	Path  string
	Errno syscall.Errno
	Err   error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("client: cannot connect to ctdbd at %s: %v (is ctdbd running? set CTDB_SOCKET to its socket)", e.Path, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// Conn is a connection to one ctdbd. Create it with Dial; Close it when done.
type Conn struct {
	nc net.Conn

	wmu sync.Mutex // serialises writes

	mu       sync.Mutex
	reqid    uint32
	srcnode  uint32
	pending  map[uint32]chan *protocol.ReplyControl
	handlers map[uint64]chan *protocol.ReqMessage
	err      error // why the reader stopped

	done chan struct{} // closed when the reader stops
}

// messageBuffer is how many messages per srvid wait for the receiver; more
// are dropped (a tool that does not read its messages must not block the
// connection's replies).
const messageBuffer = 64

// Dial connects to the daemon's socket at path.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		de := &DialError{Path: path, Err: err}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			de.Errno = errno
		}
		return nil, de
	}
	c := &Conn{
		nc:       nc,
		reqid:    0x7fffff00, // any start works; CTDB's tool starts near here too
		srcnode:  protocol.UnknownPNN,
		pending:  map[uint32]chan *protocol.ReplyControl{},
		handlers: map[uint64]chan *protocol.ReqMessage{},
		done:     make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// Close closes the connection; pending requests fail with ErrClosed.
func (c *Conn) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}

// Done is closed when the connection has ended (Close, or the daemon closed
// it, as ctdbd does when it shuts down).
func (c *Conn) Done() <-chan struct{} { return c.done }

// SetSourceNode sets the source PNN written into the headers of later
// requests (the tool sets its node's PNN once it knows it).
func (c *Conn) SetSourceNode(pnn uint32) {
	c.mu.Lock()
	c.srcnode = pnn
	c.mu.Unlock()
}

func (c *Conn) readLoop() {
	defer close(c.done)
	var err error
	for {
		var pkt []byte
		pkt, err = readFrame(c.nc)
		if err != nil {
			break
		}
		h, p, perr := protocol.Unmarshal(pkt)
		if perr != nil {
			// A packet we cannot decode: skip it rather than lose the stream
			// (framing is intact: the length was valid).
			continue
		}
		switch p := p.(type) {
		case *protocol.ReplyControl:
			c.mu.Lock()
			ch := c.pending[h.ReqID]
			delete(c.pending, h.ReqID)
			c.mu.Unlock()
			if ch != nil {
				ch <- p
			}
		case *protocol.ReqMessage:
			c.mu.Lock()
			ch := c.handlers[p.SrvID]
			c.mu.Unlock()
			if ch != nil {
				select {
				case ch <- p:
				default:
				}
			}
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	}
	c.mu.Lock()
	c.err = err
	for id := range c.pending {
		delete(c.pending, id) // their waiters see done
	}
	c.mu.Unlock()
}

// readFrame reads one packet from the daemon (no alignment required on the socket).
func readFrame(r io.Reader) ([]byte, error) {
	pkt, err := transport.ReadFrame(r, false)
	var fe *protocol.FieldError
	if errors.As(err, &fe) {
		return nil, fmt.Errorf("client: bad packet from ctdbd: %w", err)
	}
	return pkt, err
}

// closedErr is the reason the connection ended.
func (c *Conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

func (c *Conn) send(h protocol.Header, p protocol.Packet) error {
	pkt, err := protocol.Marshal(h, p)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.nc.Write(pkt); err != nil {
		select {
		case <-c.done:
			return c.closedErr()
		default:
		}
		return fmt.Errorf("client: write to ctdbd: %w", err)
	}
	return nil
}

// Request sends a control request to node dest (a PNN or
// protocol.CurrentNode) and waits for its reply until ctx ends. A reply with
// a non-zero status is returned as is, without error: many controls carry
// their result in the status.
func (c *Conn) Request(ctx context.Context, dest uint32, req *protocol.ReqControl) (*protocol.ReplyControl, error) {
	ch := make(chan *protocol.ReplyControl, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.reqid++
	id := c.reqid
	src := c.srcnode
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	if err := c.send(protocol.Header{DestNode: dest, SrcNode: src, ReqID: id}, req); err != nil {
		forget()
		return nil, err
	}
	if req.Flags&protocol.ControlFlagNoReply != 0 {
		forget()
		return &protocol.ReplyControl{}, nil
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("control %v to node %s: %w", req.Opcode, nodeName(dest), ctx.Err())
	case <-c.done:
		// A reply read just before the end is still good.
		select {
		case r := <-ch:
			return r, nil
		default:
		}
		return nil, c.closedErr()
	}
}

// Control sends control op with payload p (nil for none) to node dest and
// waits for the reply. It fails with *ControlError when the status is
// negative, the convention of controls that return data; controls whose
// value is the status (PING, GET_PID, GET_PNN, GET_RECMODE ...) should use
// Request or ControlStatus.
func (c *Conn) Control(ctx context.Context, dest uint32, op protocol.Opcode, p protocol.Payload) (*protocol.ReplyControl, error) {
	req, err := protocol.NewReqControl(op, p)
	if err != nil {
		return nil, err
	}
	r, err := c.Request(ctx, dest, req)
	if err != nil {
		return nil, err
	}
	if r.Status != 0 {
		return r, &ControlError{Op: op, Node: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return r, nil
}

// ControlData is Control that also decodes the reply into out (the typed
// reply payload of op).
func (c *Conn) ControlData(ctx context.Context, dest uint32, op protocol.Opcode, p, out protocol.Payload) error {
	r, err := c.Control(ctx, dest, op, p)
	if err != nil {
		return err
	}
	if err := protocol.UnmarshalPayload(r.Data, out); err != nil {
		return fmt.Errorf("control %v to node %s: bad reply: %w", op, nodeName(dest), err)
	}
	return nil
}

// ControlStatus sends a control without payload whose result is the reply
// status (PING: client count, GET_PID, GET_PNN, GET_RECMODE). A negative
// status is a *ControlError.
func (c *Conn) ControlStatus(ctx context.Context, dest uint32, op protocol.Opcode) (int32, error) {
	r, err := c.Request(ctx, dest, &protocol.ReqControl{Opcode: op})
	if err != nil {
		return 0, err
	}
	if r.Status < 0 {
		return r.Status, &ControlError{Op: op, Node: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return r.Status, nil
}

// Register registers srvid with node dest's daemon (normally the local one)
// and returns the channel on which the messages sent to it arrive. The
// channel holds up to 64 messages; further ones are dropped until the
// caller reads. Registering the same srvid twice returns the same channel.
func (c *Conn) Register(ctx context.Context, dest uint32, srvid uint64) (<-chan *protocol.ReqMessage, error) {
	c.mu.Lock()
	ch := c.handlers[srvid]
	if ch == nil {
		ch = make(chan *protocol.ReqMessage, messageBuffer)
		c.handlers[srvid] = ch
	}
	c.mu.Unlock()
	r, err := c.Request(ctx, dest, &protocol.ReqControl{Opcode: protocol.ControlRegisterSrvID, SrvID: srvid})
	if err == nil && r.Status != 0 {
		err = &ControlError{Op: protocol.ControlRegisterSrvID, Node: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	if err != nil {
		c.mu.Lock()
		delete(c.handlers, srvid)
		c.mu.Unlock()
		return nil, err
	}
	return ch, nil
}

// Deregister removes the registration of srvid; messages already queued are
// dropped with the channel.
func (c *Conn) Deregister(ctx context.Context, dest uint32, srvid uint64) error {
	r, err := c.Request(ctx, dest, &protocol.ReqControl{Opcode: protocol.ControlDeregisterSrvID, SrvID: srvid})
	c.mu.Lock()
	delete(c.handlers, srvid)
	c.mu.Unlock()
	if err == nil && r.Status != 0 {
		err = &ControlError{Op: protocol.ControlDeregisterSrvID, Node: dest, Status: r.Status, Msg: r.ErrMsg}
	}
	return err
}

// SendMessage sends a message with payload p (nil for none) to srvid on
// node dest (a PNN, protocol.CurrentNode or a broadcast address). Messages
// have no reply; protocols that want one name a srvid of the sender's.
func (c *Conn) SendMessage(dest uint32, srvid uint64, p protocol.Payload) error {
	m, err := protocol.NewReqMessage(srvid, p)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.reqid++
	id, src := c.reqid, c.srcnode
	c.mu.Unlock()
	return c.send(protocol.Header{DestNode: dest, SrcNode: src, ReqID: id}, m)
}
