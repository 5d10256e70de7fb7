// Command ctdb_takeover_tests runs one public IP allocation from a layout on stdin and
// prints the result, with the contract of CTDB 4.17's test program of the same name, so
// CTDB's ctdb/tests/UNIT/takeover cases run unchanged against our allocator:
//
//	ctdb_takeover_tests ipalloc FLAGS [multi]
//
// FLAGS is a comma-separated list of node flag values, one per node (PNN 0 first), in C
// notation (2, 0x20, ...): "2,2,0" is three nodes of which 0 and 1 are UNHEALTHY.
//
// Standard input holds one address per line, "IP [CURRENT_PNN [ALLOWED_PNN,...]]",
// fields separated by blanks or tabs, anything from '#' on ignored. CURRENT_PNN is the
// node holding the address now (-1, the default, for none); ALLOWED_PNN lists the nodes
// that have the address in their pool (default: all nodes). An empty or blank line or
// EOF ends the list. With "multi", each node's own view is read instead, node 0 first,
// as such lists separated by blank lines, and ALLOWED_PNN is refused.
//
// Environment:
//
//	CTDB_IP_ALGORITHM      lcp2 (default), det or nondet
//	CTDB_TEST_RUNSTATE     runstate numbers, one per node, or one value for all (default
//	                       5, RUNNING); a node not RUNNING can host nothing
//	CTDB_SET_NoIPTakeover  non-zero: NoIPTakeover
//	CTDB_SET_NoIPFailback  non-zero: NoIPFailback (CTDB 4.17's program ignores it)
//
// Output is one "IP PNN" line per address of the merged list, in its order (descending
// address), with -1 for an address no node can host. Bad input is reported on stderr with
// the line and field at fault, and the exit status is 1. CTDB's program also prints its
// debug log (CTDB_TEST_LOGLEVEL) to stderr; this one prints no log: only the IP PNN lines
// are the contract.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/takeover"
)

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr))
}

const usage = "usage: ctdb_takeover_tests ipalloc FLAGS [multi]\n"

// run is the whole program with its environment passed in; it returns the exit status.
func run(args []string, getenv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	multi := false
	switch {
	case len(args) == 2 && args[0] == "ipalloc":
	case len(args) == 3 && args[0] == "ipalloc" && args[2] == "multi":
		multi = true
	default:
		fmt.Fprint(stderr, usage)
		return 1
	}
	cfg, nodes, err := setup(args[1], multi, getenv, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "ctdb_takeover_tests: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	for _, a := range takeover.Allocate(cfg, nodes) {
		fmt.Fprintf(w, "%s %d\n", a.Addr, int32(a.PNN))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "ctdb_takeover_tests: %v\n", err)
		return 1
	}
	return 0
}

// setup builds the allocation input from the arguments, environment and stdin, as CTDB's
// test program does: every node reports the same holder for an address, nodes that are
// not RUNNING or are INACTIVE/DISABLED have nothing available.
func setup(flagList string, multi bool, getenv func(string) (string, bool), stdin io.Reader) (takeover.Config, []takeover.NodeIPs, error) {
	cfg := takeover.DefaultConfig()
	flags, err := parseFlags(flagList)
	if err != nil {
		return cfg, nil, err
	}
	numNodes := len(flags)

	if v, ok := getenv("CTDB_IP_ALGORITHM"); ok {
		if cfg.Algorithm, err = takeover.ParseAlgorithm(v); err != nil {
			return cfg, nil, fmt.Errorf("CTDB_IP_ALGORITHM: %w", err)
		}
	}
	if cfg.NoIPTakeover, err = boolTunable(getenv, "CTDB_SET_NoIPTakeover"); err != nil {
		return cfg, nil, err
	}
	if cfg.NoIPFailback, err = boolTunable(getenv, "CTDB_SET_NoIPFailback"); err != nil {
		return cfg, nil, err
	}
	runstates, err := parseRunstates(getenv, numNodes)
	if err != nil {
		return cfg, nil, err
	}

	known, err := readLayout(stdin, numNodes, multi)
	if err != nil {
		return cfg, nil, err
	}
	nodes := make([]takeover.NodeIPs, numNodes)
	for i := range nodes {
		nodes[i].Known = known[i]
		nodes[i].Available = takeover.AvailableFromKnown(flags[i], runstates[i], known[i])
	}
	return cfg, nodes, nil
}

// parseFlags parses the FLAGS argument: one C-style number per node.
func parseFlags(s string) ([]uint32, error) {
	if s == "" {
		return nil, errors.New("FLAGS: empty, want one flag value per node, e.g. 0,2,0")
	}
	var flags []uint32
	for i, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 0, 32)
		if err != nil {
			return nil, fmt.Errorf("FLAGS: value %d (node %d) %q is not a flag number", i+1, i, f)
		}
		flags = append(flags, uint32(v))
	}
	return flags, nil
}

// boolTunable reads a CTDB_SET_* variable: unset is false, else a C-style number,
// true when non-zero.
func boolTunable(getenv func(string) (string, bool), name string) (bool, error) {
	v, ok := getenv(name)
	if !ok {
		return false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a number", name, v)
	}
	return n != 0, nil
}

// parseRunstates reads CTDB_TEST_RUNSTATE: unset means every node RUNNING; "1" means
// every node in runstate 1 (as CTDB's program reads it); otherwise one value per node.
func parseRunstates(getenv func(string) (string, bool), numNodes int) ([]protocol.Runstate, error) {
	rs := make([]protocol.Runstate, numNodes)
	v, ok := getenv("CTDB_TEST_RUNSTATE")
	if !ok {
		for i := range rs {
			rs[i] = protocol.RunstateRunning
		}
		return rs, nil
	}
	vals := strings.Split(v, ",")
	if v == "1" {
		vals = slices.Repeat([]string{"1"}, numNodes)
	}
	if len(vals) != numNodes {
		return nil, fmt.Errorf("CTDB_TEST_RUNSTATE: %d values for %d nodes", len(vals), numNodes)
	}
	for i, f := range vals {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 0, 32)
		if err != nil {
			return nil, fmt.Errorf("CTDB_TEST_RUNSTATE: value %d (node %d) %q is not a runstate number", i+1, i, f)
		}
		rs[i] = protocol.Runstate(n)
	}
	return rs, nil
}

// readLayout reads the address lines from r and returns each node's known list. Without
// multi, one list is read and each address goes to its ALLOWED_PNN nodes (all nodes if
// none are given); with multi, one list per node.
func readLayout(r io.Reader, numNodes int, multi bool) ([][]takeover.PublicIP, error) {
	known := make([][]takeover.PublicIP, numNodes)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lineNo := 0
	lists := 1
	if multi {
		lists = numNodes
	}
	for list := 0; list < lists; list++ {
		for sc.Scan() {
			lineNo++
			text := sc.Text()
			if strings.TrimSpace(text) == "" {
				break
			}
			ip, allowed, ok, err := parseLine(text, numNodes, multi)
			if err != nil {
				return nil, fmt.Errorf("stdin line %d: %w", lineNo, err)
			}
			if !ok {
				continue // a comment line
			}
			switch {
			case multi:
				known[list] = append(known[list], ip)
			case allowed == nil:
				for n := range known {
					known[n] = append(known[n], ip)
				}
			default:
				for _, n := range allowed {
					known[n] = append(known[n], ip)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("stdin line %d: %w", lineNo+1, err)
	}
	return known, nil
}

// parseLine parses "IP [CURRENT_PNN [ALLOWED_PNN,...]]". allowed is nil when the line
// has no ALLOWED_PNN field; ok is false for a line holding only a comment.
func parseLine(text string, numNodes int, multi bool) (ip takeover.PublicIP, allowed []int, ok bool, err error) {
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	fields := strings.Fields(text)
	ip = takeover.PublicIP{PNN: protocol.UnknownPNN}
	if len(fields) == 0 {
		return ip, nil, false, nil
	}
	if len(fields) > 3 {
		return ip, nil, false, fmt.Errorf("%d fields, want IP [CURRENT_PNN [ALLOWED_PNN,...]]", len(fields))
	}
	addr, err := netip.ParseAddr(fields[0])
	if err != nil || addr.Zone() != "" {
		return ip, nil, false, fmt.Errorf("IP: %q is not an IPv4 or IPv6 address", fields[0])
	}
	ip.Addr = addr
	if len(fields) > 1 {
		p, err := strconv.Atoi(fields[1])
		if err != nil || p < -1 || p >= numNodes {
			return ip, nil, false, fmt.Errorf("CURRENT_PNN: %q is not -1 or a node number below %d", fields[1], numNodes)
		}
		if p >= 0 {
			ip.PNN = uint32(p)
		}
	}
	if len(fields) < 3 {
		return ip, nil, true, nil
	}
	if multi {
		return ip, nil, false, fmt.Errorf("ALLOWED_PNN: %q not allowed with multi", fields[2])
	}
	for _, f := range strings.Split(fields[2], ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n >= numNodes {
			return ip, nil, false, fmt.Errorf("ALLOWED_PNN: %q is not a node number below %d", f, numNodes)
		}
		allowed = append(allowed, n)
	}
	if allowed == nil {
		allowed = []int{}
	}
	return ip, allowed, true, nil
}
