package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/client"
	"github.com/ctdb-go/ctdb/ctdbd/clusterlock"
	"github.com/ctdb-go/ctdb/ctdbd/eventcmd"
	"github.com/ctdb-go/ctdb/ctdbd/protocol"
	"github.com/ctdb-go/ctdb/ctdbd/transport"
	"github.com/ctdb-go/ctdb/runner"
)

// TestEventRunThroughDaemon: `ctdb event run` sent to a running daemon is run by the
// daemon's own pipeline (serialised with its events) and the result comes back; the
// stored result is what `ctdb event status` then shows.
func TestEventRunThroughDaemon(t *testing.T) {
	base := t.TempDir()
	cfg := nodeConfig(t, base, 1, 0)
	scripts := filepath.Join(base, "events.d")
	os.MkdirAll(scripts, 0o755)
	os.WriteFile(filepath.Join(scripts, "10.record"), []byte("#!/bin/sh\necho \"ran $*\"\n"), 0o755)
	rc := runner.Config{Base: cfg.Base, ScriptDir: scripts, VarDir: filepath.Join(base, "var"), ModernDir: "-", NotifyDir: "-"}
	events := runner.New(rc)
	sock := filepath.Join(base, "run", "ctdbd.socket")
	d, err := New(cfg, Options{Transport: transport.NewNetwork().Transport(0), Lock: clusterlock.NewFake().For("0"),
		Socket: sock, Events: RunnerEvents{R: events}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for d.Status().Runstate != protocol.RunstateRunning {
		if time.Now().After(deadline) {
			t.Fatal("daemon not running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	conn, err := client.Dial(cctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	svc := &eventcmd.DaemonClient{Conn: conn, Store: events.Store()}
	res, err := svc.Run(cctx, 10*time.Second, runner.IPReallocated, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != runner.EventOK || len(res.Scripts) != 1 || !strings.Contains(res.Scripts[0].Output, "ran ipreallocated") {
		t.Fatalf("result %+v", res)
	}
	stored, err := svc.Status(runner.IPReallocated)
	if err != nil || !stored.End.Equal(res.End) {
		t.Errorf("stored result %v %+v, want the run's", err, stored)
	}
	// A bad event is refused with the runner's error.
	if _, err := svc.Run(cctx, time.Second, runner.Event("frobnicate"), nil); err == nil || !strings.Contains(fmt.Sprint(err), "frobnicate") {
		t.Errorf("invalid event: %v", err)
	}
}
