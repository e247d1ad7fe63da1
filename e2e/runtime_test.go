package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTTYContainerRunsWithATerminal(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: tty
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    tty: true
    command: ["sh", "-c", "tty; echo hello from a terminal; ` + idle + `"]
`))
	e.WaitRunning("tty")
	logs := e.WaitLogs("hello from a terminal", "tty")
	if !strings.Contains(logs, "/dev/pts/") {
		t.Errorf("tty inside a tty: true container does not name a terminal; logs:\n%s", logs)
	}
}

// The httpd look-alike's image says STOPSIGNAL SIGWINCH, as the real one does: down
// must send that, not SIGTERM.
func TestDownSendsTheImageStopSignal(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.Dir, "signal")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	file := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: stopsig
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: c
    image: httpd
    command: ["sh", "-c", "trap 'echo WINCH > /out/got; exit 0' WINCH; trap 'echo TERM > /out/got; exit 0' TERM; touch /out/ready; sleep 3600 & wait"]
    volumeMounts:
    - name: out
      mountPath: /out
  volumes:
  - name: out
    hostPath:
      path: ` + out + `
`)
	e.Up(file)
	e.WaitRunning("stopsig")
	e.MustKplay("down", "-f", file)
	got, err := os.ReadFile(filepath.Join(out, "got"))
	if err != nil || strings.TrimSpace(string(got)) != "WINCH" {
		t.Errorf("the container got %q (%v) on down, want the image's STOPSIGNAL SIGWINCH", got, err)
	}
}
