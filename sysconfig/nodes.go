package sysconfig

import (
	"fmt"
	"net/netip"
	"strings"
)

// Node is one entry of the nodes file. Its PNN is its index among the non-blank lines.
type Node struct {
	PNN     uint32
	Addr    netip.Addr // the zero Addr for a deleted node
	Deleted bool       // a line starting with '#': the node was removed but keeps its PNN slot
	Line    int
}

// String renders the node the way `ctdb listnodes` shows an address.
func (n Node) String() string {
	if n.Deleted {
		return "0.0.0.0"
	}
	return n.Addr.String()
}

// ParseNodes parses a nodes file as CTDB does: one private address (IPv4 or IPv6) per
// line, leading and trailing blanks ignored, blank lines skipped. A line starting with
// '#' is a deleted node: it is not a comment, because it keeps the PNN numbering of the
// following nodes (CTDB's rule; put notes elsewhere). PNN = index among the non-blank
// lines. Errors name the file and line: a bad address, a duplicate, no live node.
func ParseNodes(path string, data []byte) ([]Node, error) {
	var nodes []Node
	seen := map[netip.Addr]int{}
	live := 0
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.Trim(line, " \t\r")
		if line == "" {
			continue
		}
		if len(nodes) >= 1<<16 {
			return nil, fmt.Errorf("sysconfig: %s:%d: more than %d nodes", path, n, 1<<16)
		}
		pnn := uint32(len(nodes))
		if line[0] == '#' {
			nodes = append(nodes, Node{PNN: pnn, Deleted: true, Line: n})
			continue
		}
		addr, err := parseNodeAddr(line)
		if err != nil {
			return nil, fmt.Errorf("sysconfig: %s:%d: %w", path, n, err)
		}
		if prev, dup := seen[addr]; dup {
			return nil, fmt.Errorf("sysconfig: %s:%d: node address %s is already listed on line %d: every node needs its own address", path, n, addr, prev)
		}
		seen[addr] = n
		live++
		nodes = append(nodes, Node{PNN: pnn, Addr: addr, Line: n})
	}
	if live == 0 {
		return nil, fmt.Errorf("sysconfig: %s: no nodes: list the private address of every node, one per line, in the same order on every node", path)
	}
	return nodes, nil
}

func parseNodeAddr(s string) (netip.Addr, error) {
	if strings.ContainsAny(s, " \t") {
		return netip.Addr{}, fmt.Errorf("%q: one address per line, without comments (a line starting with # is a deleted node)", s)
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
	}
	addr = addr.Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("%s cannot be a node address", addr)
	}
	return addr, nil
}
