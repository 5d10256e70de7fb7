package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// changeWaiter collects Changes from a Watcher.
type changeWaiter struct {
	t  *testing.T
	ch chan Change
}

func (c *changeWaiter) onChange(ch Change) { c.ch <- ch }

// want waits until the accumulated changes contain want (as Change.String
// fragments), failing after a generous bound.
func (c *changeWaiter) want(fragments ...string) {
	c.t.Helper()
	var seen []string
	deadline := time.After(20 * time.Second)
	for {
		all := strings.Join(seen, "\n")
		ok := true
		for _, f := range fragments {
			if !strings.Contains(all, f) {
				ok = false
			}
		}
		if ok {
			return
		}
		select {
		case ch := <-c.ch:
			seen = append(seen, ch.String())
		case <-deadline:
			c.t.Fatalf("changes %q never reported; saw:\n%s", fragments, all)
		}
	}
}

func TestWatcherLiveReload(t *testing.T) {
	f := newFixture(t)
	f.script("10.a", "exit 0")
	r := New(f.config())
	cw := &changeWaiter{t: t, ch: make(chan Change, 100)}
	w, err := r.Watch(20*time.Millisecond, cw.onChange)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	states := func() string {
		res := run(t, r, Monitor)
		return summary(res)
	}

	// Add a script.
	f.script("20.b", "exit 0")
	cw.want("added=[20.b]")
	if got := states(); got != "OK: 10.a=OK 20.b=OK" {
		t.Errorf("after add: %s", got)
	}
	// chmod -x, chmod +x.
	if err := os.Chmod(filepath.Join(f.dir, "20.b"), 0o644); err != nil {
		t.Fatal(err)
	}
	cw.want("disabled=[20.b]")
	if got := states(); got != "OK: 10.a=OK 20.b=DISABLED" {
		t.Errorf("after chmod -x: %s", got)
	}
	if err := os.Chmod(filepath.Join(f.dir, "20.b"), 0o755); err != nil {
		t.Fatal(err)
	}
	cw.want("enabled=[20.b]")
	// Remove.
	if err := os.Remove(filepath.Join(f.dir, "10.a")); err != nil {
		t.Fatal(err)
	}
	cw.want("removed=[10.a]")
	if got := states(); got != "OK: 20.b=OK" {
		t.Errorf("after remove: %s", got)
	}
	// Enable by symlink, then the link goes dangling.
	target := f.scriptIn(f.tmp, "stock", "#!/bin/sh\n", 0o755)
	if err := os.Symlink(target, filepath.Join(f.dir, "30.link")); err != nil {
		t.Fatal(err)
	}
	cw.want("added=[30.link]")
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}
	// The target lives outside the watched directories: nothing is
	// reported until the next rescan, but the next event sees it.
	if got := states(); got != "FAILED: 20.b=OK 30.link=CANNOT RUN" {
		t.Errorf("dangling link: %s", got)
	}
	if err := os.Remove(filepath.Join(f.dir, "30.link")); err != nil {
		t.Fatal(err)
	}
	cw.want("removed=[30.link]")
	// Modern layout directory created after the watcher started.
	f.scriptIn(f.modern, "15.modern.script", "#!/bin/sh\n", 0o755)
	cw.want("added=[15.modern]")
	// Replace events.d as a whole: the new directory is watched again.
	newDir := filepath.Join(f.base, "events.d.new")
	f.scriptIn(newDir, "40.new", "#!/bin/sh\n", 0o755)
	if err := os.Rename(f.dir, filepath.Join(f.base, "events.d.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newDir, f.dir); err != nil {
		t.Fatal(err)
	}
	cw.want("added=[40.new]", "removed=[20.b]")
	f.script("50.later", "exit 0")
	cw.want("added=[50.later]")
	if got := states(); got != "OK: 15.modern=OK 40.new=OK 50.later=OK" {
		t.Errorf("after replacing events.d: %s", got)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDiffStates(t *testing.T) {
	c := diffStates(
		map[string]State{"a": Enabled, "b": Enabled, "c": Disabled, "d": Enabled},
		map[string]State{"a": Enabled, "b": Disabled, "c": Enabled, "e": Enabled, "d": Broken},
	)
	if got, want := c.String(), "added=[e] removed=[] enabled=[c] disabled=[b] broken=[d] err=<nil>"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
