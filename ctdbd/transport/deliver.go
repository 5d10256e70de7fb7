package transport

import (
	"sync"
	"time"
)

// delivery hands packets and peer events from one peer to a Handler in order, on its
// own goroutine, so that a slow handler never blocks the network side for long and
// PeerUp always precedes the packets of that connection.
type delivery struct {
	h    Handler
	pnn  uint32
	mu   sync.Mutex
	cond *sync.Cond
	q    []item
	done bool
	wg   sync.WaitGroup
}

type itemKind int

const (
	itemPacket itemKind = iota
	itemUp
	itemDown
)

type item struct {
	kind itemKind
	pkt  []byte
	at   time.Time // deliver no earlier than this (in-memory network delay)
}

func newDelivery(h Handler, pnn uint32) *delivery {
	d := &delivery{h: h, pnn: pnn}
	d.cond = sync.NewCond(&d.mu)
	d.wg.Add(1)
	go d.run()
	return d
}

func (d *delivery) push(it item) {
	d.mu.Lock()
	if !d.done {
		d.q = append(d.q, it)
		d.cond.Signal()
	}
	d.mu.Unlock()
}

func (d *delivery) run() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		for len(d.q) == 0 && !d.done {
			d.cond.Wait()
		}
		if d.done {
			d.mu.Unlock()
			return
		}
		it := d.q[0]
		d.q[0] = item{}
		d.q = d.q[1:]
		d.mu.Unlock()
		if wait := time.Until(it.at); !it.at.IsZero() && wait > 0 {
			time.Sleep(wait)
		}
		switch it.kind {
		case itemPacket:
			d.h.Receive(d.pnn, it.pkt)
		case itemUp:
			d.h.PeerUp(d.pnn)
		case itemDown:
			d.h.PeerDown(d.pnn)
		}
	}
}

// dropPackets discards the packets not yet delivered (events stay).
func (d *delivery) dropPackets() {
	d.mu.Lock()
	kept := d.q[:0]
	for _, it := range d.q {
		if it.kind != itemPacket {
			kept = append(kept, it)
		}
	}
	for i := len(kept); i < len(d.q); i++ {
		d.q[i] = item{}
	}
	d.q = kept
	d.mu.Unlock()
}

// stop discards what is queued and waits until no Handler call is in progress.
func (d *delivery) stop() {
	d.mu.Lock()
	d.done = true
	d.q = nil
	d.cond.Broadcast()
	d.mu.Unlock()
	d.wg.Wait()
}
