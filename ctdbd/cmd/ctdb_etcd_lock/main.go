// Command ctdb_etcd_lock is a cluster lock helper backed by etcd, for clusters whose
// shared file system has no coherent fcntl locks. Configure it as
//
//	[cluster]
//		cluster lock = !/usr/libexec/ctdb/ctdb_etcd_lock
//
// It speaks CTDB's mutex helper protocol: it writes '0' to stdout when it holds the lock
// (and holds it until SIGTERM), '1' when another node holds it, '2' when etcd cannot be
// reached in time, '3' on any other error. The lock is an etcd mutex on a lease of
// lock_ttl seconds that the helper keeps alive; if the lease is lost (etcd unreachable
// for longer than the TTL, or revoked), the helper says so on stderr and exits 1, and
// ctdbd drops leadership. It releases the lock at once when ctdbd dies (its parent
// exits or its stdin pipe closes).
//
//	ctdb_etcd_lock [-v] [-c CONFIG] [NAME]
//
// CONFIG (default $CTDB_BASE/etcd, CTDB_BASE defaulting to /etc/ctdb) holds `key =
// value` lines: endpoints (comma-separated URLs; default http://HOST:PORT from host,
// default 127.0.0.1, and port, default 2379), lock_ttl (9), locks_dir (_ctdb),
// dial_timeout (5), username, password, cert, key, ca_cert. The lock key is
// /_locks/LOCKS_DIR/NAME, NAME defaulting to "ctdb": give every cluster its own name.
//
// This command is a module of its own so that the etcd client stays out of ctdbd's
// dependencies.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ctdb-go/ctdb/ctdbd/clusterlock"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// config is the helper's configuration file.
type config struct {
	endpoints   []string
	ttl         int
	locksDir    string
	dialTimeout time.Duration
	username    string
	password    string
	cert, key   string
	caCert      string
}

func loadConfig(path string, explicit bool) (config, error) {
	c := config{ttl: 9, locksDir: "_ctdb", dialTimeout: 5 * time.Second}
	host, port := "127.0.0.1", "2379"
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		c.endpoints = []string{"http://" + host + ":" + port}
		return c, nil
	}
	if err != nil {
		return c, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return c, fmt.Errorf("%s:%d: expected key = value", path, n)
		}
		num := func() (int, error) {
			i, err := strconv.Atoi(v)
			if err != nil || i <= 0 {
				return 0, fmt.Errorf("%s:%d: %s must be a whole number above 0", path, n, k)
			}
			return i, nil
		}
		switch k {
		case "endpoints":
			c.endpoints = strings.Split(v, ",")
		case "host":
			host = v
		case "port":
			if _, err := num(); err != nil {
				return c, err
			}
			port = v
		case "lock_ttl":
			if c.ttl, err = num(); err != nil {
				return c, err
			}
		case "refresh", "lock_refresh":
			// The lease is kept alive by the etcd client (at a third of the TTL).
			if _, err := num(); err != nil {
				return c, err
			}
		case "locks_dir":
			c.locksDir = v
		case "dial_timeout", "read_timeout":
			i, err := num()
			if err != nil {
				return c, err
			}
			c.dialTimeout = time.Duration(i) * time.Second
		case "username":
			c.username = v
		case "password":
			c.password = v
		case "cert":
			c.cert = v
		case "key":
			c.key = v
		case "ca_cert":
			c.caCert = v
		default:
			return c, fmt.Errorf("%s:%d: unknown setting %q", path, n, k)
		}
	}
	if err := s.Err(); err != nil {
		return c, err
	}
	if len(c.endpoints) == 0 {
		c.endpoints = []string{"http://" + host + ":" + port}
	}
	return c, nil
}

func (c config) tls() (*tls.Config, error) {
	if c.cert == "" && c.caCert == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.cert != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, err
		}
		t.Certificates = []tls.Certificate{pair}
	}
	if c.caCert != "" {
		pem, err := os.ReadFile(c.caCert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no certificates", c.caCert)
		}
		t.RootCAs = pool
	}
	return t, nil
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ctdb_etcd_lock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := os.Getenv("CTDB_BASE")
	if base == "" {
		base = "/etc/ctdb"
	}
	cfgPath := fs.String("c", filepath.Join(base, "etcd"), "configuration file")
	verbose := fs.Bool("v", false, "say what happens on stderr")
	answer := func(b byte) { stdout.Write([]byte{b}) }
	if err := fs.Parse(args); err != nil || fs.NArg() > 1 {
		answer('3')
		return 1
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "c" })
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "ctdb_etcd_lock: "+format+"\n", a...) }
	debugf := func(format string, a ...any) {
		if *verbose {
			logf(format, a...)
		}
	}
	name := "ctdb"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	if name == "" || strings.Contains(name, "/") {
		logf("lock name %q must be non-empty and without /", name)
		answer('3')
		return 1
	}
	cfg, err := loadConfig(*cfgPath, explicit)
	if err != nil {
		logf("%v", err)
		answer('3')
		return 1
	}
	parentGone := clusterlock.WatchParent(stdin)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	tlsCfg, err := cfg.tls()
	if err != nil {
		logf("TLS configuration: %v", err)
		answer('3')
		return 1
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.endpoints, DialTimeout: cfg.dialTimeout, TLS: tlsCfg,
		Username: cfg.username, Password: cfg.password, Logger: quietLogger(),
	})
	if err != nil {
		logf("connecting to etcd %v: %v", cfg.endpoints, err)
		answer('3')
		return 1
	}
	defer cli.Close()

	// Every step that talks to etcd before the answer is bounded by dial_timeout: an
	// unreachable cluster must produce an answer, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.dialTimeout)
	var sess *concurrency.Session
	_, err = cli.Status(ctx, cfg.endpoints[0])
	if err == nil {
		var lease *clientv3.LeaseGrantResponse
		if lease, err = cli.Grant(ctx, int64(cfg.ttl)); err == nil {
			sess, err = concurrency.NewSession(cli, concurrency.WithLease(lease.ID), concurrency.WithTTL(cfg.ttl))
		}
	}
	cancel()
	if err != nil {
		logf("etcd %v not usable: %v", cfg.endpoints, err)
		if errors.Is(err, context.DeadlineExceeded) {
			answer('2')
		} else {
			answer('3')
		}
		return 1
	}
	key := "/_locks/" + cfg.locksDir + "/" + name
	mu := concurrency.NewMutex(sess, key)
	ctx, cancel = context.WithTimeout(context.Background(), cfg.dialTimeout)
	err = mu.TryLock(ctx)
	cancel()
	if errors.Is(err, concurrency.ErrLocked) {
		debugf("%s is held by another node", key)
		answer('1')
		sess.Close()
		return 0
	}
	if err != nil {
		logf("taking %s: %v", key, err)
		if errors.Is(err, context.DeadlineExceeded) {
			answer('2')
		} else {
			answer('3')
		}
		sess.Close()
		return 1
	}
	debugf("holding %s (lease %x, ttl %ds)", key, sess.Lease(), cfg.ttl)
	answer('0')

	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.dialTimeout)
		defer cancel()
		mu.Unlock(ctx)
		sess.Close() // revokes the lease: others can take the lock at once
	}
	select {
	case <-sigs:
		debugf("releasing %s", key)
		release()
		return 0
	case why := <-parentGone:
		logf("%s, releasing %s", why, key)
		release()
		return 0
	case <-sess.Done():
		logf("lock lost: the etcd lease of %s expired (etcd unreachable for more than %ds?)", key, cfg.ttl)
		return 1
	}
}
