#!/bin/sh
# Local 3-node example cluster on loopback (make run).
#
# Generates the configuration of three nodes (127.0.0.1 to 127.0.0.3, one directory per
# node under tmp/local-cluster/) in both styles: a classic sysconfig file and a ctdb.conf.
# The daemon does not exist yet, so for now this validates each node's configuration
# with ctdb-config and prints what the daemon would run with.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/bin"
dir="$top/tmp/local-cluster"
nodes=3

[ -x "$bin/ctdb-config" ] || { echo "run: $bin/ctdb-config missing: run 'make build' first" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/shared"
i=0
while [ "$i" -lt "$nodes" ]; do
	base="$dir/node$i/etc/ctdb"
	var="$dir/node$i/var"
	mkdir -p "$base" "$var/volatile" "$var/persistent" "$var/state" "$dir/node$i/run"
	: > "$base/nodes"
	j=1
	while [ "$j" -le "$nodes" ]; do
		echo "127.0.0.$j" >> "$base/nodes"
		j=$((j + 1))
	done
	cat > "$base/public_addresses" <<PA
127.0.1.1/24 lo
127.0.1.2/24 lo
127.0.1.3/24 lo
PA
	cat > "$dir/node$i/sysconfig" <<SYS
# Classic settings of node $i (as in /etc/default/ctdb)
CTDB_RECOVERY_LOCK="$dir/shared/.reclock"
CTDB_SOCKET=$dir/node$i/run/ctdbd.socket
CTDB_VARDIR=$var
CTDB_DBDIR=$var/volatile
CTDB_DBDIR_PERSISTENT=\$CTDB_VARDIR/persistent
CTDB_DBDIR_STATE=\$CTDB_VARDIR/state
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
	i=$((i + 1))
done

echo "Example cluster configuration written under $dir"
echo "The daemon (ctdbd) is not built yet: showing each node's validated configuration."
i=0
while [ "$i" -lt "$nodes" ]; do
	echo
	echo "==== node $i ($dir/node$i) ===="
	CTDB_BASE="$dir/node$i/etc/ctdb" "$bin/ctdb-config" --sysconfig "$dir/node$i/sysconfig" validate
	CTDB_BASE="$dir/node$i/etc/ctdb" "$bin/ctdb-config" --sysconfig "$dir/node$i/sysconfig" dump
	i=$((i + 1))
done
