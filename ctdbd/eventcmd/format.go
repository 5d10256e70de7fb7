// Package eventcmd implements the event commands of the ctdb tool: `ctdb
// event run|status|script list|script enable|script disable`, and the
// classic `ctdb scriptstatus`, `ctdb enablescript` and `ctdb disablescript`,
// with the output formats and exit codes of CTDB 4.17's ctdb-event helper.
//
// Events run through a Service: the daemon's when one is running (set
// DaemonService), otherwise in this process with a runner.Runner whose
// results persist under CTDB_VARDIR, so `status` works across processes.
package eventcmd

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/ctdb-go/ctdb/runner"
)

// ctimeLayout is C's ctime() without the newline: "Sat Nov 21 10:38:16 2026".
const ctimeLayout = "Mon Jan _2 15:04:05 2006"

// FormatStatus writes res as `ctdb event status` does: per script that ran
// (or was disabled), the name in 20 columns, the status in 10, then the
// duration in seconds with 3 decimals and the start time (OK, ERROR), the
// start time (TIMEDOUT), nothing (DISABLED) or the reason in parentheses
// (CANNOT RUN). Scripts after the first failed one are left out. For
// every script that is not OK or DISABLED the output follows as
// "  OUTPUT: " plus the output exactly as captured. Times are local.
// Built-in Go hooks are listed only when they did not succeed, so the
// listing of a healthy node is the same as CTDB's.
func FormatStatus(w io.Writer, res *runner.Result, loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	for _, s := range res.Scripts {
		if s.Builtin && !s.Status.Failed() {
			continue
		}
		start := s.Start.In(loc).Format(ctimeLayout)
		switch s.Status {
		case runner.StatusNotRun, runner.StatusCancelled:
			continue
		case runner.StatusOK, runner.StatusError:
			fmt.Fprintf(w, "%-20s %-10s %.3f %s\n", s.Name, s.Status, s.Duration.Seconds(), start)
		case runner.StatusTimedOut:
			fmt.Fprintf(w, "%-20s %-10s %s\n", s.Name, s.Status, start)
		case runner.StatusDisabled:
			fmt.Fprintf(w, "%-20s %-10s\n", s.Name, s.Status)
		case runner.StatusCannotRun:
			fmt.Fprintf(w, "%-20s %-10s (%s)\n", s.Name, s.Status, Strerror(s.Errno))
		default:
			fmt.Fprintf(w, "%-20s %-10s\n", s.Name, s.Status)
		}
		if s.Status != runner.StatusOK && s.Status != runner.StatusDisabled {
			fmt.Fprintf(w, "  OUTPUT: %s\n", s.Output)
		}
		if s.Status.Failed() {
			break // CTDB lists scripts only up to the one that failed
		}
	}
}

// Strerror returns the C library's message for errno ("No such file or
// directory"): Go's text with the first letter upper-cased.
func Strerror(e syscall.Errno) string {
	if e == 0 {
		return "Success"
	}
	s := e.Error()
	if strings.HasPrefix(s, "errno ") {
		return "Unknown error " + strings.TrimPrefix(s, "errno ")
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// FormatList writes `ctdb event script list`: stock scripts, a blank line
// if there are both, local scripts; "* NAME" when enabled, "  NAME" when not.
func FormatList(w io.Writer, stock, local []runner.ListEntry) {
	line := func(e runner.ListEntry) {
		mark := ' '
		if e.Enabled {
			mark = '*'
		}
		fmt.Fprintf(w, "%c %s\n", mark, e.Name)
	}
	for _, e := range stock {
		line(e)
	}
	if len(stock) > 0 && len(local) > 0 {
		fmt.Fprintln(w)
	}
	for _, e := range local {
		line(e)
	}
}
