package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A last line without a newline is shown once the container has written it, even though
// the shim keeps the pipes open until the task is deleted.
func TestLogsLastLineWithoutNewline(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: partial
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo first; printf 'no newline'"]
`))
	e.WaitPhase("partial", corev1.PodSucceeded)
	if got := e.WaitLogs("no newline", "partial"); got != "first\nno newline\n" {
		t.Errorf("kplay logs = %q, want %q", got, "first\nno newline\n")
	}
}

// A container writing more than --log-max-size leaves at most --log-max-files files, each
// within the size, and `kplay logs` shows its latest lines, in order and without gaps.
func TestLogsRotateAtMaxSize(t *testing.T) {
	e := newEnv(t)
	const lines = 3000 // about 160 KiB of records
	e.MustKplay("--log-max-size=4Ki", "--log-max-files=3", "up", "-q", "-f", e.Manifest(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "i=0; while [ $i -lt %d ]; do i=$((i+1)); echo line-$i; done"]
`, lines)))
	e.WaitPhase("chatty", corev1.PodSucceeded)
	last := fmt.Sprintf("line-%d\n", lines)
	out := e.WaitLogs(last, "chatty")

	files, err := filepath.Glob(filepath.Join(e.DataRoot, "pods", "*", "logs", "c.log*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 || len(files) > 3 {
		t.Errorf("log files on disk: %q, want the current one and at most 2 rotated ones", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > 4096 {
			t.Errorf("%s: %v bytes (%v), want at most 4Ki", f, st.Size(), err)
		}
	}

	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, last) || len(got) >= lines {
		t.Fatalf("kplay logs printed %d lines ending %q, want the latest lines of the current file only", len(got), got[len(got)-1])
	}
	assertConsecutive(t, got)
	if tail := e.MustKplay("logs", "--tail=1", "chatty").Stdout; tail != last {
		t.Errorf("logs --tail=1 = %q, want %q", tail, last)
	}
}

// `kplay logs -f` follows the container's output into each new file as the driver rotates.
func TestLogsFollowAcrossRotation(t *testing.T) {
	e := newEnv(t)
	const lines = 400
	e.MustKplay("--log-max-size=1Ki", "--log-max-files=5", "up", "-q", "-f", e.Manifest(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: steady
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "i=0; while [ $i -lt %d ]; do i=$((i+1)); echo line-$i; usleep 10000; done"]
`, lines)))
	e.WaitLogs("line-1\n", "steady")
	cmd, out := e.Start("logs", "-f", "steady")
	var got []string
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("logs -f: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("logs -f did not end after the container exited")
	}
	if len(got) == 0 || got[len(got)-1] != fmt.Sprintf("line-%d", lines) {
		t.Fatalf("logs -f printed %d lines, the last %q; want up to line-%d", len(got), got, lines)
	}
	assertConsecutive(t, got)
	rotated, _ := filepath.Glob(filepath.Join(e.DataRoot, "pods", "*", "logs", "c.log.*"))
	if len(rotated) == 0 {
		t.Error("no rotated file on disk: the test did not rotate")
	}
}

// assertConsecutive checks that lines are line-N, line-N+1, ...: none lost, none twice.
func assertConsecutive(t *testing.T, lines []string) {
	t.Helper()
	var first int
	if _, err := fmt.Sscanf(lines[0], "line-%d", &first); err != nil {
		t.Fatalf("first line %q", lines[0])
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line-%d", first+i); l != want {
			t.Fatalf("line %d is %q, want %q (a line lost or repeated)", i, l, want)
		}
	}
}
