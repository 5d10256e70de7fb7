package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pnnHandler answers GET_PNN with 2 and PING with the number of clients; it records
// other packets and departures.
type pnnHandler struct {
	s     *Server
	mu    sync.Mutex
	other []protocol.Packet
	gone  []uint32
}

func (h *pnnHandler) Control(c *Client, hdr protocol.Header, req *protocol.ReqControl) *protocol.ReplyControl {
	switch req.Opcode {
	case protocol.ControlGetPNN:
		return &protocol.ReplyControl{Status: 2}
	case protocol.ControlPing:
		return &protocol.ReplyControl{Status: int32(len(h.s.Clients()))}
	case protocol.ControlRegisterSrvID, protocol.ControlDeregisterSrvID:
		return &protocol.ReplyControl{}
	}
	return &protocol.ReplyControl{Status: -1, ErrMsg: "not implemented"}
}

func (h *pnnHandler) Packet(c *Client, hdr protocol.Header, p protocol.Packet) {
	h.mu.Lock()
	h.other = append(h.other, p)
	h.mu.Unlock()
}

func (h *pnnHandler) Gone(c *Client) {
	h.mu.Lock()
	h.gone = append(h.gone, c.ID)
	h.mu.Unlock()
}

func start(t *testing.T) (*Server, *pnnHandler, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run", "ctdb")
	path := filepath.Join(dir, "ctdbd.socket")
	h := &pnnHandler{}
	s := New(Config{Path: path, QueueLimit: 100}, h)
	h.s = s
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, h, path
}

func control(t *testing.T, c net.Conn, reqid uint32, op protocol.Opcode) *protocol.ReplyControl {
	t.Helper()
	req, _ := protocol.NewReqControl(op, nil)
	pkt, err := protocol.Marshal(protocol.Header{DestNode: protocol.CurrentNode, ReqID: reqid}, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf, err := transport.ReadFrame(c, false)
	if err != nil {
		t.Fatal(err)
	}
	hdr, p, err := protocol.Unmarshal(buf)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.ReqID != reqid || hdr.Operation != protocol.OpReplyControl {
		t.Fatalf("reply header %+v", hdr)
	}
	return p.(*protocol.ReplyControl)
}

func TestControlsAndPermissions(t *testing.T) {
	s, _, path := start(t)
	st, err := os.Stat(filepath.Dir(path))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, want 0700", st.Mode().Perm())
	}
	st, err = os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", st.Mode().Perm())
	}
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := control(t, c, 7, protocol.ControlGetPNN); r.Status != 2 {
		t.Errorf("GET_PNN status %d", r.Status)
	}
	if r := control(t, c, 8, protocol.ControlPing); r.Status != 1 {
		t.Errorf("PING status %d, want 1 client", r.Status)
	}
	cl := s.Clients()
	if len(cl) != 1 || cl[0].PID != os.Getpid() {
		t.Errorf("clients %+v, want one with our PID %d", cl, os.Getpid())
	}
}

// TestUnpaddedAndMalformed: smbd sends unpadded lengths, which are fine; a malformed
// packet disconnects the client (and only it).
func TestUnpaddedAndMalformed(t *testing.T) {
	s, h, path := start(t)
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := &protocol.ReqMessage{SrvID: 42, Data: []byte("abc")}
	pkt, _ := protocol.Marshal(protocol.Header{DestNode: protocol.CurrentNode}, msg)
	// Strip the padding: 32 header + 8 srvid + 4 datalen + 3 data = 47 bytes.
	pkt = pkt[:47]
	binary.NativeEndian.PutUint32(pkt, 47)
	c.Write(pkt)
	if r := control(t, c, 1, protocol.ControlGetPNN); r.Status != 2 {
		t.Fatalf("control after unpadded message: %d", r.Status)
	}
	h.mu.Lock()
	if len(h.other) != 1 || !bytes.Equal(h.other[0].(*protocol.ReqMessage).Data, []byte("abc")) {
		t.Errorf("message not delivered: %+v", h.other)
	}
	h.mu.Unlock()

	bad := make([]byte, 32)
	binary.NativeEndian.PutUint32(bad, 32)
	copy(bad[4:], "XXXX") // wrong magic
	c.Write(bad)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("client with a malformed packet not disconnected")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Clients()) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.gone) != 1 {
		t.Errorf("Gone called %d times", len(h.gone))
	}
}

// TestSocketInUse: a second daemon on the same socket is refused; a stale socket file is
// replaced.
func TestSocketInUse(t *testing.T) {
	_, _, path := start(t)
	if err := New(Config{Path: path}, &pnnHandler{}).Listen(); err == nil || !strings.Contains(err.Error(), "another daemon is listening") {
		t.Errorf("second daemon: %v", err)
	}
	stale := filepath.Join(t.TempDir(), "stale.socket")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	h := &pnnHandler{}
	s := New(Config{Path: stale}, h)
	h.s = s
	if err := s.Listen(); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	s.Close()
}

// TestRealCtdbTool: Debian's ctdb tool talks to the server (skipped without it).
func TestRealCtdbTool(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ctdb"); err != nil {
		t.Skip("Debian's ctdb tool is not installed")
	}
	_, _, path := start(t)
	cmd := exec.Command("timeout", "20", "/usr/bin/ctdb", "-t", "5", "pnn")
	cmd.Env = append(os.Environ(), "CTDB_SOCKET="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "2" {
		t.Errorf("ctdb pnn: %q %v", out, err)
	}
}
