package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// startTimes maps each app container of each pod to the time `ps -o json` says it started.
func startTimes(t *testing.T, pods map[string]corev1.Pod) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil {
				t.Fatalf("pod %s container %s is not running: %+v", name, cs.Name, cs.State)
			}
			out[name+"/"+cs.Name] = cs.ContainerID + "@" + cs.State.Running.StartedAt.String()
		}
	}
	return out
}

// actions maps pod name to the action `up` printed for it ("pod/web-0 created").
func actions(r Result) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && strings.HasPrefix(f[0], "pod/") {
			out[strings.TrimPrefix(f[0], "pod/")] = f[1]
		}
	}
	return out
}

func deployment(replicas int, greeting string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %d
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
        command: ["sh", "-c", %q]
        env:
        - name: GREETING
          value: %q
`, replicas, idle, greeting)
}

func TestUpTwiceLeavesPodsAlone(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(deployment(3, "hello"))
	e.Up(f)
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		e.WaitRunning(n)
	}
	before := startTimes(t, e.Pods())

	r := e.MustKplay("up", "-q", "-f", f)
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		if got := actions(r)[n]; got != "unchanged" {
			t.Errorf("second up: pod %s %q, want unchanged\n%s", n, got, r)
		}
	}
	after := startTimes(t, e.Pods())
	for k, v := range before {
		if after[k] != v {
			t.Errorf("container %s was touched by the second up: %s, then %s", k, v, after[k])
		}
	}
}

func TestReplaceRecreatesOnlyWhatChanged(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(deployment(3, "hello"))
	e.Up(f)
	first := startTimes(t, waitAll(e, "web-0", "web-1", "web-2"))

	// A changed env value: plain up refuses before changing anything.
	if err := os.WriteFile(f, []byte(deployment(3, "bonjour")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Kplay("up", "-q", "-f", f)
	if r.Code == 0 || !strings.Contains(r.Stderr, "--replace") || !strings.Contains(r.Stderr, "web-0") {
		t.Fatalf("up of a changed Deployment should fail naming the pods and --replace:\n%s", r)
	}
	if now := startTimes(t, e.Pods()); fmt.Sprint(now) != fmt.Sprint(first) {
		t.Fatalf("the refused up changed pods: %v, then %v", first, now)
	}

	r = e.MustKplay("up", "-q", "--replace", "-f", f)
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		if got := actions(r)[n]; got != "recreated" {
			t.Errorf("up --replace after an env change: pod %s %q, want recreated\n%s", n, got, r)
		}
	}
	waitAll(e, "web-0", "web-1", "web-2")
	if got := e.MustExec("web-1", "sh", "-c", "echo $GREETING"); strings.TrimSpace(got) != "bonjour" {
		t.Errorf("after --replace web-1 has GREETING=%q, want bonjour", got)
	}
	second := startTimes(t, e.Pods())

	// 3 replicas to 2: only web-2 goes.
	if err := os.WriteFile(f, []byte(deployment(2, "bonjour")), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.MustKplay("up", "-q", "--replace", "-f", f)
	want := map[string]string{"web-0": "unchanged", "web-1": "unchanged", "web-2": "removed"}
	for n, w := range want {
		if got := actions(r)[n]; got != w {
			t.Errorf("up --replace with 2 replicas: pod %s %q, want %s\n%s", n, got, w, r)
		}
	}
	pods := e.Pods()
	if _, ok := pods["web-2"]; ok || len(pods) != 2 {
		t.Errorf("after scaling to 2, ps lists %d pods (web-2 listed: %v)", len(pods), ok)
	}
	for k, v := range startTimes(t, pods) {
		if second[k] != v {
			t.Errorf("scaling down touched %s", k)
		}
	}

	// Nothing changed: nothing recreated.
	r = e.MustKplay("up", "-q", "--replace", "-f", f)
	for n, a := range actions(r) {
		if a != "unchanged" {
			t.Errorf("up --replace with no change: pod %s %s", n, a)
		}
	}
}

func waitAll(e *Env, names ...string) map[string]corev1.Pod {
	e.t.Helper()
	for _, n := range names {
		e.WaitRunning(n)
	}
	return e.Pods()
}

func TestConfigMapVolumeUpdatedInPlace(t *testing.T) {
	e := newEnv(t)
	manifest := func(v string) string {
		return `apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  greeting: ` + v + `
---
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - {name: conf, mountPath: /etc/conf}
  volumes:
  - name: conf
    configMap: {name: conf}
`
	}
	f := e.Manifest(manifest("hello-v1"))
	e.Up(f)
	before := startTimes(t, waitAll(e, "reader"))
	contains(t, "the mounted ConfigMap", e.MustExec("reader", "cat", "/etc/conf/greeting"), "hello-v1")

	if err := os.WriteFile(f, []byte(manifest("hello-v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.MustKplay("up", "-q", "-f", f)
	if got := actions(r)["reader"]; got != "updated" {
		t.Errorf("up after a volume-only ConfigMap change: reader %q, want updated\n%s", got, r)
	}
	deadline := time.Now().Add(2 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if got = e.MustExec("reader", "cat", "/etc/conf/greeting"); strings.Contains(got, "hello-v2") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	contains(t, "the mounted ConfigMap 2 s after up", got, "hello-v2")
	if after := startTimes(t, e.Pods()); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the pod's containers were restarted: %v, then %v", before, after)
	}
}

// daemonKnowsPolicies tells containerd 1.7+ (restart policies) from 1.6 (only "always").
func daemonKnowsPolicies(t *testing.T) bool {
	out, err := exec.Command("ctr", "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	server := string(out)
	if i := strings.Index(server, "Server:"); i >= 0 {
		server = server[i:]
	}
	return !strings.Contains(server, "Version:  1.6") && !strings.Contains(server, "Version:  v1.6")
}

func crashing(name, policy string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  restartPolicy: ` + policy + `
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo run; sleep 1; exit 1"]
`
}

func TestRestartPolicies(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(crashing("always", "Always")))
	// containerd's restart monitor looks every 10 s.
	p := e.WaitPod("always", "restarted", func(p corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("a restarting Always pod has phase %s, want Running", p.Status.Phase)
	}

	e.Up(e.Manifest(crashing("never", "Never")))
	p = e.WaitPhase("never", corev1.PodFailed)
	row := psRow(t, e.MustKplay("ps").Stdout, "never")
	if row["STATUS"] != "Error" || row["RESTARTS"] != "0" {
		t.Errorf("a failed Never pod shows %v in ps, want STATUS Error and RESTARTS 0", row)
	}

	r := e.MustKplay("up", "-f", e.Manifest(crashing("onfailure", "OnFailure")))
	if daemonKnowsPolicies(t) {
		e.WaitPod("onfailure", "restarted", func(p corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		return
	}
	// containerd 1.6 only knows "always": kplay says so instead of pretending.
	contains(t, "up of an OnFailure pod on containerd 1.6", r.Stderr, "restartPolicy Always")
	e.WaitPhase("onfailure", corev1.PodFailed)
}

func TestWaitWithReadinessProbe(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: gated
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    readinessProbe:
      exec:
        command: ["test", "-e", "/tmp/ready"]
      periodSeconds: 1
`)
	start := time.Now()
	r := e.Kplay("up", "-q", "--wait", "--timeout", "4s", "-f", f)
	if r.Code == 0 {
		t.Fatalf("up --wait succeeded though the readiness probe never passes:\n%s", r)
	}
	contains(t, "up --wait with a failing probe", r.Stderr, `readiness probe: command "test -e /tmp/ready" exited with code 1`)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("up --wait --timeout 4s took %s", took)
	}
	if row := psRow(t, e.MustKplay("ps").Stdout, "gated"); row["READY"] != "0/1" {
		t.Errorf("ps READY of a pod whose probe fails = %q, want 0/1", row["READY"])
	}

	e.MustExec("gated", "touch", "/tmp/ready")
	e.MustKplay("up", "-q", "--wait", "--timeout", "30s", "-f", f)
	if row := psRow(t, e.MustKplay("ps").Stdout, "gated"); row["READY"] != "1/1" {
		t.Errorf("ps READY after up --wait saw the probe pass = %q, want 1/1", row["READY"])
	}
}

const servingPod = `apiVersion: v1
kind: Pod
metadata:
  name: served
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: httpd
    ports:
    - containerPort: 80
      hostPort: 45710
`

func TestPodComesBackAfterItsShimIsKilled(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(servingPod)
	e.Up(f)
	waitHTTP(t, "http://127.0.0.1:45710/", "It works!")

	out, err := exec.Command("pgrep", "-f", "containerd-shim.*-namespace "+e.NS+" ").Output()
	pids := strings.Fields(string(out))
	if err != nil || len(pids) != 1 {
		t.Fatalf("want one shim for the pod's namespace, found %q (%v)", pids, err)
	}
	exec.Command("kill", "-9", pids[0]).Run()
	e.WaitPod("served", "not Running", func(p corev1.Pod) bool { return p.Status.Phase != corev1.PodRunning })

	r := e.MustKplay("up", "-q", "-f", f)
	if got := actions(r)["served"]; got != "recreated" {
		t.Errorf("up after the shim was killed: served %q, want recreated\n%s", got, r)
	}
	waitHTTP(t, "http://127.0.0.1:45710/", "It works!")
}

func TestPodSurvivesContainerdRestart(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(servingPod)
	e.Up(f)
	waitHTTP(t, "http://127.0.0.1:45710/", "It works!")

	before := taskPIDs(t, e.NS)
	restartContainerd(t)
	// The shims outlive the daemon: the same processes still serve, and up leaves
	// the pod alone instead of recreating it.
	r := e.MustKplay("up", "-q", "-f", f)
	if got := actions(r)["served"]; got != "unchanged" {
		t.Errorf("up after containerd restarted: served %q, want unchanged\n%s", got, r)
	}
	if after := taskPIDs(t, e.NS); !maps.Equal(before, after) {
		t.Errorf("the pod's processes changed across a containerd restart: %v before, %v after", before, after)
	}
	waitHTTP(t, "http://127.0.0.1:45710/", "It works!")
}

// taskPIDs maps each task of a containerd namespace to its process ID.
func taskPIDs(t *testing.T, ns string) map[string]string {
	t.Helper()
	rows, err := lines("ctr", "-n", ns, "tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]string{}
	for _, row := range rows[1:] {
		if f := strings.Fields(row); len(f) >= 2 {
			pids[f[0]] = f[1]
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no tasks in namespace %s", ns)
	}
	return pids
}

// restartContainerd kills the daemon and starts it again the way e2e/env/deps.sh does.
func restartContainerd(t *testing.T) {
	t.Helper()
	out, _ := exec.Command("pgrep", "-x", "containerd").Output()
	for _, pid := range strings.Fields(string(out)) {
		exec.Command("kill", pid).Run()
	}
	for i := 0; i < 100 && exec.Command("pgrep", "-x", "containerd").Run() == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	log, err := os.OpenFile("/var/log/kplay-e2e-containerd.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command("containerd")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	for i := 0; i < 100; i++ {
		if exec.Command("ctr", "version").Run() == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("containerd did not come back within 10 s")
}

func TestKillDuringUpLeavesNothingAfterDown(t *testing.T) {
	e := newEnv(t)
	var docs []string
	for i := 0; i < 5; i++ {
		docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: p%d
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", %q]
    ports:
    - containerPort: 80
      hostPort: %d
`, i, idle, 45720+i))
	}
	f := e.Manifest(strings.Join(docs, "---\n"))
	// Kill kplay at points of its work it shows: once it holds a lease (pulling,
	// planning), once the first pod has a container record (network, containers),
	// and once a pod runs.
	has := func(kind string) func() bool {
		return func() bool { ids, _ := lines("ctr", "-n", e.NS, kind, "ls", "-q"); return len(ids) > 0 }
	}
	phases := []struct {
		name string
		ok   func() bool
	}{
		{"holding a lease", has("leases")},
		{"with a container", has("containers")},
		{"with a running pod", func() bool {
			for _, p := range e.Pods() {
				if p.Status.Phase == corev1.PodRunning {
					return true
				}
			}
			return false
		}},
	}
	for _, phase := range phases {
		cmd := e.command(t.Context(), []string{"up", "-q", "-f", f})
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		reached := false
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !reached; time.Sleep(5 * time.Millisecond) {
			select {
			case <-done:
				t.Fatalf("up finished before it was seen %s", phase.name)
			default:
			}
			reached = phase.ok()
		}
		if !reached {
			t.Fatalf("up was never seen %s", phase.name)
		}
		cmd.Process.Kill()
		<-done
		e.MustKplay("down", "--timeout=2s", "-f", f)
		if pods := e.Pods(); len(pods) != 0 {
			t.Fatalf("down -f after kplay was killed %s left pods: %v", phase.name, pods)
		}
	}
	// And the machine still works: a full up serves every port.
	e.Up(f)
	for i := 0; i < 5; i++ {
		e.WaitRunning(fmt.Sprintf("p%d", i))
	}
}

func TestTwoUpsOfDifferentFilesRunSideBySide(t *testing.T) {
	e := newEnv(t)
	a := e.Manifest(strings.Replace(deployment(3, "a"), "name: web", "name: alpha", 1))
	b := e.Manifest(strings.Replace(deployment(3, "b"), "name: web", "name: beta", 1))
	ca := e.command(t.Context(), []string{"up", "-q", "-f", a})
	cb := e.command(t.Context(), []string{"up", "-q", "-f", b})
	outA, outB := &strings.Builder{}, &strings.Builder{}
	ca.Stderr, cb.Stderr = outA, outB
	if err := ca.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ca.Wait(); err != nil {
		t.Errorf("up -f alpha beside another up: %v\n%s", err, outA)
	}
	if err := cb.Wait(); err != nil {
		t.Errorf("up -f beta beside another up: %v\n%s", err, outB)
	}
	for _, n := range []string{"alpha-0", "alpha-1", "alpha-2", "beta-0", "beta-1", "beta-2"} {
		e.WaitRunning(n)
	}
	ips := map[string]string{}
	for n, p := range e.Pods() {
		if other, dup := ips[p.Status.PodIP]; dup {
			t.Errorf("pods %s and %s got the same IP %s", n, other, p.Status.PodIP)
		}
		ips[p.Status.PodIP] = n
	}
}

func TestTwoUpsOfTheSameFileBothSucceed(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(deployment(3, "same"))
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := 0; i < 2; i++ {
		c := e.command(t.Context(), []string{"up", "-q", "-f", f})
		out := &strings.Builder{}
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, c), append(outs, out)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("up %d of the same file beside another: %v\n%s", i+1, err, outs[i])
		}
	}
	// Each pod was created by one of them; the other left it alone.
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		e.WaitRunning(n)
		created := 0
		for _, out := range outs {
			if strings.Contains(out.String(), "pod/"+n+" created") {
				created++
			}
		}
		if created != 1 {
			t.Errorf("pod %s created by %d of the two ups:\n%s\n%s", n, created, outs[0], outs[1])
		}
	}
}

// A hostNetwork pod holds its port through its own process: replacing it must not
// take that for a conflict.
func TestReplaceHostNetworkPodWithPort(t *testing.T) {
	e := newEnv(t)
	manifest := func(v string) string {
		return `apiVersion: v1
kind: Pod
metadata:
  name: hn
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: httpd
    command: ["sh", "-c", "trap 'exit 0' TERM; echo ` + v + ` > /tmp/v; httpd -f -p 45730 -h /tmp & wait"]
    ports:
    - containerPort: 45730
`
	}
	f := e.Manifest(manifest("one"))
	e.Up(f)
	waitHTTP(t, "http://127.0.0.1:45730/v", "one")
	if err := os.WriteFile(f, []byte(manifest("two")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.MustKplay("up", "-q", "--replace", "-f", f)
	if got := actions(r)["hn"]; got != "recreated" {
		t.Errorf("up --replace of a hostNetwork pod: hn %q, want recreated\n%s", got, r)
	}
	waitHTTP(t, "http://127.0.0.1:45730/v", "two")
}

// Two containerd namespaces may share kplay's roots, even with pods of the same name:
// what one does, including its cleanup of what killed runs left, spares the other.
func TestTwoContainerdNamespacesShareTheRoots(t *testing.T) {
	e := newEnv(t)
	other := e.NS + "-b"
	kplayB := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(kplayBin, append(globalFlags(other, e.RunRoot, e.DataRoot), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kplay --containerd-namespace %s %s: %v\n%s", other, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		kplayB("down", "--all", "--timeout=5s")
		removeNamespace(other)
	})

	a := e.Manifest(servingPod)
	e.Up(a)
	waitHTTP(t, "http://127.0.0.1:45710/", "It works!")
	b := e.Manifest(strings.Replace(servingPod, "45710", "45711", 1))
	kplayB("up", "-q", "-f", b)
	waitHTTP(t, "http://127.0.0.1:45711/", "It works!")

	kplayB("down", "--timeout=5s", "-f", b)
	waitHTTP(t, "http://127.0.0.1:45710/", "It works!")
	r := e.MustKplay("up", "-q", "-f", a)
	if got := actions(r)["served"]; got != "unchanged" {
		t.Errorf("the first namespace's pod after the second's down: %q, want unchanged\n%s", got, r)
	}
	e.MustKplay("logs", "served") // its log file is still there
}

// Ctrl-C during up removes what that up created, without a down.
func TestInterruptedUpRollsBack(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow
spec:
  replicas: 3
  selector:
    matchLabels: {app: slow}
  template:
    metadata:
      labels: {app: slow}
    spec:
      terminationGracePeriodSeconds: 1
      initContainers:
      - name: wait
        image: busybox
        command: ["sleep", "30"]
      containers:
      - name: sh
        image: busybox
        command: ["sh", "-c", "` + idle + `"]
`)
	cmd := e.command(t.Context(), []string{"up", "-q", "-f", f})
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the pods exist and wait in their init containers.
	e.WaitPod("slow-0", "waiting in its init container", func(p corev1.Pod) bool { return len(p.Status.InitContainerStatuses) > 0 })
	// Meanwhile ps shows it as kubectl would.
	if row := psRow(t, e.MustKplay("ps").Stdout, "slow-0"); row["READY"] != "0/1" || row["STATUS"] != "Init:0/1" {
		t.Errorf("ps of a pod in its init container: %v, want READY 0/1 and STATUS Init:0/1", row)
	}
	if p := e.Pods()["slow-0"]; p.Status.Phase != corev1.PodPending {
		t.Errorf("phase of a pod in its init container = %s, want Pending", p.Status.Phase)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("interrupted up exited 0:\n%s", out)
	}
	var left []string
	for name := range e.Pods() {
		left = append(left, name)
	}
	if len(left) != 0 {
		t.Errorf("after Ctrl-C, up left pods %v\n%s", left, out)
	}
}

// containerd restarting while up creates pods leaves tasks and bundles that no
// container record names; the next up must converge, not fail with "task already
// exists" or a bundle directory that "file exists", and down must leave no shim.
// The restart comes at several points of the up: after 1, 4 and 8 tasks started.
func TestContainerdRestartDuringUpThenUpConverges(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(deployment(6, "restart"))
	for _, tasks := range []int{1, 4, 8} {
		cmd := e.command(t.Context(), []string{"up", "-q", "-f", file})
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if ids, _ := lines("ctr", "-n", e.NS, "tasks", "ls", "-q"); len(ids) >= tasks {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("up started fewer than %d tasks within 60 s:\n%s", tasks, out.String())
			}
		}
		restartContainerd(t)
		cmd.Wait()
		r := e.Kplay("up", "-q", "-f", file)
		if r.Code != 0 {
			t.Fatalf("up after containerd restarted %d tasks into an up: %s\nthe interrupted up said:\n%s", tasks, r, out.String())
		}
		for i := 0; i < 6; i++ {
			e.WaitRunning(fmt.Sprintf("web-%d", i))
		}
		e.MustKplay("down", "--timeout=2s", "-f", file)
		if left := shims([]string{e.NS}); len(left) > 0 {
			t.Fatalf("shims left after down (restart %d tasks into up): %v", tasks, left)
		}
	}
}

// A failed up still reports what it changed before the failure: the stale pod it
// removed and the pods whose old version it replaced (their new versions are rolled
// back with the rest of the run, so they are gone).
func TestFailedUpReportsWhatItChanged(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(deployment(3, "hello"))
	e.Up(f)
	waitAll(e, "web-0", "web-1", "web-2")
	broken := `---
apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: fail
    image: busybox
    command: ["sh", "-c", "exit 3"]
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
`
	if err := os.WriteFile(f, []byte(deployment(2, "bonjour")+broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Kplay("up", "-q", "--replace", "-f", f)
	if r.Code == 0 || !strings.Contains(r.Stderr, `init container "fail"`) {
		t.Fatalf("up with a failing init container should fail naming it:\n%s", r)
	}
	want := map[string]string{"web-0": "removed", "web-1": "removed", "web-2": "removed"}
	if got := actions(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failed up reported %v, want %v\n%s", got, want, r)
	}
	if pods := e.Pods(); len(pods) != 0 {
		t.Errorf("after the failed up ps lists %d pods, want none (rolled back)", len(pods))
	}
}

// A Deployment scaled to zero declares no pod, but it still owns its old ones:
// `up --replace` removes them, as the ReplicaSet controller would.
func TestReplaceToZeroReplicasRemovesThePods(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(deployment(2, "hello")))
	waitAll(e, "web-0", "web-1")
	r := e.MustKplay("up", "-q", "--replace", "-f", e.Manifest(deployment(0, "hello")))
	if got := actions(r); got["web-0"] != "removed" || got["web-1"] != "removed" {
		t.Errorf("up --replace to 0 replicas: %v, want web-0 and web-1 removed\n%s", got, r)
	}
	if pods := e.Pods(); len(pods) != 0 {
		t.Errorf("pods left after scaling to zero: %v", pods)
	}
}
