// Package server is the daemon's end of the Unix socket that local clients (smbd, the
// ctdb tool, event scripts) talk to: CTDB packets framed by their length field (the
// socket does not require 8-byte padding; smbd sends unpadded lengths), one goroutine
// reading and one writing per client, and a Handler that answers.
//
// Only root can talk to the daemon: the socket's directory is made mode 0700 and the
// socket 0600.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
)

// Handler answers what clients send. Its methods are called from the clients' reader
// goroutines: concurrently for different clients, one at a time for one client, so a
// handler that blocks delays that client only. A handler that cannot answer at once
// returns nil and answers later with Client.Send.
type Handler interface {
	// Control handles a control request; a non-nil reply is sent back with the
	// request's reqid (unless the request has ControlFlagNoReply).
	Control(c *Client, h protocol.Header, req *protocol.ReqControl) *protocol.ReplyControl
	// Packet handles every other operation (messages, calls).
	Packet(c *Client, h protocol.Header, p protocol.Packet)
	// Gone is called once when a client disconnects.
	Gone(c *Client)
}

// Config configures a Server.
type Config struct {
	// Path of the socket (CTDB_SOCKET).
	Path string
	// QueueLimit bounds the packets queued for one client (CTDB's MaxQueueDropMsg);
	// a client that does not read is disconnected beyond it. Default 1000000.
	QueueLimit int
	Logger     *slog.Logger
}

// Server accepts clients on a Unix socket. Safe for concurrent use.
type Server struct {
	cfg    Config
	h      Handler
	log    *slog.Logger
	ln     *net.UnixListener
	nextID atomic.Uint32

	mu      sync.Mutex
	clients map[uint32]*Client
	closed  bool
	wg      sync.WaitGroup
}

// Client is one connected client. Send is safe for concurrent use.
type Client struct {
	// ID identifies the client within this daemon (the client_id of controls).
	ID uint32
	// PID is the client's process ID (from SO_PEERCRED); 0 if unknown.
	PID int
	// UID is the client's user ID.
	UID int

	s      *Server
	conn   *net.UnixConn
	once   sync.Once
	done   chan struct{}
	values sync.Map

	qmu   sync.Mutex
	qcond *sync.Cond
	queue [][]byte
}

// New returns a server for cfg and h; Listen starts it.
func New(cfg Config, h Handler) *Server {
	if cfg.QueueLimit == 0 {
		cfg.QueueLimit = 1000000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, h: h, log: log, clients: map[uint32]*Client{}}
}

// Listen creates the socket: the directory is created if needed and restricted to its
// owner (0700); a stale socket left by a dead daemon is replaced, but a live one (another
// ctdbd answering on it) is an error.
func (s *Server) Listen() error {
	dir := filepath.Dir(s.cfg.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: cannot create socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("server: cannot restrict socket directory %s to root: %w", dir, err)
	}
	if _, err := os.Lstat(s.cfg.Path); err == nil {
		c, err := net.DialTimeout("unix", s.cfg.Path, time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("server: another daemon is listening on %s: stop it first, or set CTDB_SOCKET to another path", s.cfg.Path)
		}
		if err := os.Remove(s.cfg.Path); err != nil {
			return fmt.Errorf("server: cannot remove stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.cfg.Path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("server: cannot listen on %s: %w", s.cfg.Path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(s.cfg.Path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("server: %w", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.acceptLoop()
	return nil
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			s.log.Warn("server: accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		c := &Client{ID: s.nextID.Add(1), s: s, conn: conn, done: make(chan struct{})}
		c.qcond = sync.NewCond(&c.qmu)
		if cred, err := peerCred(conn); err == nil {
			c.PID, c.UID = int(cred.Pid), int(cred.Uid)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.clients[c.ID] = c
		s.mu.Unlock()
		s.wg.Add(2)
		go c.readLoop()
		go c.writeLoop()
	}
}

func peerCred(c *net.UnixConn) (*syscall.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, cerr
}

// Clients returns the connected clients.
func (s *Server) Clients() []*Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c)
	}
	return out
}

// Client returns the client with the given ID, or nil.
func (s *Server) Client(id uint32) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

// Close stops accepting, disconnects every client and waits for the server's
// goroutines. It must not be called from a Handler method.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	clients := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for _, c := range clients {
		c.close()
	}
	s.wg.Wait()
	return err
}

// readLoop reads packets until the client goes away or sends garbage.
func (c *Client) readLoop() {
	s := c.s
	defer s.wg.Done()
	defer c.close()
	for {
		pkt, err := transport.ReadFrame(c.conn, false)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Info("server: dropping client", "client", c.ID, "pid", c.PID, "err", err)
			}
			return
		}
		h, p, err := protocol.Unmarshal(pkt)
		if err != nil {
			if errors.Is(err, protocol.ErrUnknown) {
				s.log.Info("server: ignoring unknown operation from client", "client", c.ID, "op", h.Operation)
				continue
			}
			s.log.Info("server: dropping client after a malformed packet", "client", c.ID, "pid", c.PID, "err", err)
			return
		}
		if req, ok := p.(*protocol.ReqControl); ok {
			req.ClientID = c.ID
			reply := s.h.Control(c, h, req)
			if reply != nil && req.Flags&protocol.ControlFlagNoReply == 0 {
				c.Reply(h, reply)
			}
			continue
		}
		s.h.Packet(c, h, p)
	}
}

func (c *Client) writeLoop() {
	defer c.s.wg.Done()
	for {
		c.qmu.Lock()
		for len(c.queue) == 0 {
			select {
			case <-c.done:
				c.qmu.Unlock()
				return
			default:
			}
			c.qcond.Wait()
		}
		batch := c.queue
		c.queue = nil
		c.qmu.Unlock()
		for _, pkt := range batch {
			if _, err := c.conn.Write(pkt); err != nil {
				c.close()
				return
			}
		}
	}
}

// Send queues an encoded packet for the client. It never blocks: a client with
// QueueLimit packets waiting is not reading and is disconnected, as CTDB drops clients
// beyond MaxQueueDropMsg.
func (c *Client) Send(pkt []byte) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	c.qmu.Lock()
	if len(c.queue) >= c.s.cfg.QueueLimit {
		c.qmu.Unlock()
		c.s.log.Warn("server: client does not read what it is sent, disconnecting", "client", c.ID, "pid", c.PID, "queued", c.s.cfg.QueueLimit)
		c.close()
		return fmt.Errorf("server: client %d is not reading", c.ID)
	}
	c.queue = append(c.queue, pkt)
	c.qcond.Signal()
	c.qmu.Unlock()
	return nil
}

// Reply sends a reply to the request with header req: the reqid is copied and the
// destination is the client.
func (c *Client) Reply(req protocol.Header, p protocol.Packet) error {
	h := protocol.Header{Generation: req.Generation, DestNode: req.SrcNode, SrcNode: req.DestNode, ReqID: req.ReqID}
	pkt, err := protocol.Marshal(h, p)
	if err != nil {
		return err
	}
	return c.Send(pkt)
}

// Value returns per-client state kept by the handler (e.g. registered srvids).
func (c *Client) Value(key any) (any, bool) { return c.values.Load(key) }

// SetValue stores per-client state.
func (c *Client) SetValue(key, v any) { c.values.Store(key, v) }

// Done is closed when the client has disconnected.
func (c *Client) Done() <-chan struct{} { return c.done }

func (c *Client) close() {
	c.once.Do(func() {
		close(c.done)
		c.qmu.Lock()
		c.queue = nil
		c.qcond.Broadcast()
		c.qmu.Unlock()
		c.conn.Close()
		s := c.s
		s.mu.Lock()
		delete(s.clients, c.ID)
		s.mu.Unlock()
		s.h.Gone(c)
	})
}

// Dial connects to a daemon's socket (for clients and tests).
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
