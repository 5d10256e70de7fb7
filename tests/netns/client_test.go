package netns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"github.com/ctdb-go/ctdb/tests/cluster"
	"github.com/vishvananda/netns"
)

// inNS runs fn with the calling OS thread in network namespace name; sockets fn creates
// stay in that namespace.
func inNS(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	fn()
}

func mac(t *testing.T, ns string) string {
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "dev", "eth0").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	for i, w := range f {
		if w == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no MAC in %q", out)
	return ""
}

// tcpClient registers a client connection with node i's daemon as smbd does.
func tcpClient(t *testing.T, sock string, client, server netip.AddrPort) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	c := protocol.Connection{Src: protocol.SockAddrOf(client), Dst: protocol.SockAddrOf(server)}
	req, _ := protocol.NewReqControl(protocol.ControlTCPClient, &c)
	pkt, _ := protocol.Marshal(protocol.Header{DestNode: protocol.CurrentNode, ReqID: 7}, req)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf, err := transport.ReadFrame(conn, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, p, err := protocol.Unmarshal(buf); err != nil || p.(*protocol.ReplyControl).Status != 0 {
		t.Fatalf("TCP_CLIENT: %v %+v", err, p)
	}
}

// TestClientSeesFailover: a client connected to a public address, whose connection was
// registered with TCP_CLIENT, learns the new holder's MAC and has its stale connection
// reset right after the holder's daemon is killed and the address moves.
func TestClientSeesFailover(t *testing.T) {
	c := cluster.New(t, cluster.Ours, 3, cluster.Options{
		PublicAddresses: publicAddrs,
		Tunables:        []string{"KeepaliveInterval=1", "KeepaliveLimit=3", "MonitorInterval=1"},
	})
	client := c.Client("10.78.0.200/24")
	all := []int{0, 1, 2}
	for _, i := range all {
		c.Start(i)
	}
	c.WaitConverged("at start", all...)
	waitSpread(t, c, "at start", all, 2, 2)
	addr := "10.78.0.1"
	owner := holders(t, c)[addr][0]

	var ln net.Listener
	inNS(t, c.NS(owner), func() {
		var err error
		if ln, err = net.Listen("tcp", addr+":445"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			defer s.Close()
		}
	}()
	var conn net.Conn
	inNS(t, client, func() {
		var err error
		if conn, err = net.DialTimeout("tcp", addr+":445", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	local := netip.MustParseAddrPort(conn.LocalAddr().String())
	tcpClient(t, c.Socket(owner), local, netip.MustParseAddrPort(addr+":445"))
	time.Sleep(200 * time.Millisecond) // let TCP_ADD reach the other nodes

	c.KillDaemon(owner)
	waitSpread(t, c, "after the owner's daemon died", without(all, owner), 3, 3)
	newOwner := holders(t, c)[addr][0]

	// The client's stale connection is reset without it sending anything.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read after failover: %v, want ECONNRESET", err)
	}
	// And its neighbour table already has the new holder's MAC.
	out, _ := exec.Command("ip", "-n", client, "neigh", "show", addr).Output()
	if want := mac(t, c.NS(newOwner)); !strings.Contains(string(out), want) {
		t.Errorf("client neighbour entry %q, want the new holder's MAC %s", out, want)
	}
}
