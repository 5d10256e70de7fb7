package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	nscluster "github.com/ctdb-go/ctdb/tests/cluster"
)

// TestIPCommandsMatchRealTool compares the public-address commands of both tools
// against our loopback cluster, whose nodes have no public_addresses file and no
// network access for public addresses: addresses added with addip stay unassigned,
// which is enough for the pool, interface and connection-tracking commands and for
// every argument check. Moves, takeovers and link changes are compared in
// TestIPCommandsWithPublicAddresses.
func TestIPCommandsMatchRealTool(t *testing.T) {
	if _, err := os.Stat(realTool); err != nil {
		t.Skipf("%s not installed (apt-get install ctdb): %v", realTool, err)
	}
	if _, err := exec.LookPath("timeout"); err != nil {
		t.Skipf("timeout(1) not found: %v", err)
	}
	c := newCluster(t)
	compareSequence(t, c, "empty pool", steps(0,
		"ip", "ip all", "-v ip", "-X ip", "-X -v ip all", "-n 1 ip", "ip foo", "ip all x",
		"ipinfo", "ipinfo 10.9.0.1", "ipinfo x", "ipinfo 10.9.0.1/24", "ipinfo fe80::1%eth0",
		"ifaces", "-X ifaces", "-n 2 ifaces", "ifaces x",
		"setifacelink", "setifacelink eth7 up", "setifacelink abcdefghijklmnopq up", "setifacelink abcdefghijklmnop up",
		"gettickles", "gettickles 10.9.0.1", "gettickles x",
		"addtickle", "addtickle 10.0.0.5:5000", "addtickle 10.0.0.5:5000 10.9.0.1:445", "addtickle 10.0.0.5 10.9.0.1:445",
		"deltickle", "deltickle 10.0.0.5:5000 10.9.0.1:445", "deltickle 10.0.0.5:x 10.9.0.1:445",
		"delip", "delip 10.9.0.1", "delip x",
		"addip", "addip 10.9.0.1 eth7", "addip 10.9.0.1/x eth7", "addip x/24 eth7",
		"moveip", "moveip x 1", "moveip 10.9.0.1 -1", "-n 1 moveip 10.9.0.1 0",
		"gratarp", "gratarp x eth7", "gratarp 10.9.0.1 eth7", "-n 1 gratarp 10.9.0.1 eth7",
		"tickle", "tickle 10.0.0.5:5000", "tickle x 10.9.0.1:445", "tickle 10.0.0.5:5000 y", "-n 1 tickle 10.0.0.5:5000 10.9.0.1:445",
		"reloadips", "reloadips all", "reloadips 5", "-n 1 reloadips", "reloadips 0,1 x",
		"ipreallocate", "sync", "-n 1 ipreallocate", "ipreallocate x",
		"killtcp",
	))
	compareSequence(t, c, "pool", steps(0,
		"addip 10.9.0.1/24 eth7", "addip 10.9.0.1/24 eth7", "-n 1 addip 10.9.0.1/24 eth7,eth8",
		"addip fd00::9/64 eth9",
		"ip", "ip all", "-v ip", "-v ip all", "-X ip", "-X -v ip all", "-Y -v ip", "-n 1 ip", "-n 1 -v ip",
		"ipinfo 10.9.0.1", "-n 1 ipinfo 10.9.0.1", "ipinfo fd00::9", "-n 2 ipinfo 10.9.0.1",
		"ifaces", "-n 1 ifaces", "-X ifaces",
		"setifacelink eth7 down", "ifaces", "-v ip", "ipinfo 10.9.0.1", "setifacelink eth7 up", "ifaces",
		"setifacelink eth9 sideways", "-n 1 setifacelink eth8 down", "-n 1 ifaces", "-n 1 setifacelink eth8 up",
		"gettickles 10.9.0.1",
		"addtickle 10.0.0.5:5000 10.9.0.1:445", "addtickle 10.0.0.6:5001 10.9.0.1:139", "addtickle 10.0.0.5:5000 10.9.0.2:445",
		"gettickles 10.9.0.1", "-X gettickles 10.9.0.1", "gettickles 10.9.0.1 445", "gettickles 10.9.0.1 446",
		"deltickle 10.0.0.5:5000 10.9.0.1:445", "deltickle 10.0.0.6:5001 10.9.0.1:139", "gettickles 10.9.0.1",
		"gratarp 10.9.0.1 eth7",
		"delip 10.9.0.1", "delip 10.9.0.1", "delip fd00::9", "-n 1 delip 10.9.0.1", "ip all", "ifaces", "-n 1 ifaces",
	))
}

// TestIPCommandsWithPublicAddresses compares both tools against a 3-node cluster of our
// ctdbd in network namespaces with four public addresses hosted on eth0: listings,
// interface details, moveip, setifacelink moving addresses away and back, addip and
// delip on one node, reloadips after the files changed, gratarp and tickle. Each tool
// runs the whole sequence, the real one first; the cluster is back in its starting
// layout after each run. Needs root (network namespaces).
func TestIPCommandsWithPublicAddresses(t *testing.T) {
	if _, err := os.Stat(realTool); err != nil {
		t.Skipf("%s not installed (apt-get install ctdb): %v", realTool, err)
	}
	nscluster.Skip(t, nscluster.Ours)
	bin := nscluster.BuildOurs(t)
	addrs := []string{"10.79.0.1/24", "10.79.0.2/24", "10.79.0.3/24", "10.79.0.4/24"}
	c := nscluster.New(t, nscluster.Ours, 3, nscluster.Options{
		BinDir:          bin,
		PublicAddresses: addrs,
		// NoIPFailback, as the manual asks for moveip: no takeover run moves an address
		// back by itself.
		Tunables: []string{"KeepaliveInterval=1", "KeepaliveLimit=3", "NoIPFailback=1"},
	})
	all := []int{0, 1, 2}
	for _, i := range all {
		c.Start(i)
	}
	c.WaitConverged("at start", all...)
	w := &addrWatch{t: t, c: c}
	// With NoIPFailback the first node up keeps every address: spread them by hand.
	start := map[string][]int{"10.79.0.1": {0}, "10.79.0.2": {1}, "10.79.0.3": {2}, "10.79.0.4": {0}}
	first, other := 0, 1

	setPool := func(lines string) func() {
		return func() {
			for _, i := range all {
				if err := os.WriteFile(filepath.Join(c.Dir(i), "etc", "public_addresses"), []byte(lines), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var orig strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&orig, "%s eth0\n", a)
	}
	// backToStart puts every address back on its first holder (with our tool, outside
	// the comparison: a reload or a link change may place an address elsewhere), so
	// that both tools start their run from the same layout.
	backToStart := func() {
		w.waitLayout("settled", w.placed)
		for a, n := range w.holders() {
			if n[0] != start[a][0] {
				if r := runInNode(t, c, filepath.Join(bin, "ctdb"), 0, "moveip", a, fmt.Sprint(start[a][0])); r.code != 0 {
					t.Fatalf("moveip %s %d: %+v", a, start[a][0], r)
				}
			}
		}
		w.waitLayout("back to the start", func(h map[string][]int) bool { return fmt.Sprint(h) == fmt.Sprint(start) })
	}
	backToStart()
	// A complete takeover run with every node up, so that every node knows every holder.
	if r := runInNode(t, c, filepath.Join(bin, "ctdb"), 0, "ipreallocate"); r.code != 0 {
		t.Fatalf("ipreallocate: %+v", r)
	}
	seq := []ipStep{
		{args: "ip"}, {args: "-n 1 ip"}, {args: "ip all"}, {args: "-v ip"}, {args: "-v ip all"},
		{args: "-X ip all"}, {args: "-X -v ip all"}, {args: "-Y -v ip"},
		{args: "ipinfo 10.79.0.1"}, {args: "-n 2 ipinfo 10.79.0.1"}, {args: "ipinfo 10.79.0.9"},
		{args: "ifaces"}, {args: "-X ifaces"}, {args: "-n 1 ifaces"},
		{args: "gratarp 10.79.0.1 eth0"},
		{args: "tickle 10.79.0.200:40000 10.79.0.1:445"},
		{args: "addtickle 10.79.0.200:40000 10.79.0.1:445"}, {args: "gettickles 10.79.0.1"},
		{args: "-X gettickles 10.79.0.1 445"}, {args: "deltickle 10.79.0.200:40000 10.79.0.1:445"},
		{args: "gettickles 10.79.0.1"}, {args: "gettickles 10.79.0.9"},

		{args: fmt.Sprintf("moveip 10.79.0.1 %d", other), after: func() {
			w.waitLayout("after moveip", func(h map[string][]int) bool { return fmt.Sprint(h["10.79.0.1"]) == fmt.Sprint([]int{other}) })
		}},
		{args: "ip all"}, {args: fmt.Sprintf("-n %d ipinfo 10.79.0.1", other)},
		{args: fmt.Sprintf("moveip 10.79.0.1 %d", first), after: backToStart},

		{node: 2, args: "setifacelink eth0 down", after: func() {
			w.waitLayout("with node 2's eth0 set down", func(h map[string][]int) bool { return w.spread(h, []int{0, 1}) })
		}},
		{node: 2, args: "ifaces"}, {node: 2, args: "-v ip"}, {args: "ip all"}, {args: "-X nodestatus all"},
		{node: 2, args: "setifacelink eth0 up", after: backToStart},
		{args: "ip all"},

		{args: "-n 1 addip 10.79.0.5/24 eth0", after: func() {
			w.waitLayout("after addip", func(h map[string][]int) bool { return fmt.Sprint(h["10.79.0.5"]) == "[1]" })
		}},
		{args: "ip all"}, {args: "-n 1 ipinfo 10.79.0.5"}, {args: "-n 1 ifaces"}, {args: "ipinfo 10.79.0.5"},
		{args: "-n 1 delip 10.79.0.5", after: func() {
			w.waitLayout("after delip", func(h map[string][]int) bool { return len(h["10.79.0.5"]) == 0 })
		}},
		{args: "ip all"},

		{before: setPool(strings.Replace(orig.String(), "10.79.0.4/24", "10.79.0.6/24", 1)), args: "reloadips all", after: func() {
			w.waitLayout("after reloadips", func(h map[string][]int) bool { return len(h["10.79.0.4"]) == 0 && len(h["10.79.0.6"]) == 1 })
		}},
		{args: "ip all"}, {args: "-n 2 ip"},
		{before: setPool(orig.String()), args: "reloadips all", after: backToStart},
		{args: "ip all"},
	}
	var res [2][]result
	for k, tool := range []string{nscluster.RealTool, filepath.Join(bin, "ctdb")} {
		for _, s := range seq {
			if s.before != nil {
				s.before()
			}
			res[k] = append(res[k], runInNode(t, c, tool, s.node, strings.Fields(s.args)...))
			if s.after != nil {
				s.after()
			}
		}
	}
	for i, s := range seq {
		r, o := res[0][i], res[1][i]
		if r.code != o.code || r.stdout != o.stdout || r.stderr != o.stderr {
			t.Errorf("ctdb %s (node %d):\nours: exit %d\n%s%s\nreal: exit %d\n%s%s", s.args, s.node, o.code, o.stdout, o.stderr, r.code, r.stdout, r.stderr)
		}
	}
}

// ipStep is one command of TestIPCommandsWithPublicAddresses: before and after run
// around it for each tool (changing files, waiting for addresses to settle).
type ipStep struct {
	node          int
	args          string
	before, after func()
}

func runInNode(t *testing.T, c *nscluster.Cluster, tool string, i int, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := c.CtdbCmd(ctx, tool, i, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("%s %v on node %d: %v\n%s", tool, args, i, err, errb.String())
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

// addrWatch reads which node's eth0 carries each public address 10.79.0.x.
type addrWatch struct {
	t *testing.T
	c *nscluster.Cluster
}

func (w *addrWatch) holders() map[string][]int {
	out := map[string][]int{}
	for i := 0; i < w.c.N(); i++ {
		b, err := exec.Command("ip", "-n", w.c.NS(i), "-o", "-4", "addr", "show", "dev", "eth0").Output()
		if err != nil {
			w.t.Fatalf("ip addr in node %d: %v", i, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && strings.HasPrefix(f[3], "10.79.0.") {
				a := strings.Split(f[3], "/")[0]
				out[a] = append(out[a], i)
			}
		}
	}
	return out
}

// spread reports whether each of 10.79.0.1-4 is on exactly one node of on, and every
// node of on has one.
func (w *addrWatch) spread(h map[string][]int, on []int) bool {
	count := map[int]int{}
	for k := 1; k <= 4; k++ {
		n := h[fmt.Sprintf("10.79.0.%d", k)]
		if len(n) != 1 || !slices.Contains(on, n[0]) {
			return false
		}
		count[n[0]]++
	}
	return len(count) == len(on)
}

// placed reports whether each of 10.79.0.1-4 is on exactly one node.
func (w *addrWatch) placed(h map[string][]int) bool {
	for k := 1; k <= 4; k++ {
		if len(h[fmt.Sprintf("10.79.0.%d", k)]) != 1 {
			return false
		}
	}
	return true
}

// waitLayout polls the namespaces until ok holds; the limit only guards against a hang.
func (w *addrWatch) waitLayout(what string, ok func(map[string][]int) bool) {
	w.t.Helper()
	var h map[string][]int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if h = w.holders(); ok(h) {
			return
		}
	}
	w.t.Fatalf("public addresses %s: %v", what, h)
}
