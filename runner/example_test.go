package runner_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ctdb-go/ctdb/runner"
)

// The daemon puts its native IP handling into the pipeline: the address is
// added before any takeip script runs, and removed after the releaseip
// scripts, even when one of them failed.
func ExampleRunner_AddHook() {
	r := runner.New(runner.Config{
		Base:    "/etc/ctdb",
		VarDir:  "/var/lib/ctdb",
		Timeout: 30 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	addIP := runner.HandlerFunc{HookName: "netif-add", Fn: func(ctx context.Context, inv runner.Invocation) runner.ScriptResult {
		// inv.Args is IFACE IP MASKBITS, already validated.
		return runner.ScriptResult{Status: runner.StatusOK}
	}}
	delIP := runner.HandlerFunc{HookName: "netif-del", Fn: func(ctx context.Context, inv runner.Invocation) runner.ScriptResult {
		return runner.ScriptResult{Status: runner.StatusOK}
	}}
	r.AddHook(runner.Hook{Order: runner.First, Events: []runner.Event{runner.TakeIP}, Handler: addIP})
	r.AddHook(runner.Hook{Order: runner.Last, Events: []runner.Event{runner.ReleaseIP}, AlwaysRun: true, Handler: delIP})

	w, err := r.Watch(0, nil) // log script changes as they happen
	if err == nil {
		defer w.Close()
	}
	res, err := r.Run(context.Background(), runner.TakeIP, "eth1", "10.0.0.31", "24")
	if err != nil {
		fmt.Println("not run:", err)
		return
	}
	fmt.Println(res.Status, res.Code())
}
