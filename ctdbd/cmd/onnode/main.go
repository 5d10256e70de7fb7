// Command onnode runs a command on nodes of a CTDB cluster through ssh:
//
//	onnode [-c] [-f NODESFILE] [-i] [-n] [-p] [-P] [-q] [-v] NODES COMMAND...
//
// See package github.com/ctdb-go/ctdb/ctdbd/onnode for NODES and the environment
// (CTDB_BASE, ONNODE_SSH, CTDB_SOCKET). SIGINT and SIGTERM terminate the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ctdb-go/ctdb/ctdbd/onnode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := onnode.Run(ctx, os.Args[1:], onnode.Env{})
	stop()
	os.Exit(code)
}
