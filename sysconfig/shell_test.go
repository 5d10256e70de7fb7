package sysconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shellEnv is the environment both our parser and /bin/sh see in the cross-check.
var shellEnv = map[string]string{"HOME": "/root", "PATH": "/usr/bin:/bin", "BASEDIR": "/srv/ctdb"}

func lookupShellEnv(name string) (string, bool) {
	v, ok := shellEnv[name]
	return v, ok
}

// acceptedLines are sysconfig lines our parser accepts. For each, the values it yields
// must equal what /bin/sh assigns when it sources the line (TestShellMatchesSh), and
// want lists the values we expect (so the test also fails if sh is absent or broken).
var acceptedLines = []struct {
	name string
	text string
	want map[string]string
}{
	{"plain", "CTDB_NODES=/etc/ctdb/nodes\n", map[string]string{"CTDB_NODES": "/etc/ctdb/nodes"}},
	{"double quotes", `CTDB_RECOVERY_LOCK="/clusterfs/.ctdb/reclock"` + "\n", map[string]string{"CTDB_RECOVERY_LOCK": "/clusterfs/.ctdb/reclock"}},
	{"single quotes", "CTDB_X='a b  c'\n", map[string]string{"CTDB_X": "a b  c"}},
	{"export", "export CTDB_MANAGES_SAMBA=yes\n", map[string]string{"CTDB_MANAGES_SAMBA": "yes"}},
	{"export with tab", "export\tCTDB_A=1\n", map[string]string{"CTDB_A": "1"}},
	{"empty value", "CTDB_A=\n", map[string]string{"CTDB_A": ""}},
	{"empty double quotes", "CTDB_A=\"\"\n", map[string]string{"CTDB_A": ""}},
	{"empty single quotes", "CTDB_A=''\n", map[string]string{"CTDB_A": ""}},
	{"hash inside double quotes", "CTDB_A=\"value # not a comment\"\n", map[string]string{"CTDB_A": "value # not a comment"}},
	{"hash inside single quotes", "CTDB_A='x#y # z'\n", map[string]string{"CTDB_A": "x#y # z"}},
	{"hash inside word", "CTDB_A=value#nospace\n", map[string]string{"CTDB_A": "value#nospace"}},
	{"trailing comment", "CTDB_A=yes # managed\n", map[string]string{"CTDB_A": "yes"}},
	{"trailing spaces", "CTDB_A=yes   \n", map[string]string{"CTDB_A": "yes"}},
	{"trailing tabs after quotes", "CTDB_A=\"yes\"\t\t\n", map[string]string{"CTDB_A": "yes"}},
	{"leading spaces", "    CTDB_A=1\n", map[string]string{"CTDB_A": "1"}},
	{"equals in value", "CTDB_A=a=b=c\n", map[string]string{"CTDB_A": "a=b=c"}},
	{"glob chars literal", "CTDB_A=*.tdb\n", map[string]string{"CTDB_A": "*.tdb"}},
	{"brackets literal", "CTDB_A=[ab]?\n", map[string]string{"CTDB_A": "[ab]?"}},
	{"escaped quote in double quotes", `CTDB_A="a \"q\" b"` + "\n", map[string]string{"CTDB_A": `a "q" b`}},
	{"backslash kept before ordinary char in dq", `CTDB_A="a\nb\\c"` + "\n", map[string]string{"CTDB_A": `a\nb\c`}},
	{"escaped dollar in dq", `CTDB_A="cost \$5"` + "\n", map[string]string{"CTDB_A": "cost $5"}},
	{"unquoted backslash escape", `CTDB_A=a\ b\#c` + "\n", map[string]string{"CTDB_A": "a b#c"}},
	{"backslash in single quotes", `CTDB_A='a\b'` + "\n", map[string]string{"CTDB_A": `a\b`}},
	{"concatenated quoting", `CTDB_A=ab"c d"'e f'g` + "\n", map[string]string{"CTDB_A": "abc de fg"}},
	{"helper with args", `CTDB_RECOVERY_LOCK="!/usr/libexec/ctdb/ctdb_mutex_fcntl_helper /shared/.reclock"` + "\n", map[string]string{"CTDB_RECOVERY_LOCK": "!/usr/libexec/ctdb/ctdb_mutex_fcntl_helper /shared/.reclock"}},
	{"two assignments", "CTDB_A=1 CTDB_B=2\n", map[string]string{"CTDB_A": "1", "CTDB_B": "2"}},
	{"semicolon list", "CTDB_A=1; CTDB_B=2;\n", map[string]string{"CTDB_A": "1", "CTDB_B": "2"}},
	{"export after semicolon", "CTDB_A=1; export CTDB_B=$CTDB_A\n", map[string]string{"CTDB_A": "1", "CTDB_B": "1"}},
	{"expansion of earlier var", "CTDB_DBDIR=/var/lib/ctdb\nCTDB_DBDIR_STATE=$CTDB_DBDIR/state\n", map[string]string{"CTDB_DBDIR": "/var/lib/ctdb", "CTDB_DBDIR_STATE": "/var/lib/ctdb/state"}},
	{"braced expansion in dq", "CTDB_B=/x\nCTDB_A=\"${CTDB_B}/y z\"\n", map[string]string{"CTDB_B": "/x", "CTDB_A": "/x/y z"}},
	{"expansion from environment", "CTDB_A=$BASEDIR/etc\n", map[string]string{"CTDB_A": "/srv/ctdb/etc"}},
	{"unset expands empty", "CTDB_A=x${NOT_SET_ANYWHERE}y\n", map[string]string{"CTDB_A": "xy"}},
	{"default for unset", "CTDB_A=${NOT_SET:-/def ault}\n", map[string]string{"CTDB_A": "/def ault"}},
	{"default not used when set", "CTDB_B=set\nCTDB_A=${CTDB_B:-other}\n", map[string]string{"CTDB_B": "set", "CTDB_A": "set"}},
	{"dash default with empty var", "CTDB_B=\nCTDB_A=${CTDB_B-other}\n", map[string]string{"CTDB_B": "", "CTDB_A": ""}},
	{"alternate value", "CTDB_B=1\nCTDB_A=${CTDB_B:+on}\n", map[string]string{"CTDB_B": "1", "CTDB_A": "on"}},
	{"expansion not split", "CTDB_B='a  b'\nCTDB_A=$CTDB_B\n", map[string]string{"CTDB_B": "a  b", "CTDB_A": "a  b"}},
	{"same line left to right", "CTDB_A=1 CTDB_B=$CTDB_A\n", map[string]string{"CTDB_A": "1", "CTDB_B": "1"}},
	{"last assignment wins", "CTDB_A=one\nCTDB_A=two\n", map[string]string{"CTDB_A": "two"}},
	{"lone dollar literal", "CTDB_A=a$ CTDB_B=\"$\"\n", map[string]string{"CTDB_A": "a$", "CTDB_B": "$"}},
	{"dollar before slash", "CTDB_A=$/x\n", map[string]string{"CTDB_A": "$/x"}},
	{"tilde inside word", "CTDB_A=a~b CTDB_B=\"~/x\" CTDB_C='~'\n", map[string]string{"CTDB_A": "a~b", "CTDB_B": "~/x", "CTDB_C": "~"}},
	{"non-assignment lines skipped", "ulimit -n 10000\n[ -r /nonexistent ] && . /nonexistent\nCTDB_A=after\n", map[string]string{"CTDB_A": "after"}},
	{"comment and blank lines", "# a comment\n\n   # indented comment\nCTDB_A=1\n", map[string]string{"CTDB_A": "1"}},
	{"CRLF on comment lines", "# dos comment\r\nCTDB_A=1\n", map[string]string{"CTDB_A": "1"}},
	{"no final newline", "CTDB_A=last", map[string]string{"CTDB_A": "last"}},
	{"lower case names", "ctdb_lower=1 _x=2\n", map[string]string{"ctdb_lower": "1", "_x": "2"}},
	{"unicode value", "CTDB_A='grüße'\n", map[string]string{"CTDB_A": "grüße"}},
	{"parentheses quoted", "CTDB_A=\"(x) | y; z & w\"\n", map[string]string{"CTDB_A": "(x) | y; z & w"}},
	{"export of earlier var", "CTDB_A=1\nexport CTDB_A\n", map[string]string{"CTDB_A": "1"}},
}

// rejectedLines are assignments that sh would treat differently from a plain literal
// value (or that are broken): the parser must fail and name the line.
var rejectedLines = []struct {
	name, text, wantErr string
}{
	{"unterminated double quote", "CTDB_A=1\nCTDB_B=\"abc\n", ":2: CTDB_B: unterminated double quote"},
	{"unterminated single quote", "CTDB_B='abc\n", ":1: CTDB_B: unterminated single quote"},
	{"command substitution", "CTDB_A=$(hostname)\n", ":1: CTDB_A: command substitution"},
	{"backticks", "CTDB_A=`hostname`\n", "command substitution (`...`)"},
	{"backticks in dq", "CTDB_A=\"x`hostname`\"\n", "command substitution"},
	{"arithmetic", "CTDB_A=$((1+2))\n", "command substitution or arithmetic"},
	{"positional", "CTDB_A=$1\n", "special parameter $1"},
	{"pid", "CTDB_A=$$\n", "special parameter $$"},
	{"pattern removal", "CTDB_A=${B%x}\n", "the expansion ${B%x}"},
	{"assign default", "CTDB_A=${B:=x}\n", "the expansion ${B:=x}"},
	{"length", "CTDB_A=${#B}\n", "the expansion ${#B}"},
	{"ansi c quoting", "CTDB_A=$'x'\n", "shells differ"},
	{"locale quoting", "CTDB_A=$\"x\"\n", "shells differ"},
	{"tilde", "CTDB_A=~/x\n", "CTDB_A: an unquoted ~"},
	{"tilde after colon", "CTDB_A=/a:~/x\n", "unquoted ~"},
	{"value then command", "CTDB_A=a b\n", `CTDB_A: "b" follows the assignment`},
	{"pipe", "CTDB_A=a|b\n", `"|" after an assignment`},
	{"background", "CTDB_A=a &\n", `"&" after an assignment`},
	{"and list", "CTDB_A=1 && CTDB_B=2\n", `"&&" after an assignment`},
	{"assignment then command after ;", "CTDB_A=1; ulimit -n 5\n", `"ulimit" follows`},
	{"CRLF assignment", "CTDB_A=yes\r\n", ":1: CTDB_A: line ends with a carriage return"},
	{"CRLF quoted", "CTDB_A='yes'\r\n", "carriage return"},
	{"continuation", "CTDB_A=abc\\\n", "continues it onto the next line"},
	{"bad name", "CTDB-A=1\n", `"CTDB-A" is not a valid variable name`},
	{"digit name", "1CTDB=1\n", `"1CTDB" is not a valid variable name`},
	{"unterminated brace", "CTDB_A=${B\n", "an unterminated ${"},
	{"assignment in one-line if", "if true; then CTDB_A=1; fi\nCTDB_B=x; if\n", "cannot share its line"},
}

func TestParseShellAccepted(t *testing.T) {
	for _, tc := range acceptedLines {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseShell("test.sysconfig", []byte(tc.text), lookupShellEnv)
			if err != nil {
				t.Fatalf("ParseShell: %v", err)
			}
			got := map[string]string{}
			for n, v := range f.Vars {
				got[n] = v.Value
			}
			if !equalMaps(got, tc.want) {
				t.Fatalf("values = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseShellRejected(t *testing.T) {
	for _, tc := range rejectedLines {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseShell("/etc/default/ctdb", []byte(tc.text), lookupShellEnv)
			if err == nil {
				t.Fatalf("ParseShell accepted %q", tc.text)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "sysconfig: /etc/default/ctdb:") {
				t.Fatalf("error %q does not name the file and contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseShellIgnoredLines(t *testing.T) {
	text := "ulimit -n 10000\n. /etc/other\nif [ -f /x ]; then\n  CTDB_MANAGES_NFS=yes\nfi\nCTDB_A=1\nexport -p >/dev/null\n"
	f, err := ParseShell("f", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Vars["CTDB_MANAGES_NFS"]; ok {
		t.Errorf("assignment inside an if block was taken: %v", f.Vars)
	}
	if v, _ := f.Get("CTDB_A"); v.Value != "1" || v.Line != 6 {
		t.Errorf("CTDB_A = %+v, want value 1 on line 6", v)
	}
	var lines []int
	var warned []int
	for _, ig := range f.Ignored {
		lines = append(lines, ig.Line)
		if ig.SetsCTDB {
			warned = append(warned, ig.Line)
		}
	}
	if want := []int{1, 2, 3, 4, 5, 7}; !equalInts(lines, want) {
		t.Errorf("ignored lines %v, want %v", lines, want)
	}
	if want := []int{4}; !equalInts(warned, want) {
		t.Errorf("lines flagged as setting CTDB_ variables %v, want %v", warned, want)
	}
}

// TestShellMatchesSh sources every accepted case with /bin/sh and checks that sh assigns
// exactly the values our parser returns.
func TestShellMatchesSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	dir := t.TempDir()
	baseline := sourceWithSh(t, sh, filepath.Join(dir, "empty"), "")
	checked := 0
	for i, tc := range acceptedLines {
		path := filepath.Join(dir, "case"+strings.Repeat("x", i))
		shVars := sourceWithSh(t, sh, path, tc.text)
		for n, v := range baseline {
			if shVars[n] == v {
				delete(shVars, n)
			}
		}
		f, err := ParseShell(path, []byte(tc.text), lookupShellEnv)
		if err != nil {
			t.Errorf("%s: ParseShell: %v", tc.name, err)
			continue
		}
		ours := map[string]string{}
		for n, v := range f.Vars {
			ours[n] = v.Value
		}
		if !equalMaps(ours, shVars) {
			t.Errorf("%s: %q\n ours %q\n sh   %q", tc.name, tc.text, ours, shVars)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d cases cross-checked, want at least 30", checked)
	}
}

// sourceWithSh writes text to path, sources it with `set -a` in a clean environment and
// returns the environment sh ends with.
func sourceWithSh(t *testing.T, sh, path, text string) map[string]string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-c", `set -a; . "$1" 2>/dev/null; env -0`, "sh", path)
	cmd.Env = nil
	for k, v := range shellEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh sourcing %q: %v", text, err)
	}
	vars := map[string]string{}
	for _, kv := range bytes.Split(out, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			vars[k] = v
		}
	}
	for k := range shellEnv {
		if vars[k] == shellEnv[k] {
			delete(vars, k)
		}
	}
	delete(vars, "PWD")
	delete(vars, "OLDPWD")
	delete(vars, "SHLVL")
	delete(vars, "_")
	return vars
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
