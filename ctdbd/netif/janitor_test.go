package netif

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// TestJanitorRemovesWhatTheDeadDaemonHeld: addresses added and not released are removed
// at end-of-file; after "bye" nothing is touched.
func TestJanitorRemovesWhatTheDeadDaemonHeld(t *testing.T) {
	f := NewFake("eth1")
	a, b := netip.MustParsePrefix("10.1.0.1/24"), netip.MustParsePrefix("10.1.0.2/24")
	f.AddAddress("eth1", a)
	f.AddAddress("eth1", b)
	var log bytes.Buffer
	in := "add eth1 10.1.0.1/24\nadd eth1 10.1.0.2/24\ndel eth1 10.1.0.2/24\nnonsense\n"
	if code := JanitorMain(strings.NewReader(in), f, &log); code != 0 {
		t.Fatalf("exit %d: %s", code, log.String())
	}
	if f.Holds(a.Addr()) || !f.Holds(b.Addr()) {
		t.Errorf("after the daemon died: holds 10.1.0.1=%v 10.1.0.2=%v, want false true", f.Holds(a.Addr()), f.Holds(b.Addr()))
	}
	if !strings.Contains(log.String(), `bad line "nonsense"`) || !strings.Contains(log.String(), "the daemon died holding 10.1.0.1/24 on eth1") {
		t.Errorf("log: %s", log.String())
	}

	f.AddAddress("eth1", a)
	if code := JanitorMain(strings.NewReader("add eth1 10.1.0.1/24\nbye\n"), f, &log); code != 0 || !f.Holds(a.Addr()) {
		t.Errorf("after a goodbye the janitor removed an address (exit %d)", code)
	}
}

// TestGuardedReportsBeforeAdding: the janitor hears of an address before it is added and
// after it is removed.
func TestGuardedReportsBeforeAdding(t *testing.T) {
	var buf bytes.Buffer
	j := &Janitor{w: nopCloser{&buf}}
	g := Guarded{NetIf: NewFake("eth1"), J: j}
	p := netip.MustParsePrefix("10.1.0.1/24")
	if err := g.AddAddress("eth1", p); err != nil {
		t.Fatal(err)
	}
	if err := g.DelAddress("eth1", p); err != nil {
		t.Fatal(err)
	}
	if err := g.AddAddress("nope", p); err == nil {
		t.Error("add on a missing interface succeeded")
	}
	if got, want := buf.String(), "add eth1 10.1.0.1/24\ndel eth1 10.1.0.1/24\nadd nope 10.1.0.1/24\n"; got != want {
		t.Errorf("janitor heard %q, want %q", got, want)
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }
