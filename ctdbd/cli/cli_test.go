package cli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func noenv(string) string { return "" }

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args  []string
		words string
		opts  string // fmt of selected fields
		err   string
	}{
		{[]string{"status"}, "status", "n=-1 set=false m=false sep=| t=10 T=120", ""},
		{[]string{"-n", "2", "status"}, "status", "n=2 set=true m=false sep=| t=10 T=120", ""},
		{[]string{"-n2", "status"}, "status", "n=2 set=true m=false sep=| t=10 T=120", ""},
		{[]string{"--node=3", "status"}, "status", "n=3 set=true m=false sep=| t=10 T=120", ""},
		{[]string{"--node", "3", "status"}, "status", "n=3 set=true m=false sep=| t=10 T=120", ""},
		{[]string{"status", "-X"}, "status", "n=-1 set=false m=true sep=| t=10 T=120", ""},
		{[]string{"-Y", "-x", ":", "ip"}, "ip", "n=-1 set=false m=true sep=: t=10 T=120", ""},
		{[]string{"-Xv", "ip", "all"}, "ip all", "n=-1 set=false m=true sep=| t=10 T=120", ""},
		{[]string{"-t", "5", "-T", "30", "ping"}, "ping", "n=-1 set=false m=false sep=| t=5 T=30", ""},
		{[]string{"--timelimit=7", "--maxruntime=8", "ping"}, "ping", "n=-1 set=false m=false sep=| t=7 T=8", ""},
		{[]string{"event", "run", "--", "-1", "legacy"}, "event run -1 legacy", "n=-1 set=false m=false sep=| t=10 T=120", ""},
		{[]string{"-q", "status"}, "", "", "Invalid option -q: unknown option"},
		{[]string{"--bogus"}, "", "", "Invalid option --bogus: unknown option"},
		{[]string{"-n", "x", "pnn"}, "", "", "Invalid option x: invalid numeric value"},
		{[]string{"pnn", "-n"}, "", "", "Invalid option -n: missing argument"},
		{[]string{"event", "run", "-1", "legacy"}, "", "", "Invalid option -1: unknown option"},
	}
	for _, tt := range tests {
		o, words, err := ParseArgs(tt.args, noenv)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		got := fmt.Sprintf("n=%d set=%v m=%v sep=%s t=%d T=%d", o.Node, o.NodeSet, o.Machine, o.Separator, o.TimeLimit, o.MaxRuntime)
		if got != tt.opts || strings.Join(words, " ") != tt.words {
			t.Errorf("%q: %s / %q, want %s / %q", tt.args, got, words, tt.opts, tt.words)
		}
	}
	o, _, _ := ParseArgs([]string{"status"}, func(k string) string {
		if k == "CTDB_TIMEOUT" {
			return "45"
		}
		return ""
	})
	if o.MaxRuntime != 45 {
		t.Errorf("CTDB_TIMEOUT: MaxRuntime %d", o.MaxRuntime)
	}
}

var (
	registerOnce sync.Once
	got          []string
)

func TestMainDispatch(t *testing.T) {
	registerOnce.Do(func() {
		Register(Command{Name: "testcmd", Args: "<x>", Help: "a test command", MinArgs: 1, MaxArgs: 1,
			Run: func(c *Context, args []string) int {
				got = append(got, c.Command+":"+strings.Join(args, ","))
				return 7
			}},
			Command{Name: "testremote", Remote: true, MaxArgs: 0, Run: func(*Context, []string) int { return 0 }})
	})
	got = nil
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		rc := MainEnv(args, &out, &errb, noenv)
		return rc, out.String(), errb.String()
	}
	if rc, _, _ := run("testcmd", "a"); rc != 7 || strings.Join(got, "|") != "testcmd:a" {
		t.Errorf("dispatch rc=%d got=%v", rc, got)
	}
	if rc, out, _ := run("testcmd"); rc != 1 || !strings.Contains(out, "  testcmd         <x>                          a test command\n") {
		t.Errorf("usage: rc=%d out=%q", rc, out)
	}
	if rc, _, errs := run("-n", "1", "testcmd", "a"); rc != 1 || errs != "Cannot specify node for command testcmd\n" {
		t.Errorf("-n: rc=%d err=%q", rc, errs)
	}
	if rc, _, _ := run("-n", "1", "testremote"); rc != 0 {
		t.Errorf("remote command with -n: rc=%d", rc)
	}
	if rc, _, errs := run("nosuch"); rc != 1 || errs != "Unknown command 'nosuch'\n" {
		t.Errorf("unknown: rc=%d err=%q", rc, errs)
	}
	if rc, out, _ := run(); rc != 1 || !strings.HasPrefix(out, "Usage: [OPTION...]\n") || !strings.Contains(out, "\nCommands:\n") {
		t.Errorf("no command: rc=%d out=%q", rc, out)
	}
	if rc, out, _ := run("--help"); rc != 0 || strings.Contains(out, "Commands:") {
		t.Errorf("--help: rc=%d out=%q", rc, out)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register(Command{Name: "testcmd"})
}

// TestNodeAll: -n all (a ctdb-go extension) runs a remote command once per connected
// node, in order, and exits with the first failure.
func TestNodeAll(t *testing.T) {
	var ran []int
	Register(Command{Name: "zz-each", Remote: true, MaxArgs: -1, Run: func(c *Context, _ []string) int {
		ran = append(ran, c.Options.Node)
		if c.Options.Node == 2 {
			return 3
		}
		return 0
	}})
	saved := ConnectedNodes
	defer func() { ConnectedNodes = saved }()
	ConnectedNodes = func(func(string) string) ([]int, error) { return []int{0, 2, 5}, nil }
	var out, errb strings.Builder
	if rc := MainEnv([]string{"-n", "all", "zz-each"}, &out, &errb, func(string) string { return "" }); rc != 3 {
		t.Errorf("exit %d, want 3 (the first failure)", rc)
	}
	if fmt.Sprint(ran) != "[0 2 5]" {
		t.Errorf("ran on %v, want [0 2 5]", ran)
	}
}
