package client

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// fakeDaemon answers GET_PNN with status 3 and PING never; REGISTER_SRVID is
// answered and followed by a message to the srvid; SHUTDOWN closes the
// connection without a reply.
func fakeDaemon(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ctdbd.socket")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			pkt, err := readFrame(c)
			if err != nil {
				return
			}
			h, p, err := protocol.Unmarshal(pkt)
			if err != nil {
				t.Errorf("fake daemon: %v", err)
				return
			}
			req, ok := p.(*protocol.ReqControl)
			if !ok {
				continue
			}
			var out []protocol.Packet
			switch req.Opcode {
			case protocol.ControlGetPNN:
				out = append(out, &protocol.ReplyControl{Status: 3})
			case protocol.ControlRegisterSrvID:
				out = append(out, &protocol.ReplyControl{}, &protocol.ReqMessage{SrvID: req.SrvID, Data: []byte{7, 0, 0, 0}})
			case protocol.ControlGetDebug:
				out = append(out, &protocol.ReplyControl{Status: -1, ErrMsg: "no"})
			case protocol.ControlShutdown:
				return
			}
			for _, o := range out {
				b, err := protocol.Marshal(protocol.Header{ReqID: h.ReqID}, o)
				if err != nil {
					t.Errorf("fake daemon: %v", err)
					return
				}
				if _, err := c.Write(b); err != nil {
					return
				}
			}
		}
	}()
	return sock
}

func TestConn(t *testing.T) {
	c, err := Dial(context.Background(), fakeDaemon(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if pnn, err := c.ControlStatus(ctx, protocol.CurrentNode, protocol.ControlGetPNN); err != nil || pnn != 3 {
		t.Errorf("GET_PNN = %d, %v; want 3", pnn, err)
	}
	var v protocol.Uint32
	var ce *ControlError
	if err := c.ControlData(ctx, 3, protocol.ControlGetDebug, nil, &v); !errors.As(err, &ce) || ce.Status != -1 || ce.Msg != "no" {
		t.Errorf("GET_DEBUG error = %v; want a ControlError with status -1 and message", err)
	}
	ch, err := c.Register(ctx, 3, 0xCE01000000000001)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if m.SrvID != 0xCE01000000000001 || len(m.Data) != 4 || m.Data[0] != 7 {
			t.Errorf("message %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("no message delivered to the registered srvid")
	}

	// PING gets no answer: the caller's deadline ends the wait.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.ControlStatus(short, 3, protocol.ControlPing); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered PING: %v; want deadline exceeded", err)
	}

	// SHUTDOWN: the daemon hangs up; the request and later ones fail.
	if _, err := c.Control(ctx, 3, protocol.ControlShutdown, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SHUTDOWN: %v; want ErrClosed", err)
	}
	<-c.Done()
	if _, err := c.ControlStatus(ctx, 3, protocol.ControlGetPNN); err == nil {
		t.Error("request on a closed connection succeeded")
	}
}

func TestDialErrno(t *testing.T) {
	_, err := Dial(context.Background(), filepath.Join(t.TempDir(), "none"))
	var de *DialError
	if !errors.As(err, &de) || de.Errno != 2 {
		t.Fatalf("Dial of a missing socket: %v; want a DialError with ENOENT", err)
	}
}

func TestSocketPath(t *testing.T) {
	if p := SocketPath(func(string) string { return "/x/s" }); p != "/x/s" {
		t.Errorf("with CTDB_SOCKET: %q", p)
	}
	if p := SocketPath(func(string) string { return "" }); p == "" {
		t.Error("default socket path is empty")
	}
}
