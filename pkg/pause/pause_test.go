package pause

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary acts as the pause process when started under the name "pause".
func TestMain(m *testing.M) {
	if Invoked(os.Args) {
		os.Exit(Run(nil))
	}
	os.Exit(m.Run())
}

// startPause runs the test binary as "pause" in a new PID namespace, so it is PID 1
// there and inherits orphans, as in a pod.
func startPause(t *testing.T) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), Name)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(100 * time.Millisecond) // let it install its signal handlers
	return cmd
}

func TestPauseExitsZeroOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{unix.SIGTERM, unix.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := startPause(t)
			start := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pause exited with %v, want exit 0", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("pause did not exit within 2s of", sig)
			}
			t.Logf("exited %v after the signal", time.Since(start))
		})
	}
}

func TestPauseReapsOrphans(t *testing.T) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter not installed")
	}
	cmd := startPause(t)
	pid := cmd.Process.Pid
	// sh exits at once; its children become orphans of pause (PID 1 of the namespace)
	// and exit shortly after. Their output goes nowhere so nsenter returns at once.
	nsenter := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-p", "--",
		"sh", "-c", "sleep 0.3 & sleep 0.3 & sleep 0.3 &")
	if err := nsenter.Run(); err != nil {
		t.Fatalf("nsenter: %v", err)
	}
	if kids := childrenOf(t, pid); len(kids) != 3 {
		t.Fatalf("pause has children %v, want the 3 orphaned sleeps", kids)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if len(childrenOf(t, pid)) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("children of pause still there (zombies not reaped): %v", childrenOf(t, pid))
}

// childrenOf lists the PIDs whose parent is ppid, with their state.
func childrenOf(t *testing.T, ppid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(ppid) {
			kids = append(kids, e.Name()+":"+fields[0])
		}
	}
	return kids
}
