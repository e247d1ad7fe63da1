package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// registry and hostsDir are what e2e/env/deps.sh sets up.
	registry = "127.0.0.1:5731"
	hostsDir = "/var/lib/kplay-e2e/certs.d"
	// imagesDir holds deps.sh's docker-save archives of the test images.
	imagesDir = "/var/lib/kplay-e2e/images"
	// bridge and subnet are the suite's pod network, apart from kplay's default one.
	bridge = "kplay-e2e0"
	subnet = "10.213.128.0/22"
)

var (
	// kplayBin is the binary under test: $KPLAY_BIN, or one built from ../cmd/kplay.
	kplayBin string
	// udpEchoBin is a static UDP echo server that the UDP hostPort test mounts into a pod.
	udpEchoBin string
	// suiteDir holds every test's roots, so the suite's final leak check knows where to look.
	suiteDir string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: the end-to-end tests need root (run `make e2e` as root)")
		return 1
	}
	// Two suites at once would share kplay's bridge with separate IPAM directories and
	// hand out the same pod IPs: take turns.
	lock, err := os.OpenFile("/run/kplay-e2e.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		fmt.Fprintln(os.Stderr, "e2e: another e2e run is in progress on this machine; waiting for it")
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}

	tmp, err := os.MkdirTemp("", "kplay-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if suiteDir, err = os.MkdirTemp("", "kplay-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer removeIfUnmounted(suiteDir)
	if err := os.Chmod(suiteDir, 0o755); err != nil { // the dry-run test runs as nobody below it
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}

	kplayBin = os.Getenv("KPLAY_BIN")
	if kplayBin == "" {
		kplayBin = filepath.Join(tmp, "kplay")
		if err := goBuild(kplayBin, "../cmd/kplay", nil); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building kplay:", err)
			return 1
		}
	}
	udpEchoBin = filepath.Join(tmp, "udpecho")
	if err := goBuild(udpEchoBin, "./testdata/udpecho", []string{"CGO_ENABLED=0"}); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building udpecho:", err)
		return 1
	}
	if err := checkDeps(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\nRun `make deps` (e2e/env/deps.sh) first.\n", err)
		return 1
	}
	// Every test has its own run root and so its own IPAM directory on the suite's bridge:
	// pods already on it (another run's leftovers) hold IPs that the tests hand out again.
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); len(out) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: WARNING: interfaces are already on the suite's bridge %s; their pods' IPs may collide with the tests' pods:\n%s", bridge, out)
	}
	if err := warmUp(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: warm-up (one up/down before any test) failed:", err)
		return 1
	}

	before, err := takeSnapshot(suiteScope())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	code := m.Run()
	if leaks := waitNoLeaks(before, suiteScope()); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: after the whole suite, left on the machine:\n  %s\n", strings.Join(leaks, "\n  "))
		return 1
	}
	return code
}

func goBuild(out, pkg string, env []string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func checkDeps() error {
	if out, err := exec.Command("ctr", "version").CombinedOutput(); err != nil {
		return fmt.Errorf("containerd is not serving: %v\n%s", err, out)
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + registry + "/v2/library/httpd/tags/list")
	if err != nil {
		return fmt.Errorf("the local registry does not answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the local registry has no httpd image: %s", resp.Status)
	}
	if _, err := os.Stat(filepath.Join(hostsDir, "docker.io", "hosts.toml")); err != nil {
		return err
	}
	return nil
}

// warmUp runs one pod with a hostPort up and down, so the bridge, the subnet's shared
// masquerade and forward rules (kplay creates them with the first pod) and the top-level
// iptables chains that portmap creates once and keeps exist before the first leak snapshot.
func warmUp() error {
	dir, err := os.MkdirTemp(suiteDir, "warmup-")
	if err != nil {
		return err
	}
	defer removeIfUnmounted(dir)
	ns := "kplay-e2e-warmup"
	defer removeNamespace(ns)
	manifest := filepath.Join(dir, "warmup.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: warmup
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: httpd
    ports:
    - containerPort: 80
      hostPort: 45700
`), 0o644); err != nil {
		return err
	}
	flags := globalFlags(ns, filepath.Join(dir, "run"), filepath.Join(dir, "data"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"up", "-q", "-f", manifest}, {"down", "--timeout=5s", "-f", manifest}} {
		cmd := exec.CommandContext(ctx, kplayBin, append(flags, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kplay %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// globalFlags are the flags that give a test its own containerd namespace and roots.
// They use the --flag=value form so they may stand before the subcommand.
func globalFlags(ns, runRoot, dataRoot string) []string {
	return []string{
		"--containerd-namespace=" + ns,
		"--run-root=" + runRoot,
		"--data-root=" + dataRoot,
		"--hosts-dir=" + hostsDir,
		// The suite's own network, so pods a user runs on kplay's default bridge
		// (make demo) and the tests never hand out the same addresses.
		"--bridge=" + bridge,
		"--subnet=" + subnet,
	}
}

// removeNamespace deletes the test images of a containerd namespace and then the namespace,
// which containerd refuses while anything is left in it.
func removeNamespace(ns string) error {
	out, _ := exec.Command("ctr", "-n", ns, "images", "ls", "-q").Output()
	if refs := strings.Fields(string(out)); len(refs) > 0 {
		exec.Command("ctr", append([]string{"-n", ns, "images", "rm"}, refs...)...).Run()
	}
	var last error
	for i := 0; i < 50; i++ { // content and snapshots go with containerd's garbage collection
		out, err := exec.Command("ctr", "namespaces", "rm", ns).CombinedOutput()
		if err == nil {
			return nil
		}
		last = fmt.Errorf("ctr namespaces rm %s: %v: %s", ns, err, strings.TrimSpace(string(out)))
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// removeIfUnmounted deletes a test directory unless something is still mounted below it:
// deleting through a leaked bind mount would delete the files of a hostPath volume.
func removeIfUnmounted(dir string) error {
	if m := mounts(scope{Roots: []string{dir}}); len(m) > 0 {
		return fmt.Errorf("not removing %s: still mounted below it: %s", dir, strings.Join(m, ", "))
	}
	return os.RemoveAll(dir)
}
