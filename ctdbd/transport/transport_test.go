package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that records what it is given.
type recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []string
	pkts   map[uint32][][]byte
}

func newRecorder() *recorder {
	r := &recorder{pkts: map[uint32][][]byte{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) Receive(pnn uint32, pkt []byte) {
	r.mu.Lock()
	r.pkts[pnn] = append(r.pkts[pnn], pkt)
	r.cond.Broadcast()
	r.mu.Unlock()
}
func (r *recorder) PeerUp(pnn uint32)   { r.event(fmt.Sprintf("up %d", pnn)) }
func (r *recorder) PeerDown(pnn uint32) { r.event(fmt.Sprintf("down %d", pnn)) }
func (r *recorder) event(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.cond.Broadcast()
	r.mu.Unlock()
}

// waitFor waits until cond (called with r.mu held) is true, failing after a generous
// limit: the limit guards against hangs, it is not a timing assertion.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	timer := time.AfterFunc(20*time.Second, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; events %v", what, r.events)
		}
		r.cond.Wait()
	}
}

func (r *recorder) count(e string) int {
	n := 0
	for _, x := range r.events {
		if x == e {
			n++
		}
	}
	return n
}

// packet builds a CTDB-like packet: length, then a payload marker.
func packet(n int, marker byte) []byte {
	p := make([]byte, n)
	binary.NativeEndian.PutUint32(p, uint32(n))
	for i := 4; i < n; i++ {
		p[i] = marker
	}
	return p
}

func TestPadAndReadPacket(t *testing.T) {
	p := Pad(packet(37, 7))
	if len(p) != 40 || binary.NativeEndian.Uint32(p) != 40 || p[36] != 7 || p[37] != 0 {
		t.Fatalf("Pad(37 bytes) = %d bytes, length field %d", len(p), binary.NativeEndian.Uint32(p))
	}
	got, err := ReadPacket(bytes.NewReader(p))
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("ReadPacket = %v, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"short length", packet(8, 0)},
		{"huge length", func() []byte {
			p := packet(32, 0)
			binary.NativeEndian.PutUint32(p, protocol.MaxPacketSize+8)
			return p
		}()},
		{"unaligned length", packet(33, 0)},
	} {
		if _, err := ReadPacket(bytes.NewReader(tc.data)); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := ReadPacket(bytes.NewReader(packet(40, 1)[:20])); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated packet: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func loopbackNodes(n int) map[uint32]netip.Addr {
	m := map[uint32]netip.Addr{}
	for i := 0; i < n; i++ {
		m[uint32(i)] = netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
	}
	return m
}

func startTCP(t *testing.T, self uint32, nodes map[uint32]netip.Addr, port int) (*TCP, *recorder) {
	t.Helper()
	tr, err := NewTCP(TCPConfig{Self: self, Nodes: nodes, Port: port, ReconnectInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	if err := tr.Start(r); err != nil {
		t.Fatal(err)
	}
	return tr, r
}

// TestTCPThreeNodes: every pair connects (both directions), packets arrive in order
// tagged with the sender's PNN, and a node that stops and restarts is reported down,
// then up again.
func TestTCPThreeNodes(t *testing.T) {
	port := freePort(t)
	nodes := loopbackNodes(3)
	trs := make([]*TCP, 3)
	recs := make([]*recorder, 3)
	for i := range trs {
		trs[i], recs[i] = startTCP(t, uint32(i), nodes, port)
	}
	defer func() {
		for _, tr := range trs {
			tr.Close()
		}
	}()
	for i, r := range recs {
		r.waitFor(t, fmt.Sprintf("node %d connected to both others", i), func() bool {
			n := 0
			for j := 0; j < 3; j++ {
				if j != i && r.count(fmt.Sprintf("up %d", j)) == 1 {
					n++
				}
			}
			return n == 2
		})
	}
	for k := 0; k < 100; k++ {
		if err := trs[0].Send(2, packet(33+k, byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	recs[2].waitFor(t, "100 packets", func() bool { return len(recs[2].pkts[0]) == 100 })
	for k, p := range recs[2].pkts[0] {
		if len(p)%8 != 0 || int(binary.NativeEndian.Uint32(p)) != len(p) || p[4] != byte(k) {
			t.Fatalf("packet %d: %d bytes, length field %d, marker %d", k, len(p), binary.NativeEndian.Uint32(p), p[4])
		}
	}
	if len(recs[1].pkts) != 0 {
		t.Errorf("node 1 received packets meant for node 2")
	}

	// Reset (a silent peer) drops both directions; the pair reconnects by itself.
	trs[0].Reset(1)
	recs[0].waitFor(t, "node 1 reset", func() bool { return recs[0].count("down 1") == 1 })
	recs[0].waitFor(t, "node 1 back", func() bool { return recs[0].count("up 1") == 2 })

	trs[2].Close()
	for _, i := range []int{0, 1} {
		recs[i].waitFor(t, "node 2 down", func() bool { return recs[i].count("down 2") == 1 })
	}
	if err := trs[0].Send(2, packet(32, 0)); err == nil {
		// The outgoing connection may not have noticed yet; it must eventually refuse.
		recs[0].waitFor(t, "node 2 down", func() bool { return recs[0].count("down 2") == 1 })
	}
	trs[2], recs[2] = startTCP(t, 2, nodes, port)
	for _, i := range []int{0, 1} {
		recs[i].waitFor(t, "node 2 up again", func() bool { return recs[i].count("up 2") == 2 })
	}
	recs[2].waitFor(t, "restarted node 2 connected", func() bool { return recs[2].count("up 0") == 1 && recs[2].count("up 1") == 1 })
}

// TestTCPRefusesStrangers: a connection from an address that is not in the nodes list
// is closed without any event; a node sending an absurd length is disconnected.
func TestTCPRefusesStrangers(t *testing.T) {
	port := freePort(t)
	nodes := loopbackNodes(2)
	tr, r := startTCP(t, 0, nodes, port)
	defer tr.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("stranger's connection: read %v, want EOF (closed by the node)", err)
	}
	c.Close()

	// Node 1's address connecting and sending garbage length.
	d = net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err = d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	bad := packet(32, 0)
	binary.NativeEndian.PutUint32(bad, 1<<31)
	c.Write(bad)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("oversized packet: read %v, want the connection closed", err)
	}
	c.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pkts) != 0 || r.count("up 1") != 0 {
		t.Errorf("stranger or bad peer produced events %v / packets %d", r.events, len(r.pkts))
	}
}

func TestTCPConfigErrors(t *testing.T) {
	if _, err := NewTCP(TCPConfig{Self: 5, Nodes: loopbackNodes(2)}); err == nil {
		t.Error("self not in nodes accepted")
	}
	n := loopbackNodes(2)
	n[1] = n[0]
	if _, err := NewTCP(TCPConfig{Self: 0, Nodes: n}); err == nil {
		t.Error("duplicate address accepted")
	}
}

// TestMemNetwork: partitions and cut links produce PeerDown/PeerUp on both sides,
// packets cross only live links, in order, with the configured delay.
func TestMemNetwork(t *testing.T) {
	net := NewNetwork()
	recs := make([]*recorder, 4)
	trs := make([]Transport, 4)
	for i := range trs {
		recs[i] = newRecorder()
		trs[i] = net.Transport(uint32(i))
		if err := trs[i].Start(recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, tr := range trs {
			tr.Close()
		}
	}()
	recs[0].waitFor(t, "node 0 sees 3 peers", func() bool { return len(recs[0].events) == 3 })

	net.Partition([]uint32{0, 1}, []uint32{2, 3})
	recs[0].waitFor(t, "0 loses 2 and 3", func() bool { return recs[0].count("down 2") == 1 && recs[0].count("down 3") == 1 })
	recs[3].waitFor(t, "3 loses 0 and 1", func() bool { return recs[3].count("down 0") == 1 && recs[3].count("down 1") == 1 })
	if err := trs[0].Send(2, packet(32, 1)); err != ErrNotConnected {
		t.Errorf("send across the partition: %v", err)
	}
	if err := trs[0].Send(1, packet(32, 1)); err != nil {
		t.Errorf("send inside the partition: %v", err)
	}
	net.Heal()
	recs[2].waitFor(t, "2 sees 0 again", func() bool { return recs[2].count("up 0") == 2 })

	net.SetDelay(5 * time.Millisecond)
	for k := 0; k < 20; k++ {
		if err := trs[3].Send(1, packet(40, byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	recs[1].waitFor(t, "20 delayed packets", func() bool { return len(recs[1].pkts[3]) == 20 })
	for k, p := range recs[1].pkts[3] {
		if p[4] != byte(k) {
			t.Fatalf("packet %d out of order (marker %d)", k, p[4])
		}
	}

	net.Disconnect(1, 3)
	recs[1].waitFor(t, "1 loses 3", func() bool { return recs[1].count("down 3") == 2 })
	net.Connect(1, 3)
	recs[1].waitFor(t, "1 sees 3 again", func() bool { return recs[1].count("up 3") == 3 })

	trs[3].Close()
	recs[0].waitFor(t, "0 sees 3 leave", func() bool { return recs[0].count("down 3") == 2 })
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestTCPSetNodes: nodes added at run time are connected to, removed ones are
// disconnected and then refused (ctdb reloadnodes).
func TestTCPSetNodes(t *testing.T) {
	port := freePort(t)
	all := loopbackNodes(3)
	two := map[uint32]netip.Addr{0: all[0], 1: all[1]}
	t0, r0 := startTCP(t, 0, two, port)
	defer t0.Close()
	t1, _ := startTCP(t, 1, two, port)
	defer t1.Close()
	r0.waitFor(t, "0-1 up", func() bool { return r0.count("up 1") == 1 })
	t2, r2 := startTCP(t, 2, all, port)
	defer t2.Close()
	if err := t0.SetNodes(all); err != nil {
		t.Fatal(err)
	}
	if err := t1.SetNodes(all); err != nil {
		t.Fatal(err)
	}
	r2.waitFor(t, "new node connected to both", func() bool { return r2.count("up 0") == 1 && r2.count("up 1") == 1 })
	r0.waitFor(t, "0 sees the new node", func() bool { return r0.count("up 2") == 1 })
	if err := t0.SetNodes(two); err != nil {
		t.Fatal(err)
	}
	r2.waitFor(t, "2 dropped by 0", func() bool { return r2.count("down 0") == 1 })
	if err := t0.Send(2, packet(32, 1)); err != ErrNotConnected {
		t.Errorf("send to a removed node: %v", err)
	}
	// 2 keeps trying to connect to 0, which refuses it: it must not come back up.
	time.Sleep(300 * time.Millisecond)
	r2.mu.Lock()
	ups := r2.count("up 0")
	r2.mu.Unlock()
	if ups != 1 {
		t.Errorf("removed node reconnected to node 0 (%d ups)", ups)
	}
	if err := t0.SetNodes(map[uint32]netip.Addr{0: all[1]}); err == nil {
		t.Error("changing the node's own address accepted")
	}
}
