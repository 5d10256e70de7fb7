package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNeverRun is returned by Store.Load for an event with no stored result.
var ErrNeverRun = errors.New("runner: event has never run")

// Store keeps the last result of each event. Implementations must be safe
// for concurrent use.
type Store interface {
	Save(r *Result) error
	// Load returns the last saved result of ev, or an error wrapping
	// ErrNeverRun.
	Load(ev Event) (*Result, error)
}

// FileStore keeps results as one JSON file per event in Dir
// (<event>.json), replaced atomically (write to a temporary file, rename),
// so readers in other processes see a whole old or a whole new result.
type FileStore struct {
	Dir string
}

func (s *FileStore) path(ev Event) string { return filepath.Join(s.Dir, string(ev)+".json") }

// Save writes r, creating Dir if needed.
func (s *FileStore) Save(r *Result) error {
	if !r.Event.Valid() {
		return fmt.Errorf("runner: not saving result of invalid event %q", r.Event)
	}
	b, err := r.Marshal()
	if err != nil {
		return fmt.Errorf("runner: encode result of %s: %w", r.Event, err)
	}
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("runner: create result directory: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, "."+string(r.Event)+".*.tmp")
	if err != nil {
		return fmt.Errorf("runner: save result of %s: %w", r.Event, err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("runner: save result of %s in %s: %w", r.Event, s.Dir, err)
	}
	if err := os.Rename(f.Name(), s.path(r.Event)); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("runner: save result of %s: %w", r.Event, err)
	}
	return nil
}

// Load reads the result of ev. A missing file wraps ErrNeverRun; a file
// that cannot be decoded gives an error naming it (remove the file to
// reset).
func (s *FileStore) Load(ev Event) (*Result, error) {
	b, err := os.ReadFile(s.path(ev))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNeverRun, ev)
	}
	if err != nil {
		return nil, fmt.Errorf("runner: read result of %s: %w", ev, err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("runner: %s is not a valid result file (remove it to reset): %w", s.path(ev), err)
	}
	if r.Event != ev {
		return nil, fmt.Errorf("runner: %s holds a result of %q, not %q (remove it to reset)", s.path(ev), r.Event, ev)
	}
	return &r, nil
}
