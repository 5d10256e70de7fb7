package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Layout says how a script directory names its scripts.
type Layout int

const (
	// LegacyLayout is $CTDB_BASE/events.d: scripts are named NN.name with no
	// suffix, and enabled by the owner-execute bit.
	LegacyLayout Layout = iota
	// ModernLayout is $CTDB_BASE/events/legacy (CTDB 4.9 and later): scripts
	// are named NN.name.script; stock scripts are enabled by a symlink into
	// the data directory, local ones by the owner-execute bit.
	ModernLayout
)

// ScriptSuffix is the file name suffix of scripts in the ModernLayout.
const ScriptSuffix = ".script"

// State is what discovery decided about a script that is part of the
// pipeline.
type State int

const (
	// Enabled scripts are run.
	Enabled State = iota
	// Disabled scripts (not owner-executable) are reported DISABLED and not run.
	Disabled
	// Broken scripts (a symlink whose target is missing or unreadable) are
	// reported CANNOT RUN with Script.Err and count as a failure, as in CTDB.
	Broken
)

func (s State) String() string {
	switch s {
	case Enabled:
		return "enabled"
	case Disabled:
		return "disabled"
	case Broken:
		return "broken"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Script is one entry of a script directory that takes part in the pipeline.
// Values are immutable once returned by Classify or Scan.
type Script struct {
	Name   string // display name, "10.interface" (no ".script")
	Path   string // path of the directory entry (the link itself for symlinks)
	Layout Layout
	State  State
	Err    error  // why a Broken script cannot run (wraps a syscall.Errno)
	Link   string // symlink target as stored in the link, "" if not a link
}

// Skipped is a directory entry that Scan left out, and why.
type Skipped struct {
	Path   string
	Reason string
}

// ignoredSuffixes are backup, editor and package-manager leftovers. In the
// legacy layout every name with a second dot is skipped anyway; the list gives
// a precise reason in the log, and is checked for the modern layout too.
var ignoredSuffixes = []string{
	"~", ".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new",
	".dpkg-dist", ".dpkg-bak", ".dpkg-tmp", ".ucf-old", ".ucf-new",
	".ucf-dist", ".swp", ".swo", ".bak", ".orig", ".tmp", ".options",
}

// ValidName decides whether a file called name in a directory of the given
// layout is a script at all, before looking at the file. It returns the
// display name, or "" and the reason the name is skipped.
//
// Rules (CTDB's, reference 5.1): a name must start with two digits and a dot
// and have something after the dot. Names ending in "~" or in a backup or
// package-manager suffix (.rpmnew, .rpmsave, .rpmorig, .dpkg-old, .dpkg-new,
// .dpkg-dist, .swp, ...) are skipped. In the legacy layout (events.d) any
// further dot skips the name, as CTDB's events.d README says; this also skips
// per-script "NN.name.options" files. In the modern layout the name must end
// in ".script", which is dropped for display. Names with control characters
// or white space are skipped, since they cannot be shown in status output.
func ValidName(layout Layout, name string) (display, reason string) {
	for _, suf := range ignoredSuffixes {
		if strings.HasSuffix(name, suf) {
			return "", "backup or package-manager file (" + suf + ")"
		}
	}
	display = name
	if layout == ModernLayout {
		if !strings.HasSuffix(name, ScriptSuffix) {
			return "", "name does not end in " + ScriptSuffix
		}
		display = strings.TrimSuffix(name, ScriptSuffix)
	}
	if len(display) < 4 || !isDigit(display[0]) || !isDigit(display[1]) || display[2] != '.' {
		return "", "name does not match NN.name (two digits, a dot, a name)"
	}
	for _, c := range display {
		if c <= ' ' || c == 0x7f {
			return "", "name contains white space or control characters"
		}
	}
	if layout == LegacyLayout && strings.Contains(display[3:], ".") {
		return "", "name contains a second dot (NN.name only)"
	}
	return display, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Classify is the one function that decides what a directory entry is: a
// script (with its State) or skipped (with a reason). It applies ValidName,
// then looks at the file, following one level of symlinks:
//
//   - a regular file, or a symlink to one, is Enabled if its owner-execute
//     bit is set and Disabled otherwise;
//   - a symlink whose target cannot be found or read (dangling) is Broken:
//     reported CANNOT RUN, not run, as CTDB does;
//   - directories, sockets, fifos and devices are skipped.
func Classify(dir string, layout Layout, name string) (Script, *Skipped) {
	path := filepath.Join(dir, name)
	display, reason := ValidName(layout, name)
	if reason != "" {
		return Script{}, &Skipped{Path: path, Reason: reason}
	}
	s := Script{Name: display, Path: path, Layout: layout}
	lfi, err := os.Lstat(path)
	if err != nil {
		return Script{}, &Skipped{Path: path, Reason: "cannot stat: " + err.Error()}
	}
	fi := lfi
	if lfi.Mode()&fs.ModeSymlink != 0 {
		s.Link, _ = os.Readlink(path)
		fi, err = os.Stat(path)
		if err != nil {
			s.State = Broken
			s.Err = fmt.Errorf("runner: script %s: symlink target %s: %w", path, s.Link, errnoOf(err))
			return s, nil
		}
	}
	if !fi.Mode().IsRegular() {
		return Script{}, &Skipped{Path: path, Reason: "not a regular file (" + fi.Mode().Type().String() + ")"}
	}
	if fi.Mode().Perm()&0o100 != 0 {
		s.State = Enabled
	} else {
		s.State = Disabled
	}
	return s, nil
}

// errnoOf returns the syscall.Errno inside err, or err itself.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// ScanDir classifies every entry of dir. A missing dir gives an error that
// satisfies errors.Is(err, fs.ErrNotExist). Scripts come back sorted by name.
func ScanDir(dir string, layout Layout) ([]Script, []Skipped, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var scripts []Script
	var skipped []Skipped
	for _, de := range ents {
		s, sk := Classify(dir, layout, de.Name())
		if sk != nil {
			skipped = append(skipped, *sk)
			continue
		}
		scripts = append(scripts, s)
	}
	sortScripts(scripts)
	return scripts, skipped, nil
}

// sortScripts orders by display name in byte order, which is CTDB's
// alphasort in the C locale: the numeric prefix first, ties alphabetically.
func sortScripts(s []Script) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}

// Dirs names the script directories of the pipeline. Either may be empty or
// missing.
type Dirs struct {
	Legacy string // events.d (LegacyLayout), the primary one
	Modern string // events/legacy (ModernLayout)
}

// ErrNoEventDir is returned by Scan when none of the script directories
// exists. The CLI prints it as CTDB does: "Event dir for legacy does not exist".
var ErrNoEventDir = errors.New("runner: no event script directory exists")

// Scan lists the scripts of both directories, merged and sorted by name. When
// the same name is in both, the legacy (events.d) entry is used and the other
// is returned as Skipped ("shadowed"). It fails with ErrNoEventDir only when
// neither directory exists.
func Scan(d Dirs) ([]Script, []Skipped, error) {
	var all []Script
	var skipped []Skipped
	found := false
	for _, p := range []struct {
		dir    string
		layout Layout
	}{{d.Legacy, LegacyLayout}, {d.Modern, ModernLayout}} {
		if p.dir == "" {
			continue
		}
		s, sk, err := ScanDir(p.dir, p.layout)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("runner: cannot read script directory %s: %w", p.dir, err)
		}
		found = true
		all = append(all, s...)
		skipped = append(skipped, sk...)
	}
	if !found {
		return nil, nil, ErrNoEventDir
	}
	sortScripts(all)
	out := all[:0]
	for i, s := range all {
		if i > 0 && all[i-1].Name == s.Name {
			skipped = append(skipped, Skipped{Path: s.Path, Reason: "shadowed by " + out[len(out)-1].Path})
			continue
		}
		out = append(out, s)
	}
	return out, skipped, nil
}
