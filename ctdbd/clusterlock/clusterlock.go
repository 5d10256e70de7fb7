// Package clusterlock is the cluster lock (formerly "recovery lock") seam: the mutex on
// the shared file system that makes sure at most one node acts as leader.
//
// The real implementation runs a mutex helper process speaking CTDB's helper protocol
// (doc/cluster_mutex_helper.txt in CTDB): the helper writes one ASCII byte to stdout,
// '0' when it holds the lock (and keeps holding it until SIGTERM), '1' on contention,
// '2' on timeout, '3' on error, and exits if its parent goes away. A plain path in the
// configuration runs our ctdb_mutex_fcntl_helper on it; "!command args" runs any helper.
//
// Fake is an in-memory implementation for tests of many nodes in one process.
package clusterlock

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Errors of Acquire. ErrContended is the normal "another node holds it" answer.
var (
	ErrContended = errors.New("clusterlock: the cluster lock is held by another node")
	ErrTimeout   = errors.New("clusterlock: the lock helper timed out taking the cluster lock")
)

// Lock takes the cluster lock. Implementations are safe for concurrent use; each
// successful Acquire returns an independent Held that must be released.
type Lock interface {
	// Acquire tries to take the lock without waiting for the holder to let go. It returns
	// ErrContended when another holder has it, ErrTimeout when the helper timed out, or
	// another error when the lock cannot be used at all (the message says why). ctx bounds
	// how long Acquire may take; cancelling it abandons the attempt.
	Acquire(ctx context.Context) (Held, error)
}

// Held is a taken cluster lock.
type Held interface {
	// Lost is closed when the lock is lost without Release: the helper died or reported
	// that the lock file changed. A leader must stop acting as leader at once.
	Lost() <-chan struct{}
	// Err says why the lock was lost, once Lost is closed.
	Err() error
	// Release gives the lock up and waits until it is free for others. It is safe to
	// call more than once and after the lock was lost.
	Release() error
}

// Spec is a parsed `[cluster] cluster lock` / CTDB_RECOVERY_LOCK value.
type Spec struct {
	// Argv is the helper command line: for a plain path, the fcntl helper and the path.
	Argv []string
	// File is the lock file for a plain path ("" for a custom helper).
	File string
}

// DefaultFcntlHelper is the helper's name; it is looked up in the helper directory.
const DefaultFcntlHelper = "ctdb_mutex_fcntl_helper"

// ParseSpec turns a cluster lock setting into a helper command line, as CTDB does: a
// value starting with '!' is split on blanks (no shell quoting) and run as is; anything
// else is a file on the cluster file system locked by helperPath (the fcntl helper).
func ParseSpec(value, helperPath string) (Spec, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return Spec{}, errors.New("clusterlock: no cluster lock configured")
	}
	if strings.HasPrefix(value, "!") {
		argv := strings.Fields(value[1:])
		if len(argv) == 0 {
			return Spec{}, fmt.Errorf("clusterlock: %q: \"!\" must be followed by a helper command", value)
		}
		return Spec{Argv: argv}, nil
	}
	if !strings.HasPrefix(value, "/") {
		return Spec{}, fmt.Errorf("clusterlock: %q: the cluster lock must be an absolute path or !HELPER ARGS", value)
	}
	return Spec{Argv: []string{helperPath, value}, File: value}, nil
}
