package clusterlock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HelperLock takes the cluster lock by running a mutex helper (Spec.Argv). It is safe
// for concurrent use.
type HelperLock struct {
	Spec Spec
	// Grace is how long Release waits after SIGTERM before SIGKILL (default 5 s).
	Grace time.Duration
	// Stderr receives the helper's standard error (nil: kept for error messages only).
	Stderr io.Writer
}

// Acquire starts the helper and waits for its one-byte answer. The helper's stdin is a
// pipe that the daemon holds open: our helpers treat its end-of-file as the death of
// the daemon and release the lock at once, without polling.
func (h *HelperLock) Acquire(ctx context.Context) (Held, error) {
	if len(h.Spec.Argv) == 0 {
		return nil, errors.New("clusterlock: no helper command")
	}
	cmd := exec.Command(h.Spec.Argv[0], h.Spec.Argv[1:]...)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("clusterlock: %w", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, fmt.Errorf("clusterlock: %w", err)
	}
	var stderrTail tailBuffer
	cmd.Stdin = stdinR
	cmd.Stdout = stdoutW
	if h.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&stderrTail, h.Stderr)
	} else {
		cmd.Stderr = &stderrTail
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		stdinR.Close()
		stdinW.Close()
		stdoutR.Close()
		stdoutW.Close()
		return nil, fmt.Errorf("clusterlock: cannot run lock helper %s: %w", h.Spec.Argv[0], err)
	}
	stdinR.Close()
	stdoutW.Close()

	held := &helperHeld{cmd: cmd, stdin: stdinW, lost: make(chan struct{}), exited: make(chan struct{}), grace: h.Grace, argv0: h.Spec.Argv[0], stderr: &stderrTail}
	if held.grace == 0 {
		held.grace = 5 * time.Second
	}
	go held.wait()

	answer := make(chan byte, 1)
	go func() {
		var b [1]byte
		if n, _ := stdoutR.Read(b[:]); n == 1 {
			answer <- b[0]
		} else {
			answer <- 0
		}
		// Anything the helper writes later is drained so that it never blocks.
		io.Copy(io.Discard, stdoutR)
		stdoutR.Close()
	}()

	select {
	case <-ctx.Done():
		held.kill()
		return nil, fmt.Errorf("clusterlock: taking the cluster lock: %w", ctx.Err())
	case b := <-answer:
		switch b {
		case '0':
			go held.watch()
			return held, nil
		case '1':
			held.kill()
			return nil, ErrContended
		case '2':
			held.kill()
			return nil, ErrTimeout
		case '3':
			held.kill()
			return nil, fmt.Errorf("clusterlock: lock helper %s reported an error: %s", h.Spec.Argv[0], stderrTail.String())
		case 0:
			<-held.exited
			return nil, fmt.Errorf("clusterlock: lock helper %s exited without an answer (%v): %s", h.Spec.Argv[0], held.waitErr, stderrTail.String())
		default:
			held.kill()
			return nil, fmt.Errorf("clusterlock: lock helper %s answered %q, not one of 0, 1, 2, 3", h.Spec.Argv[0], b)
		}
	}
}

type helperHeld struct {
	cmd     *exec.Cmd
	stdin   *os.File
	argv0   string
	stderr  *tailBuffer
	grace   time.Duration
	exited  chan struct{} // closed when the helper has exited
	waitErr error

	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
	released sync.Once
	relErr   error
	mu       sync.Mutex
	leaving  bool // Release was called: the exit is not a loss
}

func (h *helperHeld) wait() {
	h.waitErr = h.cmd.Wait()
	close(h.exited)
}

// watch turns an unexpected exit of the helper into a lost lock.
func (h *helperHeld) watch() {
	<-h.exited
	h.mu.Lock()
	leaving := h.leaving
	h.mu.Unlock()
	if leaving {
		return
	}
	h.lostOnce.Do(func() {
		msg := strings.TrimSpace(h.stderr.String())
		if msg == "" {
			msg = fmt.Sprint(h.waitErr)
		}
		h.lostErr = fmt.Errorf("clusterlock: lock helper %s exited, the cluster lock is lost: %s", h.argv0, msg)
		close(h.lost)
	})
}

func (h *helperHeld) Lost() <-chan struct{} { return h.lost }

func (h *helperHeld) Err() error {
	select {
	case <-h.lost:
		return h.lostErr
	default:
		return nil
	}
}

// kill stops the helper: SIGTERM to its process group, SIGKILL after the grace period.
func (h *helperHeld) kill() error {
	h.mu.Lock()
	h.leaving = true
	h.mu.Unlock()
	pid := h.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	h.stdin.Close()
	select {
	case <-h.exited:
	case <-time.After(h.grace):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-h.exited
	}
	return nil
}

func (h *helperHeld) Release() error {
	h.released.Do(func() { h.relErr = h.kill() })
	return h.relErr
}

// tailBuffer keeps the last 4 KiB written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.buf.Len() > 4096 {
		b := t.buf.Bytes()
		keep := append([]byte(nil), b[len(b)-4096:]...)
		t.buf.Reset()
		t.buf.Write(keep)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.buf.String())
}
