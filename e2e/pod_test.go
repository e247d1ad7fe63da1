package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// psRow returns the columns of the `kplay ps` table row for the pod, keyed by header.
func psRow(t *testing.T, table, pod string) map[string]string {
	t.Helper()
	ls := strings.Split(strings.TrimSpace(table), "\n")
	header := strings.Fields(ls[0])
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		row := map[string]string{}
		for i, h := range header {
			if i < len(f) {
				row[h] = f[i]
			}
		}
		if row["NAME"] == pod {
			return row
		}
	}
	return nil
}

// mkdirOnHost creates dir and the parents it lacks, and removes what it created when
// the test ends, so a test leaves nothing on the host.
func mkdirOnHost(t *testing.T, dir string) {
	t.Helper()
	first := ""
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		first = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if first != "" {
		t.Cleanup(func() {
			if err := os.RemoveAll(first); err != nil {
				t.Errorf("removing %s: %v", first, err)
			}
		})
	}
}

func TestApacheExample(t *testing.T) {
	e := newEnv(t)
	mkdirOnHost(t, "/home/volumes/data") // the example's hostPath
	pod := example(t, "pod.yaml")
	e.Up(pod)

	waitHTTP(t, "http://127.0.0.1:45678/", "It works!")

	row := psRow(t, e.MustKplay("ps").Stdout, "apache")
	if row == nil || row["READY"] != "1/1" || row["STATUS"] != "Running" {
		t.Errorf("kplay ps row for apache = %v, want READY 1/1 and STATUS Running", row)
	}
	apache := e.WaitRunning("apache")
	if apache.Status.PodIP == "" {
		t.Fatal("kplay ps -o json shows no status.podIP for apache")
	}

	// Another pod reaches apache by its pod IP.
	client := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`)
	e.Up(client)
	e.WaitRunning("client")
	got := e.MustExec("client", "wget", "-qO-", "http://"+apache.Status.PodIP+"/")
	contains(t, "wget of the apache pod IP from another pod", got, "It works!")
	e.MustKplay("down", "--timeout=5s", "-f", client)

	e.MustKplay("down", "-f", pod)
	if _, ok := e.Pods()["apache"]; ok {
		t.Error("kplay ps still lists apache after down -f")
	}
	if !refused("127.0.0.1:45678") {
		t.Error("port 45678 still answers after down")
	}
	if r := e.Kplay("down", "-f", pod); r.Code != 0 {
		t.Errorf("a second down is not a no-op: %s", r)
	}
}

func TestConfigMapExample(t *testing.T) {
	e := newEnv(t)
	e.Up(example(t, "configmap-pod.yaml"))
	e.WaitRunning("apache")
	contains(t, "env in apache", e.MustExec("apache", "env"), "key1=value1")
}

func TestDeploymentExample(t *testing.T) {
	e := newEnv(t)
	e.Up(example(t, "deploy.yaml"))
	for i := 0; i < 3; i++ {
		p := e.WaitRunning(fmt.Sprintf("nginx-%d", i))
		if p.Labels["app"] != "nginx" {
			t.Errorf("pod %s labels = %v, want app=nginx", p.Name, p.Labels)
		}
	}
	if n := len(e.Pods()); n != 3 {
		t.Errorf("kplay ps -o json lists %d pods, want 3", n)
	}
}

// The four ways command and args combine with the image's ENTRYPOINT ["echo",
// "from-entrypoint"] and CMD ["from-cmd"], as Kubernetes defines them.
func TestCommandAndArgs(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		pod, spec, want string
	}{
		{"neither", ``, "from-entrypoint from-cmd"},
		{"command-only", `command: ["echo", "from-command"]`, "from-command"},
		{"args-only", `args: ["from-args"]`, "from-entrypoint from-args"},
		{"both", `command: ["echo", "from-command"]
    args: ["from-args"]`, "from-command from-args"},
	}
	var docs []string
	for _, c := range cases {
		docs = append(docs, `apiVersion: v1
kind: Pod
metadata:
  name: `+c.pod+`
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: kplay-cmdargs
    `+c.spec)
	}
	e.Up(e.Manifest(strings.Join(docs, "\n---\n")))
	for _, c := range cases {
		e.WaitPhase(c.pod, corev1.PodSucceeded)
		if got := strings.TrimSpace(e.MustKplay("logs", c.pod).Stdout); got != c.want {
			t.Errorf("%s: logs = %q, want %q", c.pod, got, c.want)
		}
	}
}

func TestEnvOrderAndExpansion(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  FOO: from-configmap
  COLOR: blue
---
apiVersion: v1
kind: Pod
metadata:
  name: env
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    # /proc/1/environ (of sh, so tr must not be the last command, which sh would exec) keeps
    # the order runc passed; sh's own env would print its hash order.
    command: ["sh", "-c", "echo 'command sees $(FOOBAR)'; tr '\\0' '\\n' < /proc/1/environ; echo end"]
    envFrom:
    - configMapRef:
        name: settings
      prefix: CM_
    - configMapRef:
        name: settings
    env:
    - name: FOO
      value: foo-value
    - name: BAR
      value: bar-value
    - name: FOOBAR
      value: $(FOO);;$(BAR)
    - name: ESCAPED
      value: $$(FOO)
    - name: UNDEFINED
      value: $(NOPE)
    - name: LATER
      value: $(DEFINED_AFTER)
    - name: DEFINED_AFTER
      value: x
`))
	e.WaitPhase("env", corev1.PodSucceeded)
	out := e.MustKplay("logs", "env").Stdout
	for _, want := range []string{
		"command sees foo-value;;bar-value",
		"FOO=foo-value", // env overrides envFrom
		"CM_FOO=from-configmap",
		"COLOR=blue",
		"FOOBAR=foo-value;;bar-value",
		"ESCAPED=$(FOO)",
		"UNDEFINED=$(NOPE)",
		"LATER=$(DEFINED_AFTER)", // only earlier variables are visible
		"HOSTNAME=env",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(out) {
			t.Errorf("env output has no line %q", want)
		}
	}
	// HOSTNAME, then the image's ENV, then the pod's env, in order.
	pos := func(name string) int {
		sc := bufio.NewScanner(strings.NewReader(out))
		for i := 0; sc.Scan(); i++ {
			if strings.HasPrefix(sc.Text(), name+"=") {
				return i
			}
		}
		return -1
	}
	order := []string{"HOSTNAME", "PATH", "CM_COLOR", "COLOR", "FOO", "BAR", "FOOBAR"}
	for i := 1; i < len(order); i++ {
		if pos(order[i-1]) < 0 || pos(order[i-1]) > pos(order[i]) {
			t.Errorf("%s does not come before %s in the container's environment:\n%s", order[i-1], order[i], out)
		}
	}
}

func TestConfigMapVolumeItemsAndModes(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: ConfigMap
metadata:
  name: files
data:
  secret-ish: only-owner-reads
  plain: everyone-reads
  unused: not-projected
---
apiVersion: v1
kind: Pod
metadata:
  name: cm
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - name: files
      mountPath: /etc/files
  volumes:
  - name: files
    configMap:
      name: files
      defaultMode: 0644
      items:
      - key: secret-ish
        path: private/key.txt
        mode: 0400
      - key: plain
        path: plain.txt
`))
	e.WaitRunning("cm")
	ls := e.MustExec("cm", "ls", "-lL", "/etc/files/private/key.txt", "/etc/files/plain.txt")
	if !regexp.MustCompile(`(?m)^-r-------- .*/etc/files/private/key\.txt$`).MatchString(ls) {
		t.Errorf("mode 0400 item does not show as -r--------:\n%s", ls)
	}
	if !regexp.MustCompile(`(?m)^-rw-r--r-- .*/etc/files/plain\.txt$`).MatchString(ls) {
		t.Errorf("defaultMode 0644 item does not show as -rw-r--r--:\n%s", ls)
	}
	if got := e.MustExec("cm", "cat", "/etc/files/private/key.txt"); got != "only-owner-reads" {
		t.Errorf("private/key.txt = %q, want only-owner-reads", got)
	}
	if r := e.Exec("cm", "test", "-e", "/etc/files/unused"); r.Code == 0 {
		t.Error("a key not listed in items is projected")
	}
	// The kubelet's atomic layout: ..data points at the current timestamped directory.
	contains(t, "ls -la /etc/files", e.MustExec("cm", "ls", "-la", "/etc/files"), "..data -> ")
}

func TestSecretVolumeOnTmpfs(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  password: czNjcjN0 # s3cr3t
---
apiVersion: v1
kind: Pod
metadata:
  name: sec
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - name: creds
      mountPath: /run/creds
      readOnly: true
  volumes:
  - name: creds
    secret:
      secretName: creds
`))
	e.WaitRunning("sec")
	if got := e.MustExec("sec", "cat", "/run/creds/password"); got != "s3cr3t" {
		t.Errorf("password = %q, want s3cr3t", got)
	}
	mounts := e.MustExec("sec", "cat", "/proc/mounts")
	if !regexp.MustCompile(`(?m)^\S+ /run/creds tmpfs `).MatchString(mounts) {
		t.Errorf("/run/creds is not a tmpfs inside the container:\n%s", mounts)
	}
}

func TestEmptyDirSharedBetweenContainers(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: seed
    image: busybox
    command: ["sh", "-c", "echo from-init > /shared/init"]
    volumeMounts:
    - {name: scratch, mountPath: /shared}
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "echo from-writer > /shared/msg; ` + idle + `"]
    volumeMounts:
    - {name: scratch, mountPath: /shared}
  - name: reader
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - {name: scratch, mountPath: /data}
  volumes:
  - name: scratch
    emptyDir: {}
`))
	e.WaitRunning("shared")
	deadline := time.Now().Add(10 * time.Second)
	var r Result
	for time.Now().Before(deadline) {
		if r = e.Kplay("exec", "shared", "-c", "reader", "--", "cat", "/data/msg"); r.Code == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.TrimSpace(r.Stdout) != "from-writer" {
		t.Errorf("reader does not see what writer wrote: %s", r)
	}
	if got := e.MustKplay("exec", "shared", "-c", "reader", "--", "cat", "/data/init").Stdout; strings.TrimSpace(got) != "from-init" {
		t.Errorf("reader does not see what the init container wrote: %q", got)
	}
	if got := e.MustKplay("exec", "shared", "-c", "reader", "--", "stat", "-c", "%a", "/data").Stdout; strings.TrimSpace(got) != "777" {
		t.Errorf("emptyDir mode = %q, want 777", got)
	}
}

func TestInitContainersRunInOrder(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: ordered
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: first
    image: busybox
    command: ["sh", "-c", "sleep 1; echo first >> /work/log"]
    volumeMounts:
    - {name: work, mountPath: /work}
  - name: second
    image: busybox
    command: ["sh", "-c", "grep -q first /work/log && echo second >> /work/log"]
    volumeMounts:
    - {name: work, mountPath: /work}
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo app >> /work/log; ` + idle + `"]
    volumeMounts:
    - {name: work, mountPath: /work}
  volumes:
  - name: work
    emptyDir: {}
`))
	e.WaitRunning("ordered")
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = e.MustExec("ordered", "cat", "/work/log"); strings.Contains(got, "app") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != "first\nsecond\napp\n" {
		t.Errorf("/work/log = %q, want first, second, app in that order", got)
	}
}

func TestFailingInitContainer(t *testing.T) {
	e := newEnv(t)
	r := e.Kplay("up", "-q", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: broken
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: migrate
    image: busybox
    command: ["sh", "-c", "echo migration-started; echo cannot-reach-database >&2; exit 7"]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "`+idle+`"]
`))
	if r.Code != 1 {
		t.Fatalf("up with a failing init container: want exit 1, got %s", r)
	}
	for _, want := range []string{"broken", "migrate", "7", "cannot-reach-database"} {
		contains(t, "up's error", r.Stderr, want)
	}
	if pods := e.Pods(); len(pods) != 0 {
		t.Errorf("kplay ps lists %d pods after the failed up, want none", len(pods))
	}
}

func TestLogsFollow(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"]
`))
	e.WaitRunning("ticker")
	e.WaitLogs("tick-3", "ticker")

	tail := strings.Split(strings.TrimSpace(e.MustKplay("logs", "--tail=2", "ticker").Stdout), "\n")
	if len(tail) != 2 {
		t.Errorf("logs --tail=2 printed %d lines: %q", len(tail), tail)
	}
	stamped := e.MustKplay("logs", "--tail=1", "--timestamps", "ticker").Stdout
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) tick-\d+\n$`).MatchString(stamped) {
		t.Errorf("logs --timestamps line = %q, want an RFC 3339 time and the line", stamped)
	}

	var before int
	fmt.Sscanf(e.MustKplay("logs", "--tail=1", "ticker").Stdout, "tick-%d", &before)
	_, out := e.Start("logs", "-f", "ticker")
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// logs -f prints what is there, then keeps printing lines written after it started.
	last := 0
	timeout := time.After(20 * time.Second)
	for last < before+5 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs -f ended after tick-%d; it should keep following", last)
			}
			if _, err := fmt.Sscanf(l, "tick-%d", &last); err != nil {
				t.Fatalf("logs -f printed %q", l)
			}
		case <-timeout:
			t.Fatalf("logs -f started after tick-%d, printed up to tick-%d and then nothing new", before, last)
		}
	}
}

func TestExecExitCodes(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: box
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`))
	e.WaitRunning("box")
	for _, c := range []struct {
		cmd  []string
		want int
	}{
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"false"}, 1},
	} {
		if r := e.Exec("box", c.cmd...); r.Code != c.want {
			t.Errorf("exec %q: exit %d, want %d\n%s", c.cmd, r.Code, c.want, r)
		}
	}
	if r := e.Exec("box", "/no/such/program"); r.Code == 0 {
		t.Errorf("exec of a missing program exits 0:\n%s", r)
	}
	r := e.KplayStdin(strings.NewReader("through stdin\n"), "exec", "-i", "box", "--", "cat")
	if r.Code != 0 || r.Stdout != "through stdin\n" {
		t.Errorf("exec -i with cat: %s", r)
	}
}

func TestPullPolicyNeverWithMissingImage(t *testing.T) {
	e := newEnv(t)
	r := e.Kplay("up", "-q", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: offline
spec:
  containers:
  - name: c
    image: docker.io/library/kplay-absent:1.0
    imagePullPolicy: Never
`))
	if r.Code == 0 {
		t.Fatalf("up with imagePullPolicy Never and a missing image succeeded:\n%s", r)
	}
	contains(t, "up's error", r.Stderr, "kplay-absent")

	// --pull never overrides the default Always of a :latest image.
	r = e.Kplay("up", "-q", "--pull", "never", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: offline2
spec:
  containers:
  - name: c
    image: busybox
`))
	if r.Code == 0 {
		t.Fatalf("up --pull never with an image that is not present succeeded:\n%s", r)
	}
	contains(t, "up's error", r.Stderr, "busybox")
	if pods := e.Pods(); len(pods) != 0 {
		t.Errorf("kplay ps lists %d pods after the failed up, want none", len(pods))
	}
}

func TestDownByNameAndAll(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: apps/v1
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
      - name: c
        image: busybox
        command: ["sh", "-c", "` + idle + `"]
`))
	e.WaitRunning("web-0")
	e.WaitRunning("web-1")

	e.MustKplay("down", "web-0")
	pods := e.Pods()
	if _, ok := pods["web-0"]; ok {
		t.Error("down web-0 left web-0")
	}
	if _, ok := pods["web-1"]; !ok {
		t.Error("down web-0 removed web-1 too")
	}
	e.MustKplay("down", "--all")
	if n := len(e.Pods()); n != 0 {
		t.Errorf("kplay ps lists %d pods after down --all", n)
	}
	e.MustKplay("down", "--all")
}

// A claim's directory outlives down, so the next up sees the data; down --volumes removes it.
func TestPersistentVolumeClaimSurvivesDown(t *testing.T) {
	e := newEnv(t)
	manifest := e.Manifest(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: store
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: db
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - {name: data, mountPath: /var/lib/db}
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: store
`)
	e.Up(manifest)
	e.WaitRunning("db")
	e.MustExec("db", "sh", "-c", "echo kept > /var/lib/db/row")
	e.MustKplay("down", "-f", manifest)

	e.Up(manifest)
	e.WaitRunning("db")
	if got := e.MustExec("db", "cat", "/var/lib/db/row"); got != "kept\n" {
		t.Errorf("after down and up the claim holds %q, want kept", got)
	}
	e.MustKplay("down", "--volumes", "-f", manifest)

	e.Up(manifest)
	e.WaitRunning("db")
	if r := e.Exec("db", "test", "-e", "/var/lib/db/row"); r.Code == 0 {
		t.Error("down --volumes kept the claim's data")
	}
}
