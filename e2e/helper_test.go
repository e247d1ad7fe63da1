package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// What stays resident for a running pod besides its shim and its containers is the
// pause process and one log driver per container. Both are kplay-helper, a small
// static program installed in the data root, not the whole kplay binary (about 35 MB
// resident per copy when they were).
func TestPodRunsPauseAndLoggerFromTheSmallHelper(t *testing.T) {
	// Far above the helper's few MiB, far below a copy of kplay: a bound that does
	// not depend on the machine's load.
	const maxRSS = 10 << 20
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: small
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo started; ` + idle + `"]
`))
	e.WaitRunning("small")
	e.WaitLogs("started", "small")

	helpers, _ := filepath.Glob(filepath.Join(e.DataRoot, "bin", "kplay-helper-*"))
	if len(helpers) != 1 {
		t.Fatalf("data root bin holds helpers %v, want one", helpers)
	}
	helper, err := os.Stat(helpers[0])
	if err != nil {
		t.Fatal(err)
	}

	pausePID := e.InfraPID("small")
	loggers := processes(t, func(cmdline string) bool {
		return strings.Contains(cmdline, "--kplay-log-driver") && strings.Contains(cmdline, e.DataRoot)
	})
	if len(loggers) != 1 {
		t.Fatalf("log drivers of the pod: %v, want one", loggers)
	}
	for role, pid := range map[string]string{"pause": pausePID, "log driver": loggers[0]} {
		exe, err := os.Stat("/proc/" + pid + "/exe")
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(exe, helper) {
			st := exe.Sys().(*syscall.Stat_t)
			t.Errorf("the %s (pid %s) runs inode %d, not %s", role, pid, st.Ino, helpers[0])
		}
		if rss := vmRSS(t, pid); rss > maxRSS {
			t.Errorf("the %s (pid %s) has %d KiB resident, want at most %d KiB", role, pid, rss>>10, maxRSS>>10)
		} else {
			t.Logf("%s: %d KiB resident", role, rss>>10)
		}
	}
}

// InfraPID is the host PID of the pause process of pod default/name.
func (e *Env) InfraPID(name string) string {
	e.t.Helper()
	tasks, err := lines("ctr", "-n", e.NS, "tasks", "ls")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range tasks {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "default_"+name {
			return f[1]
		}
	}
	e.t.Fatalf("no infra task default_%s in\n%s", name, strings.Join(tasks, "\n"))
	return ""
}

// processes lists the PIDs whose command line (arguments joined by spaces) matches.
func processes(t *testing.T, match func(cmdline string) bool) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && match(strings.ReplaceAll(string(b), "\x00", " ")) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// vmRSS is a process's resident memory in bytes, as /proc/PID/status reports it.
func vmRSS(t *testing.T, pid string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%s/status", pid)
	return 0
}
