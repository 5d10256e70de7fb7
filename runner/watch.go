package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Change is what a rescan found different from the previous one, by
// display name.
type Change struct {
	Added, Removed, Enabled, Disabled, Broken []string
	Err                                       error // the rescan failed (e.g. the directory is gone)
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.Enabled)+len(c.Disabled)+len(c.Broken) == 0 && c.Err == nil
}

func (c Change) String() string {
	return fmt.Sprintf("added=%v removed=%v enabled=%v disabled=%v broken=%v err=%v",
		c.Added, c.Removed, c.Enabled, c.Disabled, c.Broken, c.Err)
}

// DefaultDebounce is the quiet period after the last file system event
// before a Watcher rescans: one user action gives 1 to 4 events.
const DefaultDebounce = 150 * time.Millisecond

// Watcher keeps watch on a Runner's script directories (events.d, the
// modern directory and the data directory) and their parents, so that a
// directory that is created, removed or replaced is noticed and watched
// again. After a quiet period it rescans and logs every script that was
// added, removed, enabled or disabled; a queue overflow rescans at once.
//
// The Runner itself rescans at the start of every event, so a change always
// takes effect for the next event even if its notification is still in
// flight; the Watcher is what reports changes as they happen (to the log
// and to OnChange) and keeps Runner.Scripts current. Close stops it and
// waits for its goroutine.
type Watcher struct {
	r        *Runner
	fw       *fsnotify.Watcher
	debounce time.Duration
	dirs     []string // the script directories
	onChange func(Change)
	log      *slog.Logger

	stop chan struct{}
	done chan struct{}
	once sync.Once
	prev map[string]State
}

// Watch starts a Watcher on r's directories. onChange, if not nil, is
// called from the Watcher's goroutine after every rescan that found a
// change (it must not block for long). debounce <= 0 means DefaultDebounce.
func (r *Runner) Watch(debounce time.Duration, onChange func(Change)) (*Watcher, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("runner: cannot watch event script directories (check fs.inotify.max_user_instances): %w", err)
	}
	w := &Watcher{
		r: r, fw: fw, debounce: debounce, onChange: onChange, log: r.log,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	d := r.cfg.Dirs()
	for _, dir := range []string{d.Legacy, d.Modern, r.cfg.DataDir} {
		if dir == "" || dir == "-" {
			continue
		}
		w.dirs = append(w.dirs, filepath.Clean(dir))
	}
	w.addWatches()
	w.prev = w.snapshot(nil)
	go w.loop()
	return w, nil
}

// addWatches (re)adds a watch on every script directory that exists and
// on its parent, and for one that does not exist yet, on its nearest
// existing ancestor, so its creation is seen. Adding an existing watch is
// harmless; a directory that was replaced needs it.
func (w *Watcher) addWatches() {
	var targets []string
	for _, d := range w.dirs {
		if isDir(d) {
			targets = append(targets, d)
		}
		for p := filepath.Dir(d); ; p = filepath.Dir(p) {
			if isDir(p) {
				targets = append(targets, p)
				break
			}
			if p == filepath.Dir(p) {
				break
			}
		}
	}
	for _, p := range targets {
		if err := w.fw.Add(p); err != nil {
			w.log.Warn("cannot watch directory; script changes there are seen only at the next event",
				"dir", p, "err", err)
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// relevant reports whether an event concerns the scripts: something inside
// a script directory, a script directory itself, or a directory on the way
// to one (seen in an ancestor).
func (w *Watcher) relevant(name string) bool {
	name = filepath.Clean(name)
	if slices.Contains(w.dirs, filepath.Dir(name)) {
		return true
	}
	for _, d := range w.dirs {
		if d == name || strings.HasPrefix(d, name+"/") {
			return true
		}
	}
	return false
}

func (w *Watcher) loop() {
	defer close(w.done)
	var timer *time.Timer
	var fire <-chan time.Time
	arm := func(d time.Duration) {
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		fire = timer.C
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if w.relevant(ev.Name) {
				w.log.Debug("event script directory changed", "path", ev.Name, "op", ev.Op.String())
				arm(w.debounce)
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("too many changes in event script directories; rescanning all")
				arm(0)
				continue
			}
			w.log.Error("watching event script directories", "err", err)
		case <-fire:
			fire = nil
			w.addWatches()
			w.rescan()
		}
	}
}

// snapshot maps script names to states; on a scan error it returns prev
// unchanged and reports the error via err.
func (w *Watcher) snapshot(errp *error) map[string]State {
	scripts, err := w.r.Scripts()
	if err != nil {
		if errp != nil {
			*errp = err
		}
		return map[string]State{}
	}
	m := make(map[string]State, len(scripts))
	for _, s := range scripts {
		m[s.Name] = s.State
	}
	return m
}

func (w *Watcher) rescan() {
	var err error
	cur := w.snapshot(&err)
	c := diffStates(w.prev, cur)
	c.Err = err
	w.prev = cur
	if c.Empty() {
		return
	}
	if err != nil {
		w.log.Warn("event scripts cannot be listed", "err", err)
	}
	for _, n := range c.Added {
		w.log.Info("event script added", "script", n, "state", cur[n].String())
	}
	for _, n := range c.Removed {
		w.log.Info("event script removed", "script", n)
	}
	for _, n := range c.Enabled {
		w.log.Info("event script enabled", "script", n)
	}
	for _, n := range c.Disabled {
		w.log.Info("event script disabled", "script", n)
	}
	for _, n := range c.Broken {
		w.log.Warn("event script cannot run (dangling symlink?)", "script", n)
	}
	if w.onChange != nil {
		w.onChange(c)
	}
}

func diffStates(prev, cur map[string]State) Change {
	var c Change
	for n, st := range cur {
		old, had := prev[n]
		switch {
		case !had:
			c.Added = append(c.Added, n)
		case old == st:
		case st == Enabled:
			c.Enabled = append(c.Enabled, n)
		case st == Disabled:
			c.Disabled = append(c.Disabled, n)
		case st == Broken:
			c.Broken = append(c.Broken, n)
		}
	}
	for n := range prev {
		if _, ok := cur[n]; !ok {
			c.Removed = append(c.Removed, n)
		}
	}
	for _, s := range [][]string{c.Added, c.Removed, c.Enabled, c.Disabled, c.Broken} {
		slices.Sort(s)
	}
	return c
}

// Close stops the Watcher and waits for its goroutine. It is safe to call
// more than once.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		// Close fsnotify first while the loop still drains its channels.
		err = w.fw.Close()
		close(w.stop)
		<-w.done
	})
	return err
}
