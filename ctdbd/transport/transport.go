// Package transport carries CTDB packets between nodes: the TCP transport of CTDB 4.17
// (port 4379, two connections per pair of nodes, peers identified by the source address
// of their connection) and an in-memory network for tests of many nodes in one process.
//
// The transport moves whole packets as bytes and knows only the first field of the CTDB
// header, the packet length (host byte order), framed with the protocol package's
// rules. Everything else is the protocol's.
package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ctdb-go/ctdb/ctdbd/protocol"
)

// DefaultPort is CTDB's TCP port.
const DefaultPort = protocol.Port

// ErrNotConnected is returned by Send when there is no connection to the node.
var ErrNotConnected = errors.New("transport: node is not connected")

// Handler receives what a Transport delivers. Its methods are called from the
// transport's goroutines, one call at a time per peer but concurrently across peers;
// they must not block for long (queue the work instead).
type Handler interface {
	// Receive is called with each packet from node pnn. The slice is the handler's.
	Receive(pnn uint32, pkt []byte)
	// PeerUp is called when node pnn becomes connected (both directions are up).
	PeerUp(pnn uint32)
	// PeerDown is called when node pnn stops being connected.
	PeerDown(pnn uint32)
}

// Transport connects one node to the others. Implementations are safe for concurrent
// use.
type Transport interface {
	// Start starts listening and connecting; h receives packets and peer events until
	// Close returns.
	Start(h Handler) error
	// Send queues pkt (a whole packet, header included) for node pnn. The length field
	// is rewritten if padding is added. Send does not block on the network; it returns
	// ErrNotConnected when the node is not connected.
	Send(pnn uint32, pkt []byte) error
	// Close disconnects from every node and stops; no Handler call follows its return.
	Close() error
}

// Pad returns pkt padded with zeros to a multiple of protocol.Alignment, with the
// length field (the first 4 bytes, host order) set to the padded length, as CTDB sends
// on TCP. It returns pkt itself when no padding is needed.
func Pad(pkt []byte) []byte {
	if len(pkt) < 4 {
		return pkt
	}
	n := (len(pkt) + protocol.Alignment - 1) &^ (protocol.Alignment - 1)
	if n != len(pkt) {
		p := make([]byte, n)
		copy(p, pkt)
		pkt = p
	}
	binary.NativeEndian.PutUint32(pkt[:4], uint32(len(pkt)))
	return pkt
}

// ReadPacket reads one packet from a node-to-node stream. A length that is below the
// header size, above protocol.MaxPacketSize or not a multiple of protocol.Alignment is
// an error: the stream cannot be trusted after it (CTDB drops such connections too).
func ReadPacket(r io.Reader) ([]byte, error) { return ReadFrame(r, true) }

// ReadFrame reads one length-framed packet. aligned requires the TCP rule (a multiple
// of protocol.Alignment); the Unix socket does not (smbd sends unpadded lengths).
func ReadFrame(r io.Reader, aligned bool) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	n, err := protocol.FrameLength(lb[:])
	if err == nil && aligned {
		err = protocol.CheckTCPLength(uint32(n))
	}
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	pkt := make([]byte, n)
	copy(pkt, lb[:])
	if _, err := io.ReadFull(r, pkt[4:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return pkt, nil
}
