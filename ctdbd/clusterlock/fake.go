package clusterlock

import (
	"context"
	"errors"
	"sync"
)

// Fake is an in-memory cluster lock for tests that run many nodes in one process. Each
// node gets its own handle from For; at most one handle holds the lock at a time. Tests
// can break the lock (the holder sees Lost) or make it unusable. Safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	holder   *fakeHeld
	failWith error
}

// NewFake returns a free fake lock.
func NewFake() *Fake { return &Fake{} }

// For returns the Lock a node named name uses.
func (f *Fake) For(name string) Lock { return fakeLock{f: f, name: name} }

// Holder returns the name of the node holding the lock ("" when free).
func (f *Fake) Holder() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holder == nil {
		return ""
	}
	return f.holder.name
}

// Break takes the lock away from its holder, as a dying helper or a replaced lock file
// would: the holder's Lost channel closes with err, and the lock is free.
func (f *Fake) Break(err error) {
	f.mu.Lock()
	h := f.holder
	f.holder = nil
	f.mu.Unlock()
	if h != nil {
		h.lose(err)
	}
}

// SetError makes every Acquire fail with err (nil restores normal operation), as an
// unreachable cluster file system would.
func (f *Fake) SetError(err error) {
	f.mu.Lock()
	f.failWith = err
	f.mu.Unlock()
}

type fakeLock struct {
	f    *Fake
	name string
}

func (l fakeLock) Acquire(ctx context.Context) (Held, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f := l.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	if f.holder != nil {
		return nil, ErrContended
	}
	h := &fakeHeld{f: f, name: l.name, lost: make(chan struct{})}
	f.holder = h
	return h, nil
}

type fakeHeld struct {
	f    *Fake
	name string
	once sync.Once
	lost chan struct{}
	err  error
}

func (h *fakeHeld) lose(err error) {
	if err == nil {
		err = errors.New("clusterlock: fake lock broken")
	}
	h.once.Do(func() { h.err = err; close(h.lost) })
}

func (h *fakeHeld) Lost() <-chan struct{} { return h.lost }

func (h *fakeHeld) Err() error {
	select {
	case <-h.lost:
		return h.err
	default:
		return nil
	}
}

func (h *fakeHeld) Release() error {
	h.f.mu.Lock()
	if h.f.holder == h {
		h.f.holder = nil
	}
	h.f.mu.Unlock()
	return nil
}
