// Command ltdbtool works on CTDB's local TDB files without a daemon, like
// CTDB's ltdbtool: dump and convert records with their 24-byte ctdb
// headers, plus check, store, fetch and delete for scripts and tests.
//
//	ltdbtool [-e] [-p] [-s 0|32|64] [-S N] dump FILE
//	ltdbtool [-e] [-s 0|32|64] [-S N] [-o 0|32|64] [-O N] convert IN OUT
//	ltdbtool check FILE
//	ltdbtool [--ltdb] store FILE KEY VALUE
//	ltdbtool [--ltdb] fetch FILE KEY     (value to stdout; exit 1 if absent)
//	ltdbtool delete FILE KEY             (exit 1 if absent)
//
// Keys and values are printed the way tdbdump prints them. Options may
// come before or after the command, as with getopt.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/ctdb-go/ctdb/tdbcore"
)

const usage = `Usage: ltdbtool [options] <command>

Options:
   -s {0|32|64}    how to determine the ctdb record header size of the input
                   database: 0 no header, 32 20 bytes, 64 24 bytes (default 64)
   -S <num>        the number of bytes to interpret as ctdb record header
                   for the input database (beware!)
   -o {0|32|64}    the ctdb record header size for the output database
   -O <num>        the number of bytes of ctdb record header for the output
   -e              include empty records, defaults to off
   -p              print header (for the dump command), defaults to off
   --ltdb          store adds and fetch strips a 24-byte ctdb header
   --rsn N, --dmaster N, --flags N
                   header fields for store --ltdb (default: previous rsn+1,
                   previous dmaster or 0, previous flags or 0)
   -h              print this help

Commands:
  help                         print this help
  dump <db>                    dump the db to stdout
  convert <in_db> <out_db>     convert the db
  check <db>                   check the integrity of the db
  store <db> <key> <value>     store a record (replace)
  fetch <db> <key>             print a record's value; exit 1 if absent
  delete <db> <key>            delete a record; exit 1 if absent
`

type options struct {
	inSize, outSize int
	empty, print    bool
	ltdb            bool
	rsn, dmaster    *uint64
	flags           *uint64
}

func sizeArg(v string) (int, error) {
	switch v {
	case "0":
		return 0, nil
	case "32":
		return tdbcore.LtdbHeaderSize32, nil
	case "64":
		return tdbcore.LtdbHeaderSize, nil
	}
	return 0, fmt.Errorf("invalid header size %q: use 0, 32 or 64", v)
}

func run(args []string, stdout, stderr io.Writer) int {
	o := options{inSize: tdbcore.LtdbHeaderSize, outSize: tdbcore.LtdbHeaderSize}
	var pos []string
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ltdbtool: "+format+"\n", a...)
		fmt.Fprint(stderr, usage)
		return 255
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, bool) {
			if len(a) > 2 && a[1] != '-' {
				return a[2:], true // -s64
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		num := func(name string) (*uint64, bool) {
			if i+1 >= len(args) {
				return nil, false
			}
			i++
			v, err := strconv.ParseUint(args[i], 0, 64)
			if err != nil {
				return nil, false
			}
			_ = name
			return &v, true
		}
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case a == "-e":
			o.empty = true
		case a == "-p":
			o.print = true
		case a == "--ltdb":
			o.ltdb = true
		case a == "--rsn" || a == "--dmaster" || a == "--flags":
			v, ok := num(a)
			if !ok {
				return bad("%s needs a number", a)
			}
			switch a {
			case "--rsn":
				o.rsn = v
			case "--dmaster":
				o.dmaster = v
			default:
				o.flags = v
			}
		case len(a) >= 2 && a[0] == '-' && (a[1] == 's' || a[1] == 'o' || a[1] == 'S' || a[1] == 'O'):
			v, ok := next()
			if !ok {
				return bad("option %s needs a value", a[:2])
			}
			var n int
			var err error
			if a[1] == 's' || a[1] == 'o' {
				n, err = sizeArg(v)
			} else if n, err = strconv.Atoi(v); err == nil && n < 0 {
				err = fmt.Errorf("negative header size")
			}
			if err != nil {
				return bad("%v", err)
			}
			if a[1] == 's' || a[1] == 'S' {
				o.inSize = n
			} else {
				o.outSize = n
			}
		case len(a) > 1 && a[0] == '-':
			return bad("unknown option %s", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return bad("no command given")
	}
	cmd, rest := pos[0], pos[1:]
	want := map[string]int{"help": 0, "dump": 1, "convert": 2, "check": 1, "store": 3, "fetch": 2, "delete": 2}
	n, ok := want[cmd]
	if !ok {
		return bad("unknown command %q", cmd)
	}
	if len(rest) != n {
		return bad("%s takes %d arguments, got %d", cmd, n, len(rest))
	}
	switch cmd {
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "dump":
		return dump(rest[0], &o, stdout, stderr)
	case "convert":
		return convert(rest[0], rest[1], &o, stderr)
	case "check":
		return check(rest[0], stdout, stderr)
	case "store":
		return store(rest[0], []byte(rest[1]), []byte(rest[2]), &o, stderr)
	case "fetch":
		return fetch(rest[0], []byte(rest[1]), &o, stdout, stderr)
	default:
		return del(rest[0], []byte(rest[1]), stderr)
	}
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "ltdbtool: %v\n", err)
	return 255
}

// forEach traverses path read-only, splitting each value with the input
// header size; empty records are skipped unless o.empty. A value too
// short for a header ends the traversal, as with CTDB's ltdbtool.
func forEach(path string, o *options, stderr io.Writer, fn func(k []byte, h tdbcore.LtdbHeader, data []byte) error) (*tdbcore.DB, error) {
	db, err := tdbcore.Open(path, &tdbcore.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	_, err = db.TraverseRead(func(k, v []byte) error {
		h, data, err := tdbcore.SplitLtdbSize(v, o.inSize)
		if err != nil {
			fmt.Fprintf(stderr, "Value too short to contain a ctdb header: \"%s\" = \"%s\"\n", tdbcore.DumpString(k), tdbcore.DumpString(v))
			return tdbcore.ErrStopTraverse
		}
		if len(data) == 0 && o.inSize > 0 && !o.empty {
			return nil
		}
		return fn(k, h, data)
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func dump(path string, o *options, stdout, stderr io.Writer) int {
	db, err := forEach(path, o, stderr, func(k []byte, h tdbcore.LtdbHeader, data []byte) error {
		fmt.Fprintf(stdout, "{\nkey(%d) = \"%s\"\n", len(k), tdbcore.DumpString(k))
		if o.print {
			fmt.Fprintf(stdout, "%s\n", h)
		}
		_, err := fmt.Fprintf(stdout, "data(%d) = \"%s\"\n}\n", len(data), tdbcore.DumpString(data))
		return err
	})
	if err != nil {
		return fail(stderr, err)
	}
	db.Close()
	return 0
}

func convert(in, out string, o *options, stderr io.Writer) int {
	if _, err := os.Stat(out); err == nil {
		return fail(stderr, fmt.Errorf("%s: output file exists; remove it or choose another name", out))
	}
	src, err := tdbcore.Open(in, &tdbcore.Options{ReadOnly: true})
	if err != nil {
		return fail(stderr, err)
	}
	hashSize := src.HashSize()
	src.Close()
	dst, err := tdbcore.Open(out, &tdbcore.Options{HashSize: hashSize})
	if err != nil {
		return fail(stderr, err)
	}
	db, err := forEach(in, o, stderr, func(k []byte, h tdbcore.LtdbHeader, data []byte) error {
		return dst.Store(k, tdbcore.JoinLtdbSize(h, data, o.outSize), tdbcore.Insert)
	})
	if err != nil {
		dst.Close()
		return fail(stderr, err)
	}
	db.Close()
	if err := dst.Close(); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func check(path string, stdout, stderr io.Writer) int {
	db, err := tdbcore.Open(path, &tdbcore.Options{NoCreate: true})
	if err != nil {
		return fail(stderr, err)
	}
	defer db.Close()
	n, err := db.Check()
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		fmt.Fprintln(stdout, "Integrity check for the opened database failed.")
		return 1
	}
	fmt.Fprintf(stdout, "Database integrity is OK and has %d records.\n", n)
	return 0
}

func store(path string, key, value []byte, o *options, stderr io.Writer) int {
	flags := tdbcore.Flags(0)
	if o.ltdb {
		flags = tdbcore.IncompatibleHash // as CTDB creates its databases
	}
	db, err := tdbcore.Open(path, &tdbcore.Options{Flags: flags})
	if err != nil {
		return fail(stderr, err)
	}
	defer db.Close()
	if o.ltdb {
		c, err := db.ChainLock(key)
		if err != nil {
			return fail(stderr, err)
		}
		defer c.Unlock()
		h := tdbcore.LtdbHeader{RSN: 1}
		if old, err := c.Fetch(key); err == nil {
			if oh, _, err := tdbcore.SplitLtdb(old); err == nil {
				h = oh
				h.RSN++
			}
		}
		if o.rsn != nil {
			h.RSN = *o.rsn
		}
		if o.dmaster != nil {
			h.DMaster = uint32(*o.dmaster)
		}
		if o.flags != nil {
			h.Flags = uint32(*o.flags)
		}
		err = c.Store(key, tdbcore.JoinLtdb(h, value), tdbcore.Replace)
		if err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	if err := db.Store(key, value, tdbcore.Replace); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func fetch(path string, key []byte, o *options, stdout, stderr io.Writer) int {
	db, err := tdbcore.Open(path, &tdbcore.Options{ReadOnly: true})
	if err != nil {
		return fail(stderr, err)
	}
	defer db.Close()
	v, err := db.Fetch(key)
	if errors.Is(err, tdbcore.ErrNotFound) {
		fmt.Fprintf(stderr, "ltdbtool: %s: no record with key \"%s\"\n", path, tdbcore.DumpString(key))
		return 1
	}
	if err != nil {
		return fail(stderr, err)
	}
	if o.ltdb {
		if _, v, err = tdbcore.SplitLtdb(v); err != nil {
			return fail(stderr, err)
		}
	}
	if _, err := stdout.Write(v); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func del(path string, key []byte, stderr io.Writer) int {
	db, err := tdbcore.Open(path, &tdbcore.Options{NoCreate: true})
	if err != nil {
		return fail(stderr, err)
	}
	defer db.Close()
	err = db.Delete(key)
	if errors.Is(err, tdbcore.ErrNotFound) {
		fmt.Fprintf(stderr, "ltdbtool: %s: no record with key \"%s\"\n", path, tdbcore.DumpString(key))
		return 1
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
