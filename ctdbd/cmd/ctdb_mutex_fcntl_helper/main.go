// Command ctdb_mutex_fcntl_helper holds the cluster lock with an fcntl lock on a file of
// the cluster file system, speaking CTDB's mutex helper protocol. See
// clusterlock.FcntlHelperMain.
//
//	ctdb_mutex_fcntl_helper FILE [RECHECK-INTERVAL [PING-TIMEOUT]]
package main

import (
	"os"

	"github.com/ctdb-go/ctdb/ctdbd/clusterlock"
)

func main() {
	os.Exit(clusterlock.FcntlHelperMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
