package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The claims of docs/user-guide.md ("Files kplay writes", probes) and docs/commands.md
// (up's words, logs without -c) that no other test checks.

const layoutPods = `apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
---
apiVersion: v1
kind: Pod
metadata:
  name: laid-out
spec:
  terminationGracePeriodSeconds: 1
  shareProcessNamespace: true
  initContainers:
  - name: setup
    image: busybox
    command: ["true"]
  containers:
  - name: first
    image: busybox
    command: ["sh", "-c", "echo from-first; ` + idle + `"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: cfg, mountPath: /cfg}
    - {name: creds, mountPath: /creds}
    - {name: scratch, mountPath: /sub, subPath: dir}
  - name: second
    image: busybox
    command: ["sh", "-c", "echo from-second; ` + idle + `"]
  volumes:
  - name: scratch
    emptyDir: {}
  - name: cfg
    configMap: {name: settings}
  - name: creds
    secret: {secretName: creds}
---
apiVersion: v1
kind: Pod
metadata:
  name: annotated
  annotations:
    kubectl.kubernetes.io/default-container: second
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: first
    image: busybox
    command: ["sh", "-c", "echo from-first; ` + idle + `"]
  - name: second
    image: busybox
    command: ["sh", "-c", "echo from-second; ` + idle + `"]
`

// The directories of "Files kplay writes": <root>/pods/<containerd-namespace>_<uid>/...,
// the netns pin and the lock directory, each holding what the table says.
func TestDocsPodDirectoryLayout(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(layoutPods))
	pod := e.WaitRunning("laid-out")
	key := e.NS + "_" + string(pod.UID)
	run, data := filepath.Join(e.RunRoot, "pods", key), filepath.Join(e.DataRoot, "pods", key)
	for _, p := range []string{
		filepath.Join(run, "hosts"),
		filepath.Join(run, "hostname"),
		filepath.Join(run, "resolv.conf"),
		filepath.Join(run, "ns", "ipc"),
		filepath.Join(run, "ns", "uts"),
		filepath.Join(run, "ns", "pid"),
		filepath.Join(run, "shm"),
		filepath.Join(run, "volumes", "creds", "password"),
		filepath.Join(run, "volume-subpaths", "first", "3"),
		filepath.Join(data, "logs", "first.log"),
		filepath.Join(data, "logs", "setup.log"),
		filepath.Join(data, "volumes", "scratch", "dir"),
		filepath.Join(data, "volumes", "cfg", "color"),
		filepath.Join(data, "starts", "first"),
		filepath.Join(e.RunRoot, "netns", e.NS+"_default_laid-out"),
		filepath.Join(e.RunRoot, "locks"),
		filepath.Join(e.RunRoot, "network", "ipam"),
		filepath.Join(e.DataRoot, "store", "kplay.db"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the user guide's layout: %v", err)
		}
	}
	// A secret volume lives on its tmpfs under the run root, never in the data root.
	if _, err := os.Stat(filepath.Join(data, "volumes", "creds")); err == nil {
		t.Errorf("the secret volume has a directory under the data root")
	}
}

// Without -c, logs and exec pick the container kubectl picks, with kubectl's note.
func TestDocsLogsWithoutContainer(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(layoutPods))
	e.WaitRunning("laid-out")
	e.WaitRunning("annotated")

	e.WaitLogs("from-first", "laid-out")
	r := e.MustKplay("logs", "laid-out")
	if strings.TrimSpace(r.Stdout) != "from-first" {
		t.Errorf("logs laid-out printed %q, want the first container's from-first", r.Stdout)
	}
	contains(t, "logs laid-out's stderr", r.Stderr, `Defaulted container "first" out of: first, second, setup (init)`)

	e.WaitLogs("from-second", "annotated")
	r = e.MustKplay("logs", "annotated")
	if strings.TrimSpace(r.Stdout) != "from-second" || r.Stderr != "" {
		t.Errorf("logs of a pod whose default-container is second: stdout %q, stderr %q; want from-second and no note", r.Stdout, r.Stderr)
	}

	r = e.Exec("laid-out", "cat", "/proc/1/cmdline")
	if r.Code != 0 {
		t.Fatal(r)
	}
	contains(t, "exec laid-out's stderr", r.Stderr, `Defaulted container "first" out of:`)
	r = e.MustKplay("exec", "annotated", "--", "cat", "/proc/1/cmdline")
	if !strings.Contains(r.Stdout, "from-second") || r.Stderr != "" {
		t.Errorf("exec in a pod whose default-container is second ran in %q (stderr %q)", r.Stdout, r.Stderr)
	}
}

// up's words for pods and for the objects of the files, as docs/commands.md lists them.
func TestDocsUpWords(t *testing.T) {
	e := newEnv(t)
	manifest := func(password string) string {
		return e.Manifest(`apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: ` + password + `
---
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - {name: creds, mountPath: /creds}
  volumes:
  - name: creds
    secret: {secretName: creds}
`)
	}
	for _, step := range []struct {
		password string
		want     []string
	}{
		{"one", []string{"pod/reader created", "secret/creds created"}},
		{"one", []string{"pod/reader unchanged", "secret/creds unchanged"}},
		{"two", []string{"pod/reader updated", "secret/creds configured"}},
	} {
		r := e.Up(manifest(step.password))
		if got := strings.Split(strings.TrimSpace(r.Stdout), "\n"); strings.Join(got, "\n") != strings.Join(step.want, "\n") {
			t.Errorf("up with password %s printed %q, want %q", step.password, got, step.want)
		}
	}
	e.WaitRunning("reader")
}

// Readiness probes honour initialDelaySeconds and timeoutSeconds while up --wait waits.
func TestDocsProbeTimings(t *testing.T) {
	e := newEnv(t)
	probed := func(name, command, timing string) string {
		return e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    readinessProbe:
      exec:
        command: ` + command + `
      periodSeconds: 1
` + timing)
	}
	start := time.Now()
	e.MustKplay("up", "-q", "--wait", "--timeout", "60s", "-f", probed("delayed", `["true"]`, "      initialDelaySeconds: 4\n"))
	if took := time.Since(start); took < 4*time.Second {
		t.Errorf("up --wait of a probe with initialDelaySeconds 4 returned after %s", took)
	}

	start = time.Now()
	r := e.Kplay("up", "-q", "--wait", "--timeout", "3s", "-f", probed("slow", `["sleep", "20"]`, "      timeoutSeconds: 1\n"))
	took := time.Since(start)
	if r.Code == 0 {
		t.Fatalf("up --wait passed a probe that never answers in time:\n%s", r)
	}
	contains(t, "up --wait's error", r.Stderr, "context deadline exceeded")
	if took > 15*time.Second {
		t.Errorf("up --wait --timeout 3s of a probe with timeoutSeconds 1 took %s: the probe ran to its end", took)
	}
}

// down gives a container that ignores its stop signal the pod's grace period, at least
// 2 s as the kubelet gives it even for 0, before SIGKILL; --timeout 0 kills at once.
func TestDocsDownGracePeriod(t *testing.T) {
	e := newEnv(t)
	stubborn := func(name string, grace int) string {
		return e.Manifest(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: %d
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
`, name, grace))
	}
	for _, tt := range []struct {
		name     string
		grace    int
		args     []string
		min, max time.Duration
	}{
		{"zero", 0, nil, 2 * time.Second, 10 * time.Second},
		{"four", 4, nil, 4 * time.Second, 12 * time.Second},
		{"killed", 30, []string{"--timeout", "0"}, 0, 5 * time.Second},
	} {
		f := stubborn(tt.name, tt.grace)
		e.Up(f)
		e.WaitRunning(tt.name)
		start := time.Now()
		e.MustKplay(append([]string{"down", "-f", f}, tt.args...)...)
		if took := time.Since(start); took < tt.min || took > tt.max {
			t.Errorf("down of a pod that ignores SIGTERM, terminationGracePeriodSeconds %d %v, took %s; want %s to %s",
				tt.grace, tt.args, took, tt.min, tt.max)
		}
	}
}
