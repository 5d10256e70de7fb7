package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctdb-go/ctdb/runner"
)

// Events runs events through the event-script pipeline.
type Events interface {
	// Run runs an event; it returns an error naming the failing script when a script
	// failed or the event timed out.
	Run(ctx context.Context, event string, args ...string) error
	// Monitor runs the monitor event. changed is false when the result says nothing
	// about health (skipped, cancelled, or a timeout below MonitorTimeoutCount).
	Monitor(ctx context.Context) (healthy, changed bool, reason string)
	// Notify runs the notification scripts for a state change (init, setup, startup,
	// healthy, unhealthy); their failures are only logged.
	Notify(ctx context.Context, kind string)
	// RunFor runs an event for an administrator (`ctdb event run`): timeout <= 0
	// means no limit; the result is returned whatever the scripts did.
	RunFor(ctx context.Context, timeout time.Duration, event runner.Event, args ...string) (*runner.Result, error)
}

// RunnerEvents runs events with a runner.Runner.
type RunnerEvents struct{ R *runner.Runner }

// Run implements Events.
func (e RunnerEvents) Run(ctx context.Context, event string, args ...string) error {
	res, err := e.R.Run(ctx, runner.Event(event), args...)
	if err != nil {
		return err
	}
	switch res.Status {
	case runner.EventOK, runner.EventSkipped:
		return nil
	}
	if f := res.Failed(); f != nil {
		return fmt.Errorf("event %s: script %s: %v (exit %d): %s", event, f.Name, f.Status, f.ExitCode, firstLine(f.Output))
	}
	return fmt.Errorf("event %s: %v", event, res.Status)
}

// Monitor implements Events.
func (e RunnerEvents) Monitor(ctx context.Context) (healthy, changed bool, reason string) {
	res, err := e.R.Run(ctx, runner.Monitor)
	if err != nil {
		return false, false, err.Error()
	}
	switch res.Health {
	case runner.Healthy:
		return true, true, ""
	case runner.Unhealthy:
		if f := res.Failed(); f != nil {
			return false, true, fmt.Sprintf("%s: %v: %s", f.Name, f.Status, firstLine(f.Output))
		}
		return false, true, fmt.Sprint(res.Status)
	}
	return false, false, ""
}

// RunFor implements Events.
func (e RunnerEvents) RunFor(ctx context.Context, timeout time.Duration, event runner.Event, args ...string) (*runner.Result, error) {
	return e.R.RunTimeout(ctx, timeout, event, args...)
}

// Notify implements Events.
func (e RunnerEvents) Notify(ctx context.Context, kind string) { e.R.Notify(ctx, kind) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
