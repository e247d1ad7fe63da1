package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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

// Bad input ends quickly, with exit 2 and a message, in bounded memory.
const (
	badInputTime = 5 * time.Second
	badInputRSS  = 500 << 20 // bytes
	// signalTime is how long kplay may take to end after SIGTERM.
	signalTime = time.Second
)

// measured is one kplay run with what it cost.
type measured struct {
	Result
	elapsed time.Duration
	maxRSS  int64 // bytes
}

// runMeasured runs kplay with stdin (nil for none) and reports its time and peak
// memory from the process's rusage.
func (e *Env) runMeasured(stdin *os.File, args ...string) measured {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*badInputTime)
	defer cancel()
	cmd := e.command(ctx, args)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = stdin
	}
	start := time.Now()
	err := cmd.Run()
	m := measured{Result: Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}, elapsed: time.Since(start)}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		e.t.Fatalf("running kplay %s: %v", strings.Join(args, " "), err)
	}
	m.Code = cmd.ProcessState.ExitCode()
	m.maxRSS = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // Linux reports KiB
	return m
}

func denseKeys(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keys\ndata:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	return b.String()
}

const hugeReplicas = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2147483647
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: httpd
`

// Each bad input ends within 5 s with exit 2 and a message naming the file,
// under 500 MB, and creates nothing (the Env's leak check).
func TestInputBadInputEndsFast(t *testing.T) {
	e := newEnv(t)
	sparse := filepath.Join(e.Dir, "big.yaml")
	if err := os.WriteFile(sparse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 200<<20); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(e.Dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	keys := e.Manifest(denseKeys(1_000_000))
	replicas := e.Manifest(hugeReplicas)
	clash := e.Manifest(strings.Replace(hugeReplicas, "2147483647", "2", 1) + `---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
spec:
  containers:
  - name: httpd
    image: httpd
`)
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()

	tests := []struct {
		name  string
		file  string
		stdin *os.File
		want  string
	}{
		{"200 MB file", sparse, nil, sparse + ": larger than 64Mi: kplay reads at most 64Mi of manifests per run (--max-manifest-size)"},
		{"-f /dev/zero", "/dev/zero", nil, "/dev/zero: not a regular file (a character device)"},
		{"/dev/zero on stdin", "-", zero, "stdin: larger than 64Mi: kplay reads at most 64Mi of manifests per run (--max-manifest-size)"},
		{"FIFO", fifo, nil, fifo + ": not a regular file (a FIFO)"},
		{"1M keys", keys, nil, keys + ": too many YAML nodes: kplay parses at most 262144 keys"},
		{"replicas 2147483647", replicas, nil,
			replicas + `: document 1: kplay cannot run Deployment "web": spec.replicas: Invalid value: 2147483647: kplay runs at most 1000 pods per run (--max-pods)`},
		{"Pod named like a replica", clash, nil,
			clash + `: document 2: kplay cannot run Pod "web-1": metadata.name: Duplicate value: "web-1": kplay names replica 1 of Deployment "web" (` + clash + `: document 1) so`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.runMeasured(tt.stdin, "up", "-q", "-f", tt.file)
			t.Logf("exit %d in %s, max RSS %d MB", m.Code, m.elapsed.Round(time.Millisecond), m.maxRSS>>20)
			if m.Code != 2 {
				t.Errorf("exit %d, want 2\n%s", m.Code, m.Result)
			}
			contains(t, "stderr", m.Stderr, tt.want)
			if m.elapsed > badInputTime {
				t.Errorf("took %s, want at most %s", m.elapsed, badInputTime)
			}
			if m.maxRSS > badInputRSS {
				t.Errorf("max RSS %d MB, want at most %d MB", m.maxRSS>>20, badInputRSS>>20)
			}
		})
	}
}

// startUp starts `kplay up` with the given stdin (nil for none).
func (e *Env) startUp(stdin *os.File, args ...string) (*exec.Cmd, *bytes.Buffer) {
	e.t.Helper()
	cmd := e.command(e.t.Context(), append([]string{"up"}, args...))
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	return cmd, out
}

// await polls cond until it holds, failing the test after timeout.
func await(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate sends SIGTERM and fails the test unless kplay ends within signalTime,
// and not successfully.
func terminate(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("ended %s after SIGTERM: %v", time.Since(sent).Round(time.Millisecond), err)
		if err == nil {
			t.Errorf("up exited 0 after SIGTERM:\n%s", out)
		}
	case <-time.After(signalTime):
		cmd.Process.Kill()
		<-done
		t.Fatalf("up did not end within %s of SIGTERM:\n%s", signalTime, out)
	}
}

// SIGTERM while up waits for a standard input that never ends.
func TestInputSignalWhileReading(t *testing.T) {
	e := newEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // never closed before the signal: stdin does not end
	cmd, out := e.startUp(r, "-q", "-f", "-")
	const part = "apiVersion: v1\nkind: ConfigMap\n"
	if _, err := w.WriteString(part); err != nil {
		t.Fatal(err)
	}
	// Once kplay has taken what was written, it is reading and waits for more.
	await(t, "kplay reads stdin", 10*time.Second, func() bool {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD: bytes waiting in the pipe
		return err == nil && n == 0
	})
	terminate(t, cmd, out)
}

// SIGTERM while up parses a large file (just under the node limit, about 3 s of
// parsing).
func TestInputSignalWhileParsing(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(denseKeys(250_000))
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := e.startUp(nil, "-q", "-f", file)
	// Once kplay has read as many bytes as the file has, it parses.
	await(t, "kplay reads the file", 10*time.Second, func() bool {
		return readBytes(cmd.Process.Pid) >= info.Size()
	})
	terminate(t, cmd, out)
}

// readBytes is what a process has read so far (rchar of /proc/PID/io).
func readBytes(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// SIGTERM while up pulls from a registry that accepts the connection and never
// answers; the Env's check finds nothing left (no lease, no pod).
func TestInputSignalWhilePulling(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	defer func() {
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	}()
	file := e.Manifest(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: stuck
spec:
  containers:
  - name: c
    image: %s/stuck:1
    imagePullPolicy: Always
`, l.Addr()))
	cmd, out := e.startUp(nil, "-q", "-f", file)
	select {
	case c := <-accepted:
		accepted <- c // closed at the end
	case <-time.After(30 * time.Second):
		t.Fatalf("up never connected to the registry:\n%s", out)
	}
	terminate(t, cmd, out)
}

// A Pod web-1 from an earlier up is not taken over by a later up of Deployment
// web, not even with --replace or --force-recreate: it is a conflict, and the
// Pod is left as it was.
func TestInputReplicaNameTakenByEarlierPod(t *testing.T) {
	e := newEnv(t)
	podFile := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: web-1
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`)
	deployFile := e.Manifest(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sh
        image: busybox
        command: ["sh", "-c", "` + idle + `"]
`)
	e.Up(podFile)
	before := e.WaitRunning("web-1")
	for _, flags := range [][]string{nil, {"--replace"}, {"--force-recreate"}} {
		r := e.Kplay(append([]string{"up", "-q", "-f", deployFile}, flags...)...)
		if r.Code == 0 {
			t.Fatalf("up of the Deployment over Pod web-1 succeeded:\n%s", r)
		}
		contains(t, "stderr", r.Stderr, "pod default/web-1 was created by Pod/web-1 from "+podFile+"; Deployment/web would replace it")
		pods := e.Pods()
		if len(pods) != 1 || pods["web-1"].UID != before.UID {
			t.Errorf("up %v changed the pods: before web-1 %s, after %v", flags, before.UID, pods)
		}
	}
}
