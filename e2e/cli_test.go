package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// up --dry-run needs neither root nor containerd: run it as nobody against a socket that
// does not exist.
func TestDryRunNeedsNoContainerdNorRoot(t *testing.T) {
	dir, err := os.MkdirTemp(suiteDir, "dryrun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "kplay")
	b, err := os.ReadFile(kplayBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	deploy, err := os.ReadFile(example(t, "deploy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "deploy.yaml")
	if err := os.WriteFile(file, deploy, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "--address=/nonexistent/containerd.sock", "up", "--dry-run", "-o", "json", "-f", file)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("up --dry-run as nobody without containerd: %v\n%s", err, stderr)
	}
	var list struct {
		Kind  string       `json:"kind"`
		Items []corev1.Pod `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("up --dry-run -o json printed no List: %v\n%s", err, out)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	if list.Kind != "List" || strings.Join(names, ",") != "nginx-0,nginx-1,nginx-2" {
		t.Errorf("dry run printed kind %q with pods %v, want a List of nginx-0, nginx-1, nginx-2", list.Kind, names)
	}
}

// An image loaded from a docker-save archive runs with imagePullPolicy Never, and image rm
// removes it again.
func TestImageLoadListRemove(t *testing.T) {
	e := newEnv(t)
	const ref = "docker.io/library/busybox:latest"
	e.MustKplay("image", "load", "-i", filepath.Join(imagesDir, "busybox.tar"))
	contains(t, "image ls", e.MustKplay("image", "ls").Stdout, ref)

	f, err := os.Open(filepath.Join(imagesDir, "kplay-cmdargs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := e.KplayStdin(f, "image", "load", "-i", "-"); r.Code != 0 {
		t.Fatalf("image load from stdin: %s", r)
	}
	contains(t, "image ls", e.MustKplay("image", "ls").Stdout, "docker.io/library/kplay-cmdargs:latest")

	pod := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: local
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "` + idle + `"]
`)
	e.Up(pod)
	e.WaitRunning("local")
	e.MustKplay("down", "-f", pod)

	e.MustKplay("image", "rm", ref)
	if ls := e.MustKplay("image", "ls").Stdout; strings.Contains(ls, ref) {
		t.Errorf("image ls still lists %s after image rm:\n%s", ref, ls)
	}
}
