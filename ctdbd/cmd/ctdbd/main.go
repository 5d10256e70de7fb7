// Command ctdbd is the cluster daemon: one node of a CTDB cluster.
//
//	ctdbd [-i|--interactive] [-d|--debug LEVEL] [--pidfile FILE] [--sysconfig FILE]
//
// It reads the node's configuration as ctdb-config does (CTDB_BASE, default /etc/ctdb;
// the sysconfig file; ctdb.conf), and honours CTDB_SOCKET and CTDB_VARDIR from the
// environment so that several nodes can run side by side on one machine. It always
// stays in the foreground (systemd runs it directly); -i also logs to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ctdb-go/ctdb/ctdbd/daemon"
	"github.com/ctdb-go/ctdb/ctdbd/eventcmd"
	"github.com/ctdb-go/ctdb/ctdbd/netif"
	"github.com/ctdb-go/ctdb/runner"
	"github.com/ctdb-go/ctdb/sysconfig"
)

func main() {
	if os.Getenv(netif.JanitorEnv) == "1" {
		os.Exit(janitor())
	}
	os.Exit(run(os.Args[1:]))
}

// janitor runs as the daemon's address janitor (see netif.JanitorMain). It ignores the
// signals that stop the daemon, so that it outlives it and cleans up after a crash.
func janitor() int {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	nif, err := netif.NewLinux(netif.LinuxConfig{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctdbd address janitor: %v\n", err)
		io.Copy(io.Discard, os.Stdin)
		return 1
	}
	defer nif.Close()
	return netif.JanitorMain(os.Stdin, nif, os.Stderr)
}

func run(args []string) int {
	fs := flag.NewFlagSet("ctdbd", flag.ContinueOnError)
	interactive := fs.Bool("interactive", false, "log to stderr (ctdbd always stays in the foreground)")
	fs.BoolVar(interactive, "i", false, "same as --interactive")
	debug := fs.String("debug", "", "log level: ERROR, WARNING, NOTICE, INFO or DEBUG")
	fs.StringVar(debug, "d", "", "same as --debug")
	pidfile := fs.String("pidfile", "", "write the daemon's PID to this file")
	sysFile := fs.String("sysconfig", "", "sysconfig file (default /etc/sysconfig/ctdb or /etc/default/ctdb)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := sysconfig.Load(sysconfig.Options{SysconfigFile: *sysFile})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctdbd: %v\n", err)
		return 1
	}
	if s := os.Getenv("CTDB_SOCKET"); s != "" {
		cfg.Socket = s
	}
	if v := os.Getenv("CTDB_VARDIR"); v != "" {
		cfg.VarDir = v
	}
	level := cfg.Logging.Level
	if *debug != "" {
		if level, err = sysconfig.ParseLogLevel(*debug); err != nil {
			fmt.Fprintf(os.Stderr, "ctdbd: --debug: %v\n", err)
			return 2
		}
	}
	logger, closeLog, err := openLog(cfg.Logging.Location, level, *interactive)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctdbd: %v\n", err)
		return 1
	}
	defer closeLog()
	for _, m := range cfg.Messages {
		logger.Log(context.Background(), m.Level, m.Text)
	}
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "ctdbd: pidfile: %v\n", err)
			return 1
		}
		defer os.Remove(*pidfile)
	}
	rc := eventcmd.RunnerConfig(cfg, os.Getenv)
	rc.Logger = logger
	if err := rc.WithDefaults().Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "ctdbd: event scripts: %v\n", err)
		return 1
	}
	events := runner.New(rc)
	if w, err := events.Watch(0, nil); err == nil {
		defer w.Close()
	} else {
		logger.Warn("event script directory not watched; changes are seen at the next event", "err", err)
	}
	opts := daemon.Options{Logger: logger, Events: daemon.RunnerEvents{R: events}}
	if len(cfg.PublicAddresses) > 0 && !cfg.Failover.Disabled {
		nif, err := netif.NewLinux(netif.LinuxConfig{})
		if err != nil {
			fmt.Fprintf(os.Stderr, "ctdbd: public addresses: %v\n", err)
			return 1
		}
		defer nif.Close()
		j, err := netif.StartJanitor()
		if err != nil {
			fmt.Fprintf(os.Stderr, "ctdbd: %v\n", err)
			return 1
		}
		defer j.Close() // after Run released every address: a goodbye, nothing to clean
		opts.NetIf = netif.Guarded{NetIf: nif, J: j}
	}
	d, err := daemon.New(cfg, opts)
	if err != nil {
		logger.Error(err.Error())
		fmt.Fprintf(os.Stderr, "ctdbd: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := d.Run(ctx); err != nil {
		logger.Error(err.Error())
		fmt.Fprintf(os.Stderr, "ctdbd: %v\n", err)
		return 1
	}
	return 0
}

// openLog opens the configured log location: file:PATH, syslog[:...], or stderr
// (interactive, or "file:" without a path).
func openLog(location, level string, interactive bool) (*slog.Logger, func(), error) {
	lvl, _ := sysconfig.SlogLevel(level)
	opts := &slog.HandlerOptions{Level: lvl}
	var w io.Writer = os.Stderr
	closer := func() {}
	switch {
	case interactive || location == "file:":
	case strings.HasPrefix(location, "file:"):
		f, err := os.OpenFile(strings.TrimPrefix(location, "file:"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		w, closer = f, func() { f.Close() }
	case strings.HasPrefix(location, "syslog"):
		sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_NOTICE, "ctdbd")
		if err != nil {
			// No syslog daemon: stderr (the journal under systemd) is the next best.
			return slog.New(slog.NewTextHandler(os.Stderr, opts)), closer, nil
		}
		w, closer = sw, func() { sw.Close() }
	}
	return slog.New(slog.NewTextHandler(w, opts)), closer, nil
}
