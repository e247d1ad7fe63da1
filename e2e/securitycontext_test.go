package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// procStatus is a field of /proc/1/status of one container: its own main process,
// not a process kplay exec started.
func (e *Env) procStatus(pod, container, field string) string {
	e.t.Helper()
	out := e.MustKplay("exec", pod, "-c", container, "--", "grep", field+":", "/proc/1/status").Stdout
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), field+":"))
}

// sleeper is a container of the root busybox image that runs until it is stopped.
func sleeper(name, securityContext string) string {
	c := `
  - name: ` + name + `
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`
	if securityContext != "" {
		c += "\n    securityContext: " + securityContext
	}
	return c
}

func pod(name, podSecurityContext string, containers ...string) string {
	y := `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1`
	if podSecurityContext != "" {
		y += "\n  securityContext: " + podSecurityContext
	}
	return y + "\n  containers:" + strings.Join(containers, "") + "\n"
}

func TestSeccompProfiles(t *testing.T) {
	e := newEnv(t)
	// A Localhost profile that allows everything but mkdir, in kplay's profile directory.
	dir := filepath.Join(e.DataRoot, "seccomp", "kplay-e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`
	if err := os.WriteFile(filepath.Join(dir, "no-mkdir.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Up(e.Manifest(pod("seccomp", "",
		sleeper("default", "{seccompProfile: {type: RuntimeDefault}}"),
		sleeper("unset", ""),
		sleeper("unconfined", "{seccompProfile: {type: Unconfined}}"),
		sleeper("localhost", "{seccompProfile: {type: Localhost, localhostProfile: kplay-e2e/no-mkdir.json}}"),
		sleeper("privileged", "{privileged: true, seccompProfile: {type: RuntimeDefault}}"),
	)))
	e.WaitRunning("seccomp")
	for c, want := range map[string]string{"default": "2", "unset": "0", "unconfined": "0", "localhost": "2", "privileged": "0"} {
		if got := e.procStatus("seccomp", c, "Seccomp"); got != want {
			t.Errorf("container %s: Seccomp: %s in /proc/1/status, want %s", c, got, want)
		}
	}
	// The Localhost profile is the file's, not some default.
	r := e.Kplay("exec", "seccomp", "-c", "localhost", "--", "mkdir", "/tmp/x")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
		t.Errorf("mkdir under the no-mkdir profile: %s\nwant it refused with EPERM", r)
	}
	e.MustKplay("exec", "seccomp", "-c", "default", "--", "mkdir", "/tmp/x")

	// A profile outside the directory, or missing, fails up and leaves nothing.
	if err := os.WriteFile(filepath.Join(e.Dir, "outside.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e.Dir, "outside.json"), filepath.Join(dir, "escape.json")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		code int
		msg  string
	}{
		"kplay-e2e/missing.json": {1, "no such file or directory"},
		// The API server's validation refuses ".." before anything runs.
		"../outside.json":       {2, `The Pod "bad-profile" is invalid: spec.containers[0].securityContext.seccompProfile.localhostProfile: Invalid value: "../outside.json": must not contain '..'`},
		"kplay-e2e/escape.json": {1, "escapes"},
	} {
		r := e.Kplay("up", "-q", "-f", e.Manifest(pod("bad-profile", "",
			sleeper("c", "{seccompProfile: {type: Localhost, localhostProfile: "+name+"}}"))))
		named := want.code != 1 || strings.Contains(r.Stderr, `pod default/bad-profile: container "c": seccompProfile`)
		if r.Code != want.code || !named || !strings.Contains(r.Stderr, want.msg) {
			t.Errorf("up with localhostProfile %s: %s\nwant exit %d (1 naming the pod and the container) and %q", name, r, want.code, want.msg)
		}
		if _, ok := e.Pods()["bad-profile"]; ok {
			t.Errorf("up with localhostProfile %s left the pod behind", name)
		}
	}
}

func TestSeccompDefaultFlag(t *testing.T) {
	e := newEnv(t)
	e.MustKplay("up", "-q", "--seccomp-default", "-f", e.Manifest(pod("seccomp-default", "",
		sleeper("unset", ""),
		sleeper("unconfined", "{seccompProfile: {type: Unconfined}}"),
	)))
	e.WaitRunning("seccomp-default")
	for c, want := range map[string]string{"unset": "2", "unconfined": "0"} {
		if got := e.procStatus("seccomp-default", c, "Seccomp"); got != want {
			t.Errorf("with --seccomp-default, container %s: Seccomp: %s, want %s", c, got, want)
		}
	}
}

func TestAllowPrivilegeEscalation(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(pod("nnp", "",
		sleeper("unset", ""),
		sleeper("allowed", "{allowPrivilegeEscalation: true}"),
		sleeper("disallowed", "{allowPrivilegeEscalation: false}"),
	)))
	e.WaitRunning("nnp")
	for c, want := range map[string]string{"unset": "0", "allowed": "0", "disallowed": "1"} {
		if got := e.procStatus("nnp", c, "NoNewPrivs"); got != want {
			t.Errorf("container %s: NoNewPrivs: %s, want %s", c, got, want)
		}
	}
}

func TestAppArmorWarnsWithoutAppArmor(t *testing.T) {
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.TrimSpace(string(b)) == "Y" {
		t.Skip("this kernel has AppArmor")
	}
	e := newEnv(t)
	r := e.Up(e.Manifest(pod("apparmor", "",
		sleeper("asks", "{appArmorProfile: {type: RuntimeDefault}}"),
		sleeper("silent", ""),
	)))
	want := `pod default/apparmor: container "asks": appArmorProfile RuntimeDefault is not applied: this kernel has no AppArmor`
	if !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "appArmorProfile") != 1 {
		t.Errorf("%s\nwant one warning: %s", r, want)
	}
	e.WaitRunning("apparmor")
}

func TestRunAsNonRoot(t *testing.T) {
	e := newEnv(t)
	broken := e.Manifest(pod("nonroot", "{runAsNonRoot: true}",
		sleeper("app", ""),
		sleeper("user", "{runAsUser: 1000}"),
	) + "---\n" + `apiVersion: v1
kind: Pod
metadata:
  name: nonroot-init
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: busybox
    command: ["true"]
    securityContext: {runAsNonRoot: true, runAsUser: 0}
  containers:` + sleeper("app", ""))
	const rootMsg = `container has runAsNonRoot and image will run as root (pod: "nonroot_default(`
	const initMsg = `container's runAsUser breaks non-root policy (pod: "nonroot-init_default(`

	check := func() {
		t.Helper()
		r := e.Kplay("up", "-q", "-f", broken)
		if r.Code != 1 || !strings.Contains(r.Stderr, `pod default/nonroot: container "app": `+rootMsg) ||
			!strings.Contains(r.Stderr, `pod default/nonroot-init: init container "setup": `+initMsg) {
			t.Fatalf("%s\nwant exit 1 naming each pod and container with the kubelet's message", r)
		}
		t.Logf("up said:\n%s%s", r.Stdout, r.Stderr)
		// The container with a non-root user runs; the other waits, as the kubelet keeps it.
		p := e.WaitPod("nonroot", "running its non-root container", func(p corev1.Pod) bool {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == "user" && cs.State.Running != nil {
					return true
				}
			}
			return false
		})
		if p.Status.Phase != corev1.PodPending {
			t.Errorf("pod nonroot phase %s, want Pending", p.Status.Phase)
		}
		for _, cs := range p.Status.ContainerStatuses {
			w := cs.State.Waiting
			if cs.Name == "app" && (w == nil || w.Reason != "CreateContainerConfigError" || !strings.HasPrefix(w.Message, rootMsg)) {
				t.Errorf("container app state %+v, want waiting CreateContainerConfigError: %s...", cs.State, rootMsg)
			}
		}
		if got := e.procStatus("nonroot", "user", "Uid"); !strings.HasPrefix(got, "1000") {
			t.Errorf("container user runs with Uid: %s, want 1000", got)
		}
		ps := e.MustKplay("ps").Stdout
		for name, want := range map[string]string{"nonroot": "CreateContainerConfigError", "nonroot-init": "Init:CreateContainerConfigError"} {
			if row := psRow(t, ps, name); row == nil || row["STATUS"] != want {
				t.Errorf("kplay ps row for %s = %v, want STATUS %s\n%s", name, row, want, ps)
			}
		}
		yaml := e.MustKplay("ps", "-o", "yaml").Stdout
		if !strings.Contains(yaml, "reason: CreateContainerConfigError") || !strings.Contains(yaml, "message: ") || !strings.Contains(yaml, "breaks non-root") {
			t.Errorf("kplay ps -o yaml shows no waiting reason and message:\n%s", yaml)
		}
	}
	check()
	// down removes the kept pods.
	e.MustKplay("down", "-f", broken)
	if pods := e.Pods(); len(pods) != 0 {
		t.Fatalf("down left %d pods", len(pods))
	}
	// The same manifest again gives the same pods; the fixed one replaces them
	// without --replace.
	check()
	check()
	fixed := strings.ReplaceAll(strings.ReplaceAll(mustRead(t, broken), "runAsNonRoot: true}", "runAsNonRoot: true, runAsUser: 1000}"), "runAsUser: 0", "runAsUser: 1000")
	r := e.Up(e.Manifest(fixed))
	if got := actions(r); got["nonroot"] != "recreated" || got["nonroot-init"] != "recreated" {
		t.Errorf("up of the fixed manifest: %v, want both pods recreated\n%s", got, r)
	}
	e.WaitRunning("nonroot")
	e.WaitRunning("nonroot-init")
	if got := e.procStatus("nonroot", "app", "Uid"); !strings.HasPrefix(got, "1000") {
		t.Errorf("fixed container app runs with Uid: %s, want 1000", got)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
