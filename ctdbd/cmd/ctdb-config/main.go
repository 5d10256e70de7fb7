// Command ctdb-config validates and shows a node's CTDB configuration: the sysconfig
// file, ctdb.conf, tunables, the nodes file and the public addresses file, read from the
// same places the daemon reads them (under CTDB_BASE, default /etc/ctdb).
//
//	ctdb-config [--sysconfig FILE] [-d LEVEL] validate
//	ctdb-config [--sysconfig FILE] [-d LEVEL] dump
//	ctdb-config [--sysconfig FILE] [-d LEVEL] get SECTION KEY
//
// Exit status 0 on success, 1 with the error on standard error otherwise.
package main

import (
	"os"

	"github.com/ctdb-go/ctdb/sysconfig/configcmd"
)

func main() {
	os.Exit(configcmd.Main(os.Args[1:], os.Stdout, os.Stderr))
}
