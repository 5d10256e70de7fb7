// Package netif is the seam between the daemon and the host's network: public
// addresses added to and removed from interfaces, link state, gratuitous ARP and
// unsolicited neighbour advertisements after a takeover, and the TCP tickle ACKs and
// resets that make clients of a moved address reconnect at once.
//
// NetIf is implemented by Linux (netlink and raw sockets) and by Fake, an in-memory
// recorder for tests.
package netif

import (
	"errors"
	"net/netip"
)

// NetIf changes and observes the host's network for the daemon. Implementations are
// safe for concurrent use. Errors name the interface and address and say what failed.
type NetIf interface {
	// AddAddress puts prefix (a public address with its mask bits) on iface. Adding an
	// address that is already there is not an error. For IPv6 it does not wait for
	// duplicate address detection longer than a bounded time.
	AddAddress(iface string, prefix netip.Prefix) error
	// DelAddress removes the address from iface; removing one that is not there is not
	// an error. Other addresses of the same subnet stay (promote_secondaries).
	DelAddress(iface string, prefix netip.Prefix) error
	// Addresses lists the addresses on iface.
	Addresses(iface string) ([]netip.Prefix, error)
	// LinkUp reports whether iface exists and its link is up.
	LinkUp(iface string) (bool, error)
	// Announce tells the local network that addr now lives on iface: gratuitous ARP
	// (request and reply) for IPv4, an unsolicited neighbour advertisement for IPv6.
	// One call sends one round; the caller repeats it as CTDB does.
	Announce(iface string, addr netip.Addr) error
	// TickleACK sends a TCP ACK with sequence and acknowledgement 0 from src to dst
	// (client), which makes the client answer with its real sequence numbers and then
	// reset the dead connection at once.
	//
	// rst kills the connection instead (killtcp, on the node releasing src): a reset
	// with sequence 0 would be ignored by the client (RFC 5961 accepts only the exact
	// expected sequence number), so the implementation sends a tickle ACK, reads the
	// client's answer to learn that number, and sends ACK|RST with it, as CTDB's
	// ctdb_killtcp does. It returns an error wrapping ErrNoReply when the client did
	// not answer within a bounded time (gone or unreachable); callers may ignore it.
	TickleACK(src, dst netip.AddrPort, rst bool) error
}

// ErrNoReply is wrapped by TickleACK with rst when the client never answered, so the
// connection could not be reset.
var ErrNoReply = errors.New("no answer from the client to the tickle ACK (connection gone or client unreachable)")
