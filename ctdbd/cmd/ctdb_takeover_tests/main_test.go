package main

import (
	"bytes"
	"strings"
	"testing"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func runTool(args []string, getenv func(string) (string, bool), stdin string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, getenv, strings.NewReader(stdin), &out, &errb)
	return rc, out.String(), errb.String()
}

// lines joins "IP PNN" pairs given as alternating strings into the tool's output.
func lines(pairs ...string) string {
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		b.WriteString(pairs[i] + " " + pairs[i+1] + "\n")
	}
	return b.String()
}

// The contract, through cases of CTDB 4.17's UNIT/takeover suite that exercise each part
// of the input format.
func TestContract(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   []string
		stdin string
		want  string
	}{
		{
			// upstream lcp2.010: tabs, ALLOWED_PNN lists, the LCP2 bug it illustrates
			name: "lcp2.010", args: []string{"ipalloc", "0,0,0,0"},
			stdin: "192.168.140.1\t\t0\t0,1\n192.168.140.2\t\t0\t0,1\n192.168.140.3\t\t1\t0,1\n" +
				"192.168.140.4\t\t1\t0,1\n192.168.209.101\t\t2\t2,3\n192.168.209.102\t\t2\t2,3\n",
			want: lines("192.168.209.102", "3", "192.168.209.101", "2", "192.168.140.4", "1",
				"192.168.140.3", "1", "192.168.140.2", "0", "192.168.140.1", "0"),
		},
		{
			// upstream lcp2.025: CTDB_TEST_RUNSTATE, node 0 in STARTUP
			name: "lcp2.025", args: []string{"ipalloc", "0,0,0"}, env: []string{"CTDB_TEST_RUNSTATE", "4,5,5"},
			stdin: "192.168.21.254 -1\n192.168.21.253 -1\n192.168.21.252 -1\n192.168.20.254 -1\n" +
				"192.168.20.253 -1\n192.168.20.252 -1\n192.168.20.251 -1\n192.168.20.250 -1\n192.168.20.249 -1\n",
			want: lines("192.168.21.254", "1", "192.168.21.253", "2", "192.168.21.252", "1", "192.168.20.254", "1",
				"192.168.20.253", "2", "192.168.20.252", "1", "192.168.20.251", "1", "192.168.20.250", "2", "192.168.20.249", "2"),
		},
		{
			// upstream lcp2.024 with CTDB_TEST_RUNSTATE=1 meaning every node (in INIT)
			name: "runstate for all", args: []string{"ipalloc", "0,0,0"}, env: []string{"CTDB_TEST_RUNSTATE", "1"},
			stdin: "192.168.21.254 -1\n192.168.20.249 -1\n",
			want:  lines("192.168.21.254", "-1", "192.168.20.249", "-1"),
		},
		{
			// upstream lcp2.012: NoIPTakeover, nodes do not gain addresses
			name: "lcp2.012", args: []string{"ipalloc", "0,0,0"}, env: []string{"CTDB_SET_NoIPTakeover", "1"},
			stdin: "192.168.20.249 1\n192.168.20.250 1\n192.168.21.254 1\n",
			want:  lines("192.168.21.254", "1", "192.168.20.250", "1", "192.168.20.249", "1"),
		},
		{
			// upstream det.002: CTDB_IP_ALGORITHM, hex-free decimal flags
			name: "det.002", args: []string{"ipalloc", "0,2,0"}, env: []string{"CTDB_IP_ALGORITHM", "det"},
			stdin: "192.168.20.249 0\n192.168.20.250 1\n192.168.20.251 2\n192.168.20.252 0\n192.168.20.253 1\n" +
				"192.168.20.254 2\n192.168.21.252 0\n192.168.21.253 1\n192.168.21.254 2\n",
			want: lines("192.168.21.254", "0", "192.168.21.253", "0", "192.168.21.252", "2", "192.168.20.254", "0",
				"192.168.20.253", "2", "192.168.20.252", "2", "192.168.20.251", "0", "192.168.20.250", "0", "192.168.20.249", "2"),
		},
		{
			// upstream nondet.003
			name: "nondet.003", args: []string{"ipalloc", "0,0,0"}, env: []string{"CTDB_IP_ALGORITHM", "nondet"},
			stdin: "192.168.20.249 1\n192.168.20.250 1\n192.168.20.251 1\n192.168.20.252 1\n192.168.20.253 1\n" +
				"192.168.20.254 1\n192.168.21.252 1\n192.168.21.253 1\n192.168.21.254 1\n",
			want: lines("192.168.21.254", "0", "192.168.21.253", "2", "192.168.21.252", "0", "192.168.20.254", "2",
				"192.168.20.253", "0", "192.168.20.252", "2", "192.168.20.251", "1", "192.168.20.250", "1", "192.168.20.249", "1"),
		},
		{
			// NoIPFailback (ours; CTDB 4.17's program ignores the variable): nothing
			// fails back onto the newly healthy nodes.
			name: "NoIPFailback", args: []string{"ipalloc", "0,0,0"}, env: []string{"CTDB_SET_NoIPFailback", "1"},
			stdin: "192.168.20.249 1\n192.168.20.250 1\n192.168.20.251 1\n",
			want:  lines("192.168.20.251", "1", "192.168.20.250", "1", "192.168.20.249", "1"),
		},
		{
			// stopped node flag in C hex notation (upstream lcp2.032 uses 0x20), a
			// blank line ending the list, comments, IPv6
			name: "hex flags, blank line, comments", args: []string{"ipalloc", "0x20,0"},
			stdin: "# a comment line\n10.0.0.1 0 # holder 0\nfe80::1 0\n\n10.0.0.2 0\n",
			want:  lines("fe80::1", "1", "10.0.0.1", "1"),
		},
		{
			// upstream lcp2.029 style: each node's own view with "multi"; node 1 does not
			// know 10.0.0.2, node 0 wrongly believes node 1 holds 10.0.0.1
			name: "multi", args: []string{"ipalloc", "0,0", "multi"}, env: []string{"CTDB_SET_NoIPTakeover", "1"},
			stdin: "10.0.0.1 1\n10.0.0.2 0\n\n10.0.0.1 -1\n",
			want:  lines("10.0.0.2", "0", "10.0.0.1", "-1"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, out, errOut := runTool(tc.args, env(tc.env...), tc.stdin)
			if rc != 0 || out != tc.want || errOut != "" {
				t.Errorf("rc %d, stderr %q, stdout:\n%s\nwant:\n%s", rc, errOut, out, tc.want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		stdin   string
		wantErr string
	}{
		{"no args", nil, nil, "", "usage: ctdb_takeover_tests ipalloc FLAGS [multi]"},
		{"unknown op", []string{"ip_list"}, nil, "", "usage:"},
		{"bad third arg", []string{"ipalloc", "0", "many"}, nil, "", "usage:"},
		{"empty flags", []string{"ipalloc", ""}, nil, "", "FLAGS: empty"},
		{"bad flag", []string{"ipalloc", "0,x,0"}, nil, "", `FLAGS: value 2 (node 1) "x" is not a flag number`},
		{"negative flag", []string{"ipalloc", "-1"}, nil, "", `FLAGS: value 1 (node 0) "-1"`},
		{"algorithm", []string{"ipalloc", "0"}, []string{"CTDB_IP_ALGORITHM", "LCP2"}, "", `CTDB_IP_ALGORITHM: takeover: unknown IP algorithm "LCP2"`},
		{"NoIPTakeover", []string{"ipalloc", "0"}, []string{"CTDB_SET_NoIPTakeover", "yes"}, "", `CTDB_SET_NoIPTakeover: "yes" is not a number`},
		{"NoIPFailback", []string{"ipalloc", "0"}, []string{"CTDB_SET_NoIPFailback", ""}, "", `CTDB_SET_NoIPFailback: "" is not a number`},
		{"runstate count", []string{"ipalloc", "0,0"}, []string{"CTDB_TEST_RUNSTATE", "5,5,5"}, "", "CTDB_TEST_RUNSTATE: 3 values for 2 nodes"},
		{"runstate value", []string{"ipalloc", "0,0"}, []string{"CTDB_TEST_RUNSTATE", "5,run"}, "", `CTDB_TEST_RUNSTATE: value 2 (node 1) "run"`},
		{"bad address", []string{"ipalloc", "0"}, nil, "10.0.0.1 0\n10.0.0.300 0\n", `stdin line 2: IP: "10.0.0.300" is not an IPv4 or IPv6 address`},
		{"zone", []string{"ipalloc", "0"}, nil, "fe80::1%eth0\n", `stdin line 1: IP: "fe80::1%eth0"`},
		{"bad pnn", []string{"ipalloc", "0,0"}, nil, "10.0.0.1 two\n", `stdin line 1: CURRENT_PNN: "two" is not -1 or a node number below 2`},
		{"pnn too big", []string{"ipalloc", "0,0"}, nil, "10.0.0.1 2\n", `stdin line 1: CURRENT_PNN: "2"`},
		{"allowed too big", []string{"ipalloc", "0,0"}, nil, "10.0.0.1 0 0,2\n", `stdin line 1: ALLOWED_PNN: "2" is not a node number below 2`},
		{"allowed garbage", []string{"ipalloc", "0,0"}, nil, "10.0.0.1 0 0,x\n", `stdin line 1: ALLOWED_PNN: "x"`},
		{"extra field", []string{"ipalloc", "0"}, nil, "10.0.0.1 0 0 0\n", "stdin line 1: 4 fields"},
		{"allowed with multi", []string{"ipalloc", "0", "multi"}, nil, "10.0.0.1 0 0\n", `stdin line 1: ALLOWED_PNN: "0" not allowed with multi`},
		{"line in second view", []string{"ipalloc", "0,0", "multi"}, nil, "10.0.0.1 0\n\nbogus\n", "stdin line 3: IP:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, out, errOut := runTool(tc.args, env(tc.env...), tc.stdin)
			if rc != 1 || out != "" || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("rc %d, stdout %q, stderr %q; want rc 1, no output, stderr with %q", rc, out, errOut, tc.wantErr)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, bytes.ErrTooLarge }

func TestWriteError(t *testing.T) {
	var errb bytes.Buffer
	if rc := run([]string{"ipalloc", "0"}, env(), strings.NewReader("10.0.0.1\n"), failWriter{}, &errb); rc != 1 || errb.Len() == 0 {
		t.Errorf("rc %d, stderr %q; want 1 and a message", rc, errb.String())
	}
}
