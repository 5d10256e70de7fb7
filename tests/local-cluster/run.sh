#!/bin/sh
# Local 3-node example cluster on loopback (make run).
#
# Generates the configuration of three nodes (127.0.0.1 to 127.0.0.3, one directory per
# node under tmp/local-cluster/) in both styles: a classic sysconfig file and a ctdb.conf,
# starts a ctdbd per node, waits until every node is OK, prints `ctdb status`, and keeps
# the cluster running until Ctrl-C, which stops the nodes cleanly. No root is needed.
#
# Talk to a node meanwhile with:  CTDB_SOCKET=tmp/local-cluster/node0/run/ctdbd.socket bin/ctdb status
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/bin"
dir="$top/tmp/local-cluster"
nodes=3

for b in ctdbd ctdb ctdb-config ctdb_mutex_fcntl_helper; do
	[ -x "$bin/$b" ] || { echo "run: $bin/$b missing: run 'make build' first" >&2; exit 1; }
done

rm -rf "$dir"
mkdir -p "$dir/shared"
i=0
while [ "$i" -lt "$nodes" ]; do
	base="$dir/node$i/etc/ctdb"
	var="$dir/node$i/var"
	mkdir -p "$base/events.d" "$var/volatile" "$var/persistent" "$var/state" "$dir/node$i/run"
	: > "$base/nodes"
	j=1
	while [ "$j" -le "$nodes" ]; do
		echo "127.0.0.$j" >> "$base/nodes"
		j=$((j + 1))
	done
	cat > "$dir/node$i/sysconfig" <<SYS
# Classic settings of node $i (as in /etc/default/ctdb)
CTDB_RECOVERY_LOCK="$dir/shared/.reclock"
CTDB_SOCKET=$dir/node$i/run/ctdbd.socket
CTDB_VARDIR=$var
CTDB_DBDIR=$var/volatile
CTDB_DBDIR_PERSISTENT=\$CTDB_VARDIR/persistent
CTDB_DBDIR_STATE=\$CTDB_VARDIR/state
CTDB_EVENT_SCRIPT_DIR=$base/events.d
CTDB_SET_MonitorInterval=5
SYS
	cat > "$base/ctdb.conf" <<CONF
# Modern settings of node $i
[logging]
	location = file:$dir/node$i/log.ctdb
	log level = NOTICE
[cluster]
	node address = 127.0.0.$((i + 1))
CONF
	CTDB_BASE="$base" "$bin/ctdb-config" --sysconfig "$dir/node$i/sysconfig" validate
	i=$((i + 1))
done

pids=
stop() {
	trap - INT TERM EXIT
	echo
	echo "Stopping the cluster..."
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	echo "Stopped. Logs: $dir/node*/log.ctdb"
	exit 0
}
trap stop INT TERM EXIT

i=0
while [ "$i" -lt "$nodes" ]; do
	CTDB_BASE="$dir/node$i/etc/ctdb" "$bin/ctdbd" --sysconfig "$dir/node$i/sysconfig" \
		--pidfile "$dir/node$i/run/ctdbd.pid" 2>>"$dir/node$i/log.ctdb" &
	pids="$pids $!"
	i=$((i + 1))
done
echo "Started ctdbd on 127.0.0.1-3 (PIDs$pids); configuration and logs under $dir"

sock="$dir/node0/run/ctdbd.socket"
ctdb="$bin/ctdb"
if "$ctdb" nodestatus 2>&1 | grep -q "Unknown command"; then
	# Our ctdb tool does not have the admin commands yet: use CTDB's if installed.
	[ -x /usr/bin/ctdb ] || { echo "run: this ctdb has no status command yet" >&2; exit 1; }
	ctdb=/usr/bin/ctdb
fi
tries=0
until CTDB_SOCKET="$sock" CTDB_BASE="$dir/node0/etc/ctdb" setsid "$ctdb" nodestatus all >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -gt 300 ]; then
		echo "run: the cluster did not become OK within 30 s; see $dir/node*/log.ctdb" >&2
		exit 1
	fi
	sleep 0.1
done
echo "All nodes OK after $((tries / 10)).$((tries % 10)) s"
CTDB_SOCKET="$sock" CTDB_BASE="$dir/node0/etc/ctdb" setsid "$ctdb" status
echo
echo "Cluster running; press Ctrl-C to stop it."
# Wait in the background so that a signal runs the trap at once.
while :; do
	sleep 3600 &
	wait $! || true
done
