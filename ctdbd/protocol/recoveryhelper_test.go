package protocol

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

const recoveryHelper = "/usr/libexec/ctdb/ctdb_recovery_helper"

// TestRealRecoveryHelper runs Debian's ctdb_recovery_helper (what the leader
// of a real cluster runs to recover) against fakeDaemon with an empty
// database map: it must accept our node map, tunables, capabilities and
// database map, report success, and send the requests of the golden file.
func TestRealRecoveryHelper(t *testing.T) {
	if _, err := os.Stat(recoveryHelper); err != nil {
		t.Skipf("%s not installed (apt-get install ctdb): %v", recoveryHelper, err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctdbd.socket")
	f := newFakeDaemon(t, sock, dir)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("timeout", "-k", "5", "60", recoveryHelper, "3", sock, "412252840")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TZ=UTC", "CTDB_LOGGING=file:", "CTDB_DEBUGLEVEL=NOTICE"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	runErr := cmd.Wait()
	result := make([]byte, 4)
	n, _ := r.Read(result)
	f.waitIdle(t)
	pkts, errs := f.takeCaptured()
	for _, err := range errs {
		t.Errorf("fake daemon: %v", err)
	}
	if runErr != nil || n != 4 || order.Uint32(result) != 0 {
		t.Fatalf("recovery helper: %v, result %x; stderr:\n%s", runErr, result[:n], stderr.String())
	}
	for i, p := range pkts {
		checkRoundTrip(t, fmt.Sprintf("packet %d", i), p)
	}
	golden := filepath.Join("testdata", "golden", "recovery_helper.hex")
	if *update {
		writeGolden(t, golden, []string{"(ctdb_recovery_helper 3 SOCKET 412252840)"}, pkts)
		return
	}
	want, err := readGolden(golden)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(pkts) {
		t.Errorf("helper sent %d packets, golden file has %d", len(pkts), len(want))
	}
	for i := range min(len(want), len(pkts)) {
		if !bytes.Equal(want[i], pkts[i]) {
			t.Errorf("packet %d differs:\n got %x\nwant %x", i, pkts[i], want[i])
		}
	}
}
