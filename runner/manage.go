package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ListEntry is one line of `ctdb event script list`.
type ListEntry struct {
	Name    string
	Enabled bool
	Path    string
}

// ListScripts returns the stock scripts of the data directory (enabled when
// the modern directory has a symlink to exactly that file) and the local
// scripts: every script of events.d and of the modern directory that is not
// such a stock symlink (enabled when Classify says Enabled). A missing
// directory contributes nothing; ErrNoEventDir when neither script
// directory exists.
func ListScripts(c Config) (stock, local []ListEntry, err error) {
	c = c.WithDefaults()
	dirs := c.Dirs()
	stockLinked := map[string]bool{} // modern-dir paths that are stock links
	if c.DataDir != "" && c.DataDir != "-" {
		ds, _, derr := ScanDir(c.DataDir, ModernLayout)
		if derr == nil {
			for _, s := range ds {
				e := ListEntry{Name: s.Name, Path: s.Path}
				if dirs.Modern != "" {
					link := filepath.Join(dirs.Modern, s.Name+ScriptSuffix)
					if t, lerr := os.Readlink(link); lerr == nil && t == s.Path {
						e.Enabled = true
						stockLinked[link] = true
					}
				}
				stock = append(stock, e)
			}
		}
	}
	scripts, _, err := Scan(dirs)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range scripts {
		if stockLinked[s.Path] {
			continue
		}
		local = append(local, ListEntry{Name: s.Name, Enabled: s.State == Enabled, Path: s.Path})
	}
	return stock, local, nil
}

// ErrScriptNotFound is returned by EnableScript when no script has the name.
var ErrScriptNotFound = errors.New("runner: script does not exist")

// ErrNotFileOrLink is returned when the name belongs to a directory or a
// special file.
var ErrNotFileOrLink = errors.New("runner: script is not a file or a link")

// SymlinkError is returned when enabling or disabling a stock script fails
// to create or remove its symlink.
type SymlinkError struct {
	Op   string // "create" or "remove"
	Path string
	Err  error
}

func (e *SymlinkError) Error() string {
	return fmt.Sprintf("runner: failed to %s symlink %s: %v", e.Op, e.Path, e.Err)
}

func (e *SymlinkError) Unwrap() error { return e.Err }

// ErrInvalidScriptName is returned for names that cannot be scripts.
var ErrInvalidScriptName = errors.New("runner: invalid script name")

// findScript returns the path and layout of the directory entry for name,
// "" if there is none.
func findScript(c Config, name string) (string, Layout, error) {
	if strings.ContainsAny(name, "/\x00") || name == "" {
		return "", 0, fmt.Errorf("%w: %q", ErrInvalidScriptName, name)
	}
	dirs := c.Dirs()
	if dirs.Legacy != "" {
		if p := filepath.Join(dirs.Legacy, name); exists(p) {
			return p, LegacyLayout, nil
		}
	}
	if dirs.Modern != "" {
		if p := filepath.Join(dirs.Modern, name+ScriptSuffix); exists(p) {
			return p, ModernLayout, nil
		}
	}
	return "", 0, nil
}

// EnableScript enables the script called name (display name, "50.samba"):
// a regular file gets its execute bits set (chmod +x); a stock script of the
// data directory without a link gets a symlink in the modern directory; an
// existing symlink is left alone (enabling its target is the package's
// business). Errors: ErrScriptNotFound, ErrNotFileOrLink,
// ErrInvalidScriptName, or the file system's.
func EnableScript(c Config, name string) error {
	c = c.WithDefaults()
	path, _, err := findScript(c, name)
	if err != nil {
		return err
	}
	if path == "" {
		stock := filepath.Join(c.DataDir, name+ScriptSuffix)
		dirs := c.Dirs()
		if fi, serr := os.Stat(stock); serr == nil && fi.Mode().IsRegular() && dirs.Modern != "" {
			link := filepath.Join(dirs.Modern, name+ScriptSuffix)
			if err := os.Symlink(stock, link); err != nil {
				return &SymlinkError{Op: "create", Path: link, Err: err}
			}
			return nil
		}
		return fmt.Errorf("%w: %s", ErrScriptNotFound, name)
	}
	return chmodScript(path, true)
}

// DisableScript disables the script called name: a symlink is removed (a
// stock script can be enabled again from the data directory), a regular file
// loses its execute bits (chmod -x). A name that does not exist is not an
// error, as in CTDB.
func DisableScript(c Config, name string) error {
	c = c.WithDefaults()
	path, _, err := findScript(c, name)
	if err != nil || path == "" {
		return err
	}
	return chmodScript(path, false)
}

func chmodScript(path string, enable bool) error {
	lfi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("runner: %s: %w", path, err)
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		if enable {
			return nil
		}
		if err := os.Remove(path); err != nil {
			return &SymlinkError{Op: "remove", Path: path, Err: err}
		}
		return nil
	}
	if !lfi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s", ErrNotFileOrLink, path)
	}
	mode := lfi.Mode().Perm()
	if enable {
		mode |= 0o111
	} else {
		mode &^= 0o111
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("runner: chmod %s: %w", path, err)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
