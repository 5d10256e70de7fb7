package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/clusterlock"
	"github.com/ctdb-go/ctdb/ctdbd/netif"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"github.com/ctdb-go/ctdb/sysconfig"
)

// cluster runs n daemons in this process on an in-memory network with a fake cluster
// lock.
type testCluster struct {
	mu        sync.Mutex // guards nodes and cancel against the watcher goroutine
	t         *testing.T
	net       *transport.Network
	lock      *clusterlock.Fake
	base      string
	nodes     []*Daemon
	cancel    []context.CancelFunc
	done      []chan error
	noLock    bool          // run without a cluster lock
	nets      []*netif.Fake // per node, when publicIPs is set
	publicIPs string        // public_addresses file contents for every node
	dbHook    DatabaseRecoverer
	tunables  string // ctdb.tunables contents for every node
}

func nodeConfig(t *testing.T, base string, n, pnn int) *sysconfig.Config {
	t.Helper()
	dir := filepath.Join(base, fmt.Sprintf("node%d", pnn))
	os.MkdirAll(dir, 0o755)
	var nodes string
	for i := 0; i < n; i++ {
		nodes += fmt.Sprintf("10.99.0.%d\n", i+1)
	}
	os.WriteFile(filepath.Join(dir, "nodes"), []byte(nodes), 0o644)
	os.WriteFile(filepath.Join(dir, "ctdb.conf"), []byte(fmt.Sprintf("[cluster]\nnode address = 10.99.0.%d\n", pnn+1)), 0o644)
	cfg, err := sysconfig.Load(sysconfig.Options{Base: dir, SysconfigFile: "none", LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newTestCluster(t *testing.T, n int) *testCluster {
	return newTestClusterOpts(t, n, false)
}

func newTestClusterOpts(t *testing.T, n int, noLock bool) *testCluster {
	return newTestClusterWith(t, n, &testCluster{noLock: noLock})
}

// newTestClusterWith starts n nodes configured as c says (noLock, publicIPs).
func newTestClusterWith(t *testing.T, n int, c *testCluster) *testCluster {
	c.t, c.net, c.lock, c.base = t, transport.NewNetwork(), clusterlock.NewFake(), t.TempDir()
	c.nodes = make([]*Daemon, n)
	c.cancel = make([]context.CancelFunc, n)
	c.done = make([]chan error, n)
	for i := 0; i < n; i++ {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) start(i int) {
	cfg := nodeConfig(c.t, c.base, len(c.nodes), i)
	if c.publicIPs != "" || c.tunables != "" {
		dir := filepath.Join(c.base, fmt.Sprintf("node%d", i))
		if c.publicIPs != "" {
			os.WriteFile(filepath.Join(dir, "public_addresses"), []byte(c.publicIPs), 0o644)
		}
		if c.tunables != "" {
			os.WriteFile(filepath.Join(dir, "ctdb.tunables"), []byte(c.tunables), 0o644)
		}
		cfg = nodeConfig(c.t, c.base, len(c.nodes), i)
	}
	opts := Options{Transport: c.net.Transport(uint32(i)), Lock: c.lock.For(fmt.Sprint(i)), Socket: "-", Databases: c.dbHook}
	if c.publicIPs != "" {
		f := netif.NewFake("eth1")
		c.mu.Lock()
		for len(c.nets) <= i {
			c.nets = append(c.nets, nil)
		}
		c.nets[i] = f
		c.mu.Unlock()
		opts.NetIf = f
	}
	if c.noLock {
		opts.Lock = nil
	}
	d, err := New(cfg, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.nodes[i], c.cancel[i], c.done[i] = d, cancel, make(chan error, 1)
	c.mu.Unlock()
	go func() { c.done[i] <- d.Run(ctx) }()
}

func (c *testCluster) stop(i int) {
	if c.cancel[i] == nil {
		return
	}
	c.cancel[i]()
	<-c.done[i]
	c.mu.Lock()
	c.cancel[i] = nil
	c.mu.Unlock()
}

// waitConverged waits until every running node is RUNNING and healthy, agrees on one
// leader, and has the same generation and recovery mode NORMAL. The limit guards
// against hangs; it is not a timing assertion.
func (c *testCluster) waitConverged(what string) Status {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var first *Status
		okAll := true
		for i, d := range c.nodes {
			if c.cancel[i] == nil {
				continue
			}
			s := d.Status()
			if s.Runstate != protocol.RunstateRunning || s.RecMode != protocol.RecoveryNormal || s.Leader == protocol.UnknownPNN {
				okAll = false
				break
			}
			for j, f := range s.Flags {
				want := uint32(0)
				if c.cancel[j] == nil {
					want = protocol.NodeFlagsDisconnected | protocol.NodeFlagsUnhealthy
				}
				if f != want {
					okAll = false
				}
			}
			var running []uint32
			for j := range c.nodes {
				if c.cancel[j] != nil {
					running = append(running, uint32(j))
				}
			}
			if fmt.Sprint(s.VNNMap) != fmt.Sprint(running) {
				okAll = false
			}
			if first == nil {
				first = &s
			} else if s.Leader != first.Leader || s.Generation != first.Generation {
				okAll = false
			}
		}
		if okAll && first != nil {
			return *first
		}
		if time.Now().After(deadline) {
			for i, d := range c.nodes {
				if c.cancel[i] != nil {
					c.t.Logf("node %d: %+v", i, d.Status())
				}
			}
			c.t.Fatalf("cluster did not converge: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestThreeNodesConverge(t *testing.T) {
	c := newTestCluster(t, 3)
	s := c.waitConverged("start")
	if len(s.VNNMap) != 3 {
		t.Errorf("vnnmap %v, want all three nodes", s.VNNMap)
	}
	leader := s.Leader
	acting := 0
	for _, d := range c.nodes {
		if d.Status().Acting {
			acting++
		}
	}
	if acting != 1 || c.lock.Holder() != fmt.Sprint(leader) {
		t.Errorf("%d acting leaders, lock holder %q, leader %d", acting, c.lock.Holder(), leader)
	}

	// Kill the leader: another node takes over and recovers without it.
	c.stop(int(leader))
	s2 := c.waitConverged("after the leader stopped")
	if s2.Leader == leader || s2.Generation == s.Generation || len(s2.VNNMap) != 2 {
		t.Errorf("after leader loss: %+v", s2)
	}
	// It comes back and joins.
	c.start(int(leader))
	s3 := c.waitConverged("after the old leader restarted")
	if len(s3.VNNMap) != 3 {
		t.Errorf("after rejoin: %+v", s3)
	}
}
