package e2e

import (
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// hog allocates far more than a 20Mi limit lets it: tail keeps the whole line of zeros.
func hog(name, policy string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: ` + policy + `
  containers:
  - name: hog
    image: busybox
    command: ["sh", "-c", "head -c 100m /dev/zero | tail"]
    resources:
      limits:
        memory: 20Mi
`
}

func TestStatusOOMKilled(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(hog("hog", "Never")))
	p := e.WaitPhase("hog", corev1.PodFailed)
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("container killed for memory: state %+v, want terminated OOMKilled with exit code 137", p.Status.ContainerStatuses[0].State)
	}
	if row := psRow(t, e.MustKplay("ps").Stdout, "hog"); row["STATUS"] != "OOMKilled" {
		t.Errorf("ps shows %v, want STATUS OOMKilled", row)
	}

	// Restarted every time it is killed: kubectl shows the back-off, lastState the kill.
	e.Up(e.Manifest(hog("hog-again", "Always")))
	p = e.WaitPod("hog-again", "backing off after OOMKilled", func(p corev1.Pod) bool {
		last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
		return last != nil && last.Reason == "OOMKilled" && last.ExitCode == 137
	})
	if w := p.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" {
		t.Errorf("OOM-killed container to be restarted: state %+v, want waiting CrashLoopBackOff", p.Status.ContainerStatuses[0].State)
	}
}

func TestStatusInitContainerOOMKilled(t *testing.T) {
	e := newEnv(t)
	r := e.Kplay("up", "-q", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: init-hog
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: hog
    image: busybox
    command: ["sh", "-c", "head -c 100m /dev/zero | tail"]
    resources:
      limits:
        memory: 20Mi
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "`+idle+`"]
`))
	if r.Code != 1 {
		t.Fatalf("up with an init container killed for memory: want exit 1, got %s", r)
	}
	contains(t, "up's error", r.Stderr, `init container "hog" exited with code 137 (OOMKilled)`)
}

func TestStatusStartedAtIsTheCurrentRun(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: restarting
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 2; exit 3"]
`))
	// containerd's restart monitor starts it again within 10 s of each exit.
	runningAfter := func(restarts int32) func(corev1.Pod) bool {
		return func(p corev1.Pod) bool {
			cs := p.Status.ContainerStatuses[0]
			return cs.RestartCount == restarts && cs.State.Running != nil
		}
	}
	var previous corev1.ContainerStatus
	for restarts := int32(0); restarts <= 2; restarts++ {
		p := e.WaitPod("restarting", "running", runningAfter(restarts))
		cs := p.Status.ContainerStatuses[0]
		started := cs.State.Running.StartedAt
		if restarts == 0 {
			if started.Before(&p.CreationTimestamp) {
				t.Errorf("first run started at %s, before the pod was created at %s", started, p.CreationTimestamp)
			}
		} else if !previous.State.Running.StartedAt.Before(&started) {
			t.Errorf("after restart %d: startedAt %s, not after the previous run's %s", restarts, started, previous.State.Running.StartedAt)
		}
		previous = cs
		// Between runs lastState is the run that ended: its start and its exit.
		p = e.WaitPod("restarting", "exited", func(p corev1.Pod) bool {
			return p.Status.ContainerStatuses[0].LastTerminationState.Terminated != nil
		})
		last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
		if !last.StartedAt.Equal(&started) || last.ExitCode != 3 || last.FinishedAt.Before(&started) {
			t.Errorf("run %d ended: lastState %+v, want exit code 3, started at %s and finished after", restarts+1, last, started)
		}
	}
}

func TestStatusEmptyListsHaveItems(t *testing.T) {
	e := newEnv(t)
	contains(t, "ps -o json with no pods", e.MustKplay("ps", "-o", "json").Stdout, `"items": []`)
	contains(t, "ps -o yaml with no pods", e.MustKplay("ps", "-o", "yaml").Stdout, "items: []")
}

func TestStatusExecDuringInitContainer(t *testing.T) {
	e := newEnv(t)
	// up runs the init containers to their end: it waits in the background.
	up, out := e.Start("up", "-q", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: busybox
    command: ["sh", "-c", "until [ -e /tmp/go ]; do sleep 0.1; done"]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "`+idle+`"]
`))
	e.WaitPod("slow", "running its init container", func(p corev1.Pod) bool {
		return len(p.Status.InitContainerStatuses) == 1 && p.Status.InitContainerStatuses[0].State.Running != nil
	})
	if row := psRow(t, e.MustKplay("ps").Stdout, "slow"); row["STATUS"] != "Init:0/1" {
		t.Errorf("ps shows %v, want STATUS Init:0/1", row)
	}
	r := e.Exec("slow", "true")
	if r.Code != 1 {
		t.Errorf("exec without -c during init: want exit 1, got %s", r)
	}
	for _, want := range []string{`still running init container "setup"`, "-c setup"} {
		contains(t, "exec's error during init", r.Stderr, want)
	}
	if strings.Contains(r.Stderr, "several containers") {
		t.Errorf("exec during init says the pod has several containers:\n%s", r.Stderr)
	}
	r = e.Kplay("exec", "slow", "-c", "app", "--", "true")
	if r.Code != 1 || !strings.Contains(r.Stderr, `container "app" of pod default/slow has not started yet`) {
		t.Errorf("exec -c app during init: want exit 1 saying app has not started, got %s", r)
	}
	// The init container is what a user may exec into, and here that ends it.
	e.MustKplay("exec", "slow", "-c", "setup", "--", "touch", "/tmp/go")
	io.Copy(io.Discard, out)
	if err := up.Wait(); err != nil {
		t.Fatalf("up after the init container finished: %v", err)
	}
	e.WaitRunning("slow")
	if got := e.MustExec("slow", "echo", "app"); got != "app\n" {
		t.Errorf("exec into the app container printed %q", got)
	}
}
