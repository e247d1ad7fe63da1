package e2e

import (
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
