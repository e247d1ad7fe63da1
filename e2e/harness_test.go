package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// commandTimeout bounds every kplay invocation, so a hang fails the test instead of the suite.
const commandTimeout = 3 * time.Minute

// Env is one test's private kplay world: its own containerd namespace, run root and data root.
// When the test ends, Env removes every pod (`down --all`) and fails the test if anything of
// them is left on the machine.
type Env struct {
	t        *testing.T
	NS       string // containerd namespace
	Dir      string // per-test directory holding the roots and manifests
	RunRoot  string
	DataRoot string
	files    int
}

// Result is what one kplay invocation printed and how it exited.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
}

func (r Result) String() string {
	return fmt.Sprintf("kplay %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

var nsUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// newEnv gives the test its own namespace and roots, snapshots the machine, and registers
// the cleanup that removes the test's pods and checks for leaks.
func newEnv(t *testing.T) *Env {
	t.Helper()
	name := strings.Trim(nsUnsafe.ReplaceAllString(strings.ToLower(strings.TrimPrefix(t.Name(), "Test")), "-"), "-")
	dir, err := os.MkdirTemp(suiteDir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{
		t:        t,
		NS:       "kplay-e2e-" + name,
		Dir:      dir,
		RunRoot:  filepath.Join(dir, "run"),
		DataRoot: filepath.Join(dir, "data"),
	}
	sweepLeftovers()
	if len(namespaces([]string{e.NS})) > 0 { // left over from an interrupted run
		e.Kplay("down", "--all", "--timeout=5s")
		removeNamespace(e.NS)
	}
	before, err := takeSnapshot(e.scope())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r := e.Kplay("down", "--all", "--timeout=5s"); r.Code != 0 {
			t.Errorf("cleanup: %s", r)
		}
		if leaks := waitNoLeaks(before, e.scope()); len(leaks) > 0 {
			t.Errorf("left behind after down --all:\n  %s", strings.Join(leaks, "\n  "))
		}
		if err := removeNamespace(e.NS); err != nil {
			t.Logf("cleanup: %v", err)
			leftovers = append(leftovers, e)
			return
		}
		if err := removeIfUnmounted(dir); err != nil {
			t.Error(err)
		}
	})
	return e
}

// leftovers are the environments of finished tests whose namespace could not be removed.
// Their pods would hold IPs that the next test's IPAM (under its own run root) hands out
// again, so one test's leak would fail every later test; newEnv sweeps them first.
var leftovers []*Env

// sweepLeftovers removes what earlier tests left behind, by kplay and then by force. The
// test that left it has already failed with the list of what it left.
func sweepLeftovers() {
	for _, e := range leftovers {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		e.command(ctx, []string{"down", "--all", "--timeout=2s"}).Run()
		cancel()
		tasks, _ := lines("ctr", "-n", e.NS, "tasks", "ls", "-q")
		for _, id := range tasks {
			exec.Command("ctr", "-n", e.NS, "tasks", "kill", "-s", "SIGKILL", id).Run()
		}
		time.Sleep(200 * time.Millisecond)
		for _, id := range tasks {
			exec.Command("ctr", "-n", e.NS, "tasks", "rm", "-f", id).Run()
		}
		for _, kind := range []string{"containers", "leases"} {
			if ids, _ := lines("ctr", "-n", e.NS, kind, "ls", "-q"); len(ids) > 0 {
				exec.Command("ctr", append([]string{"-n", e.NS, kind, "rm"}, ids...)...).Run()
			}
		}
		removeNamespace(e.NS) // once: what survives this is for the suite's final check
		removeIfUnmounted(e.Dir)
	}
	leftovers = nil
}

func (e *Env) scope() scope {
	return scope{Namespaces: []string{e.NS}, Roots: []string{e.RunRoot, e.DataRoot}}
}

func (e *Env) command(ctx context.Context, args []string) *exec.Cmd {
	return exec.CommandContext(ctx, kplayBin, append(globalFlags(e.NS, e.RunRoot, e.DataRoot), args...)...)
}

// Kplay runs kplay with the test's global flags and the given arguments.
func (e *Env) Kplay(args ...string) Result {
	return e.KplayStdin(nil, args...)
}

// KplayStdin runs kplay with stdin connected to the given reader. It fails the test if
// kplay does not end within 30 s of reading all of stdin.
func (e *Env) KplayStdin(stdin io.Reader, args ...string) Result {
	e.t.Helper()
	timeout := commandTimeout
	if stdin != nil {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := e.command(ctx, args)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	default:
		e.t.Fatalf("running kplay %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		e.t.Fatalf("kplay %s did not finish within %s", strings.Join(args, " "), timeout)
	}
	return r
}

// MustKplay runs kplay and fails the test unless it exits 0.
func (e *Env) MustKplay(args ...string) Result {
	e.t.Helper()
	r := e.Kplay(args...)
	if r.Code != 0 {
		e.t.Fatal(r)
	}
	return r
}

// Start starts a long-running kplay (such as `logs -f`) and returns it with its stdout.
// The process is killed when the test ends.
func (e *Env) Start(args ...string) (*exec.Cmd, io.Reader) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := e.command(ctx, args)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); cmd.Wait() })
	return cmd, out
}

// Manifest writes YAML to a file of its own in the test directory and returns the path.
func (e *Env) Manifest(yaml string) string {
	e.t.Helper()
	e.files++
	path := filepath.Join(e.Dir, fmt.Sprintf("manifest-%d.yaml", e.files))
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// Up runs `kplay up -q -f FILE` and fails the test unless it succeeds.
func (e *Env) Up(file string) Result {
	e.t.Helper()
	return e.MustKplay("up", "-q", "-f", file)
}

// Pods lists the pods as `kplay ps -o json` reports them, by name.
func (e *Env) Pods() map[string]corev1.Pod {
	e.t.Helper()
	r := e.MustKplay("ps", "-o", "json")
	var list corev1.PodList
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		e.t.Fatalf("kplay ps -o json printed no PodList: %v\n%s", err, r.Stdout)
	}
	pods := map[string]corev1.Pod{}
	for _, p := range list.Items {
		pods[p.Name] = p
	}
	return pods
}

// WaitPod polls `kplay ps -o json` until the pod satisfies ok, and returns it.
func (e *Env) WaitPod(name string, what string, ok func(corev1.Pod) bool) corev1.Pod {
	e.t.Helper()
	var last corev1.Pod
	var found bool
	// A pod that `up` created is listed at once; only its state may take a while.
	listed := time.Now().Add(10 * time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && (found || time.Now().Before(listed)) {
		last, found = e.Pods()[name]
		if found && ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !found {
		e.t.Fatalf("pod %s never became %s: kplay ps does not list it", name, what)
	}
	b, _ := json.MarshalIndent(last.Status, "", "  ")
	e.t.Fatalf("pod %s never became %s; last status:\n%s", name, what, b)
	return last
}

// WaitRunning waits until the pod is Running with every container ready.
func (e *Env) WaitRunning(name string) corev1.Pod {
	e.t.Helper()
	return e.WaitPod(name, "Running with all containers ready", func(p corev1.Pod) bool {
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		for _, c := range p.Status.ContainerStatuses {
			if !c.Ready {
				return false
			}
		}
		return true
	})
}

// WaitPhase waits until the pod reports the given phase.
func (e *Env) WaitPhase(name string, phase corev1.PodPhase) corev1.Pod {
	e.t.Helper()
	return e.WaitPod(name, string(phase), func(p corev1.Pod) bool { return p.Status.Phase == phase })
}

// Exec runs `kplay exec POD -- CMD...` and returns the result whatever the exit code.
func (e *Env) Exec(pod string, cmd ...string) Result {
	e.t.Helper()
	return e.Kplay(append([]string{"exec", pod, "--"}, cmd...)...)
}

// MustExec runs a command in the pod and fails the test unless it exits 0.
func (e *Env) MustExec(pod string, cmd ...string) string {
	e.t.Helper()
	r := e.Exec(pod, cmd...)
	if r.Code != 0 {
		e.t.Fatal(r)
	}
	return r.Stdout
}

// WaitLogs polls `kplay logs ARGS...` until its output contains want, and returns the output.
func (e *Env) WaitLogs(want string, args ...string) string {
	e.t.Helper()
	var r Result
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r = e.Kplay(append([]string{"logs"}, args...)...)
		if r.Code == 0 && strings.Contains(r.Stdout, want) {
			return r.Stdout
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("logs never contained %q; last:\n%s", want, r)
	return ""
}

// waitHTTP polls url until it answers 200 with a body containing want, and returns the body.
// The bound only keeps a broken pod from hanging the suite; it is not a speed assertion.
func waitHTTP(t *testing.T, url, want string) string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err != nil {
			last = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%s: %s", resp.Status, b)
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				return string(b)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered %q; last: %s", url, want, last)
	return ""
}

// refused reports whether a TCP connection to addr fails.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// hostListens reports whether a host process listens on the TCP port, from /proc/net/tcp{,6},
// without connecting (a connection would use up a one-shot listener such as `nc -l`).
func hostListens(port int) bool {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A is LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
				return true
			}
		}
	}
	return false
}

// hostAddress is the machine's own IPv4 address on its default route, not loopback.
func hostAddress(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "route", "get", "1.1.1.1").Output()
	if err == nil {
		f := strings.Fields(string(out))
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "src" && f[i+1] != "127.0.0.1" {
				return f[i+1]
			}
		}
	}
	t.Skip("this machine has no IPv4 default route, so no address besides loopback to test")
	return ""
}

// example returns the path of one of the user's example manifests: ../shared/examples next
// to the repository when it exists, else the project's copy in testdata/examples.
func example(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"../../shared/examples", "../testdata/examples"} {
		p, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("example %s is in neither ../shared/examples nor testdata/examples", name)
	return ""
}

// idle is a container command that waits until SIGTERM, which busybox sh as PID 1 would
// otherwise ignore.
const idle = `trap 'exit 0' TERM; sleep 3600 & wait`

func contains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s does not contain %q:\n%s", what, want, got)
	}
}
