package runner

import (
	"encoding/json"
	"fmt"
	"syscall"
	"time"
)

// Status is the outcome of one script (or built-in hook) in an event.
type Status int

// The script statuses, as `ctdb event status` shows them.
const (
	StatusOK        Status = iota // exit 0
	StatusError                   // non-zero exit; ScriptResult.ExitCode says which
	StatusTimedOut                // killed because the event's timeout expired
	StatusDisabled                // not executable; not run, not a failure
	StatusCannotRun               // could not be started (or died of a signal); Errno says why
	StatusNotRun                  // an earlier script failed, or the event was cancelled first
	StatusCancelled               // running when the event was cancelled (monitor only)
)

var statusNames = []string{"OK", "ERROR", "TIMEDOUT", "DISABLED", "CANNOT RUN", "NOT RUN", "CANCELLED"}

func (s Status) String() string {
	if int(s) >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText encodes the status as its name, so stored results stay readable.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a status name written by MarshalText.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("runner: unknown script status %q", b)
}

// Failed reports whether s makes the event fail.
func (s Status) Failed() bool {
	return s == StatusError || s == StatusTimedOut || s == StatusCannotRun
}

// ScriptResult is what happened to one script or hook in one run of an event.
type ScriptResult struct {
	Name     string        `json:"name"`
	Builtin  bool          `json:"builtin,omitempty"` // a Go hook, not a script
	Status   Status        `json:"status"`
	ExitCode int           `json:"exit_code"`       // for StatusError
	Errno    syscall.Errno `json:"errno,omitempty"` // for StatusCannotRun
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Output   string        `json:"output"`             // stdout and stderr interleaved, bounded
	Dropped  int64         `json:"dropped,omitempty"`  // output bytes dropped past the bound
	Detail   string        `json:"detail,omitempty"`   // for logs: why CANNOT RUN, who timed out
	HungPID  int           `json:"hung_pid,omitempty"` // for StatusTimedOut
	Signaled string        `json:"signaled,omitempty"` // signal that ended the script, if any
}

// EventStatus is the outcome of a whole event.
type EventStatus int

// The outcomes of Runner.Run.
const (
	EventOK        EventStatus = iota // every script OK or DISABLED
	EventFailed                       // a script failed; later ones were not run
	EventTimedOut                     // the event's timeout expired
	EventCancelled                    // a monitor cancelled by another event
	EventSkipped                      // a monitor not run because another event was running
)

var eventStatusNames = []string{"OK", "FAILED", "TIMEDOUT", "CANCELLED", "SKIPPED"}

func (s EventStatus) String() string {
	if int(s) >= 0 && int(s) < len(eventStatusNames) {
		return eventStatusNames[s]
	}
	return fmt.Sprintf("EventStatus(%d)", int(s))
}

// MarshalText encodes the status as its name.
func (s EventStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (s *EventStatus) UnmarshalText(b []byte) error {
	for i, n := range eventStatusNames {
		if n == string(b) {
			*s = EventStatus(i)
			return nil
		}
	}
	return fmt.Errorf("runner: unknown event status %q", b)
}

// Health is what a monitor result means for the node's health.
type Health int

const (
	// HealthUnchanged: not a monitor, or cancelled, skipped, or a timeout
	// below MonitorTimeoutCount in a row.
	HealthUnchanged Health = iota
	// Healthy: every monitor script passed.
	Healthy
	// Unhealthy: a monitor script failed, or MonitorTimeoutCount monitors in
	// a row timed out.
	Unhealthy
)

func (h Health) String() string {
	return [...]string{"unchanged", "healthy", "unhealthy"}[h]
}

// Result is one run of an event: every script in pipeline order, including
// disabled ones and the ones not run after a failure. A Result is a plain
// value; the Runner never changes one after returning it.
type Result struct {
	Event   Event          `json:"event"`
	Args    []string       `json:"args,omitempty"`
	Status  EventStatus    `json:"status"`
	Start   time.Time      `json:"start"`
	End     time.Time      `json:"end"`
	Scripts []ScriptResult `json:"scripts"`
	// Health is set for monitor events (see Health); MonitorTimeouts is the
	// number of consecutive monitor timeouts including this one.
	Health          Health `json:"health,omitempty"`
	MonitorTimeouts int    `json:"monitor_timeouts,omitempty"`
}

// Code is the event's status as a number, the exit status `ctdb event status`
// uses: 0 when OK; for a failed event, the failing script's exit code, or its
// errno if it could not run (EINTR when it died of a signal); ETIMEDOUT (110)
// when the event timed out; ECANCELED (125) when cancelled.
func (r *Result) Code() int {
	switch r.Status {
	case EventOK, EventSkipped:
		return 0
	case EventTimedOut:
		return int(syscall.ETIMEDOUT)
	case EventCancelled:
		return int(syscall.ECANCELED)
	}
	for _, s := range r.Scripts {
		switch s.Status {
		case StatusError:
			return s.ExitCode
		case StatusCannotRun:
			return int(s.Errno)
		case StatusTimedOut:
			return int(syscall.ETIMEDOUT)
		}
	}
	return int(syscall.EIO)
}

// Failed returns the first failed script, or nil.
func (r *Result) Failed() *ScriptResult {
	for i := range r.Scripts {
		if r.Scripts[i].Status.Failed() {
			return &r.Scripts[i]
		}
	}
	return nil
}

// Marshal encodes r for the result store.
func (r *Result) Marshal() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
