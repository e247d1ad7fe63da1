package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// Containers of a pod share its IPC namespace, so they share one /dev/shm; an image
// with no environment still gets a PATH; a container reads its own cgroup limits.
func TestPodSharesShmAndContainersSeeTheirCgroups(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "echo from-writer > /dev/shm/note; ` + idle + `"]
  - name: reader
    image: kplay-noenv
    command: ["/bin/sh", "-c", "` + idle + `"]
    resources:
      limits:
        memory: 64Mi
`))
	e.WaitRunning("shared")
	exec := func(container string, cmd ...string) string {
		return e.MustKplay(append([]string{"exec", "shared", "-c", container, "--"}, cmd...)...).Stdout
	}
	if got := exec("reader", "/bin/cat", "/dev/shm/note"); got != "from-writer\n" {
		t.Errorf("the reader sees %q in /dev/shm/note, want the writer's note", got)
	}
	if got := exec("reader", "/bin/sh", "-c", "echo $PATH"); got != "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Errorf("PATH in an image without env = %q, want the default", got)
	}
	limit := exec("reader", "/bin/sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
	if strings.TrimSpace(limit) != "67108864" {
		t.Errorf("the container reads its memory limit as %q, want 67108864", limit)
	}
	if r := e.Kplay("exec", "shared", "-c", "reader", "--", "/bin/sh", "-c", "if [ -d /sys/fs/cgroup/memory ]; then mkdir /sys/fs/cgroup/memory/x; else mkdir /sys/fs/cgroup/x; fi"); r.Code == 0 {
		t.Errorf("a container could write its cgroup filesystem; it must be read-only")
	}
}

// Two containerd namespaces that share the roots share the claims: `down --volumes`
// in one must not delete a claim a pod of the other still uses.
func TestDownVolumesKeepsAClaimAnotherNamespaceUses(t *testing.T) {
	e := newEnv(t)
	other := e.NS + "-b"
	kplayB := func(args ...string) {
		t.Helper()
		out, err := exec.Command(kplayBin, append(globalFlags(other, e.RunRoot, e.DataRoot), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kplay --containerd-namespace %s %s: %v\n%s", other, strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		kplayB("down", "--all", "--volumes", "--timeout=5s")
		removeNamespace(other)
	})
	pod := func(name string) string {
		return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: shared
spec:
  accessModes: [ReadWriteMany]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo ` + name + ` >> /data/writers; ` + idle + `"]
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: shared
`
	}
	a := e.Manifest(pod("a"))
	e.Up(a)
	e.WaitRunning("a")
	kplayB("up", "-q", "-f", e.Manifest(pod("b")))
	e.MustKplay("down", "--volumes", "--timeout=5s", "-f", a)
	claim := filepath.Join(e.DataRoot, "claims", "default", "shared", "writers")
	got, err := os.ReadFile(claim)
	if err != nil || !strings.Contains(string(got), "b") {
		t.Errorf("down --volumes in one namespace deleted the claim a pod of the other uses: %q, %v", got, err)
	}
}

// The kubelet makes a new sandbox when a pod's sandbox dies; kplay has no daemon, so
// the next up does: the pod is recreated, not left Failed.
func TestUpRecreatesAPodWhosePauseDied(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: sandbox
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`)
	e.Up(file)
	e.WaitRunning("sandbox")
	if err := exec.Command("kill", "-9", e.InfraPID("sandbox")).Run(); err != nil {
		t.Fatal(err)
	}
	e.WaitPhase("sandbox", "Failed")
	r := e.MustKplay("up", "-f", file)
	if got := actions(r)["sandbox"]; got != "recreated" {
		t.Errorf("up of a pod whose pause died: %q, want recreated\n%s", got, r)
	}
	e.WaitRunning("sandbox")
}

// `down -f` while an `up` of the same file is creating its pods waits for that up and
// removes every pod it made, instead of the few that existed when down looked.
func TestDownDuringUpOfTheSameFileRemovesEverything(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(deployment(8, "racing"))
	up := e.command(context.Background(), []string{"up", "-q", "-f", file})
	var upOut bytes.Buffer
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until up is creating: the first pod is listed.
	deadline := time.Now().Add(60 * time.Second)
	for len(e.Pods()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("up created no pod within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.MustKplay("down", "--timeout=2s", "-f", file)
	up.Wait()
	if pods := e.Pods(); len(pods) != 0 {
		var names []string
		for n := range pods {
			names = append(names, n)
		}
		t.Errorf("pods left after down -f during up: %v\nup said:\n%s", names, upOut.String())
	}
}

// down stops a pod's pause container after its apps: in a pod that shares its PID
// namespace the pause process is that namespace's init, whose exit would kill the
// apps, and in every pod it answers DNS. Either way an app finishes its shutdown and
// resolves names in it.
func TestDownLetsAppsFinishTheirShutdown(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.Dir, "out")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	pod := func(name string, share bool) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 10
  shareProcessNamespace: %t
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "trap 'sleep 1; nslookup probe.default.svc.cluster.local > /out/%s.dns 2>&1; echo done > /out/%s; exit 0' TERM; touch /out/%s.ready; sleep 3600 & wait"]
    volumeMounts:
    - name: out
      mountPath: /out
  volumes:
  - name: out
    hostPath:
      path: %s
`, name, share, name, name, name, out)
	}
	// The pod still answers names while its apps shut down: its pause stops after them.
	svc := `apiVersion: v1
kind: Service
metadata:
  name: probe
spec:
  selector: {app: none}
  ports:
  - port: 80
`
	file := e.Manifest(pod("shared", true) + "---\n" + pod("own", false) + "---\n" + svc)
	e.Up(file)
	// SIGTERM before the trap is set would end the app at once.
	for _, name := range []string{"shared", "own"} {
		ready := filepath.Join(out, name+".ready")
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s: its app never set its SIGTERM handler (%s)", name, ready)
			}
		}
	}
	e.MustKplay("down", "-f", file)
	for _, name := range []string{"shared", "own"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || strings.TrimSpace(string(got)) != "done" {
			t.Errorf("pod %s: its app did not finish its shutdown on down: %q (%v)", name, got, err)
		}
		dns, _ := os.ReadFile(filepath.Join(out, name+".dns"))
		if !regexp.MustCompile(`Name:\s+probe\.default\.svc\.cluster\.local\s+Address:`).Match(dns) {
			t.Errorf("pod %s: its app could not resolve a Service name during its shutdown:\n%s", name, dns)
		}
	}
}
