// Package runner is the event-script hook pipeline: it runs the scripts in
// $CTDB_BASE/events.d (and CTDB 4.9's events/legacy) for every CTDB event,
// with the contract CTDB's scripts expect, and built-in Go hooks at fixed
// points of the same pipeline.
//
// # Order is data
//
// The pipeline of an event is the sorted list of script names (NN.name,
// byte order, so the two-digit prefix first), merged with the Hooks the
// daemon registered, by their Order key. Classify is the one function that
// decides whether a directory entry is a script, and whether it is enabled
// (owner-executable), disabled, or broken (a dangling symlink); Scan applies
// it to the directories. The Runner rescans at the start of every event, so
// adding, removing or chmod-ing a script counts for the next event; a
// Watcher (fsnotify) reports such changes as they happen.
//
// # Execution contract
//
// Each script of an event runs after the previous one has exited, with
//
//   - argv: the script's path, the event name, the event's arguments
//     (validated first: takeip IFACE IP MASKBITS, updateip OLD NEW IP BITS);
//   - stdin on /dev/null, stdout and stderr together on one pipe;
//   - its own process group;
//   - a clean environment: PATH, CTDB_BASE, CTDB_EVENT, CTDB_VARDIR,
//     CTDB_SYSCONFIG, the plain assignments of $CTDB_BASE/script.options and
//     of the script's NN.name.options, and Config.Env; never NOTIFY_SOCKET,
//     WATCHDOG_* or LISTEN_*, and nothing else of the daemon's environment.
//
// Exit 0 is OK; any other exit status is ERROR (with the code). A script that
// cannot be started (no interpreter, not an executable format, a dangling
// symlink) is CANNOT RUN with the errno; one killed by a signal is CANNOT RUN
// (EINTR), as in CTDB. A script without the owner-execute bit is DISABLED,
// not run, and not a failure. The first failure ends the event; the scripts
// after it are NOT RUN.
//
// One timeout bounds the whole event (EventScriptTimeout). When it expires,
// the configured debug script runs with the PID of the hung script and the
// event, then the script's whole process group gets SIGTERM and, after
// KillGrace, SIGKILL. A script that exits while a background child still
// holds its output pipe does not hold up the event: output is read for
// OutputDrain more, then the event goes on. Output is kept up to
// OutputLimit bytes (64 KiB) per script; the rest is counted and replaced by
// a marker line.
//
// # Events and monitor semantics
//
// A Runner runs one event at a time; others wait their turn. A monitor
// event is skipped (EventSkipped) when another event is running or
// waiting, and a running monitor is cancelled (EventCancelled: its scripts
// are killed, nothing is stored, the node's health is unchanged) when
// another event arrives. Monitor timeouts only make the node unhealthy after
// MonitorTimeoutCount of them in a row (Result.Health).
//
// # Results
//
// Every event returns a Result: per script the status, exit code or errno,
// start time, duration and output. Results are saved in a FileStore under
// $CTDB_VARDIR/events/legacy, one JSON file per event, replaced atomically,
// so `ctdb event status` in another process shows the last one.
package runner
