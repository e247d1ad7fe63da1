package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type bench struct {
	config
	dir string // manifests and the floor's pause spec
}

// largest is the biggest Deployment of the run: its --down covers every size.
func (b *bench) largest() int { return b.sizes[len(b.sizes)-1] }

func (b *bench) manifest(n int) string { return filepath.Join(b.dir, fmt.Sprintf("deploy-%d.yaml", n)) }

func (b *bench) pauseSpec() string { return filepath.Join(b.dir, "pause.json") }

// writeManifests writes one Deployment per size, and one of 1 pod for the warm-up;
// every tool runs the same file.
func (b *bench) writeManifests() error {
	for _, n := range append([]int{1}, b.sizes...) {
		y := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench
spec:
  replicas: %d
  selector:
    matchLabels: {app: bench}
  template:
    metadata:
      labels: {app: bench}
    spec:
      containers:
      - name: nginx
        image: %s
        imagePullPolicy: IfNotPresent
`, n, b.image)
		if err := os.WriteFile(b.manifest(n), []byte(y), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) kplay(args ...string) []string {
	return append([]string{b.kplayBin, "--hosts-dir", b.hostsDir, "--containerd-namespace", b.namespace}, args...)
}

func (b *bench) floor(args ...string) []string {
	return append([]string{b.floorBin, args[0], "-namespace", b.floorNamespace}, args[1:]...)
}

// command returns the command line of a tool's operation on n pods.
func (b *bench) command(tool, op string, n int) []string {
	switch tool + " " + op {
	case "kplay up":
		return b.kplay("up", "-q", "-f", b.manifest(n))
	case "kplay down":
		return b.kplay("down", "-f", b.manifest(n))
	case "kplay ps":
		return b.kplay("ps")
	case "podman up":
		return []string{"podman", "play", "kube", b.manifest(n)}
	case "podman down":
		return []string{"podman", "play", "kube", "--down", b.manifest(n)}
	case "podman ps":
		return []string{"podman", "pod", "ps"}
	case "floor up":
		return b.floor("up", "-n", fmt.Sprint(n), "-image", b.image, "-pause", b.pauseSpec())
	case "floor down":
		return b.floor("down")
	}
	panic("no command for " + tool + " " + op)
}

// run runs a command to its end and returns its stdout and how long it took. When
// ctx ends the command gets SIGINT, so kplay rolls back what it started, as after ^C.
func run(ctx context.Context, argv []string) (string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group: a ^C on the terminal reaches the bench alone, which
	// then interrupts the command and cleans up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			msg = "interrupted"
		}
		return stdout.String(), took, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
	}
	return stdout.String(), took, nil
}

// quiet runs a command whose result only matters when it fails.
func quiet(argv ...string) (string, error) {
	out, _, err := run(context.Background(), argv)
	return out, err
}

// cycle runs one tool's up, its checks and measures (memory, ps), and its down on n pods.
func (b *bench) cycle(ctx context.Context, tool string, n, round int) ([]Sample, *MemSample, error) {
	sample := func(op string) (Sample, error) {
		_, took, err := run(ctx, b.command(tool, op, n))
		return Sample{Round: round, Tool: tool, Op: op, Pods: n, Ms: float64(took.Microseconds()) / 1000}, err
	}
	var samples []Sample
	var mem *MemSample
	up, err := sample(opUp)
	if err != nil {
		return nil, nil, err
	}
	samples = append(samples, up)
	// What was timed must have worked: every pod's two containers run.
	if running, err := b.running(tool); err != nil {
		return nil, nil, err
	} else if running != 2*n {
		return nil, nil, fmt.Errorf("%s up of %d pods: %d containers running, want %d", tool, n, running, 2*n)
	}
	if n == b.memPods {
		m, err := b.memory(tool, n)
		if err != nil {
			return nil, nil, fmt.Errorf("measuring %s's memory: %w", tool, err)
		}
		m.Round = round
		mem = &m
	}
	if n == b.psPods && tool != floor {
		ps, err := sample(opPs)
		if err != nil {
			return nil, nil, err
		}
		samples = append(samples, ps)
	}
	down, err := sample(opDown)
	if err != nil {
		return nil, nil, err
	}
	samples = append(samples, down)
	if running, err := b.running(tool); err != nil {
		return nil, nil, err
	} else if running != 0 {
		return nil, nil, fmt.Errorf("%s down of %d pods: %d containers still running", tool, n, running)
	}
	return samples, mem, nil
}

// running counts the running containers of a tool's pods (pause or infra included).
func (b *bench) running(tool string) (int, error) {
	if tool == podman {
		out, err := quiet("podman", "ps", "--pod", "--filter", "status=running", "--format", "{{.PodName}}")
		if err != nil {
			return 0, err
		}
		count := 0
		for _, pod := range strings.Fields(out) {
			if strings.HasPrefix(pod, "bench-pod-") {
				count++
			}
		}
		return count, nil
	}
	tasks, err := b.tasks(tool)
	if err != nil {
		return 0, err
	}
	count := 0
	for _, t := range tasks {
		if t.status == "RUNNING" {
			count++
		}
	}
	return count, nil
}

type task struct {
	id     string
	pid    int
	status string
}

// tasks lists the containerd tasks of kplay's or the floor's namespace.
func (b *bench) tasks(tool string) ([]task, error) {
	ns := b.namespace
	if tool == floor {
		ns = b.floorNamespace
	}
	out, err := quiet("ctr", "-n", ns, "tasks", "ls")
	if err != nil {
		return nil, err
	}
	var ts []task
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		var t task
		t.id, t.status = f[0], f[2]
		fmt.Sscan(f[1], &t.pid)
		ts = append(ts, t)
	}
	return ts, nil
}

// warmUp pulls the image for each tool, creates their networks and copies kplay's
// pause container for the floor; nothing of it is timed.
func (b *bench) warmUp(ctx context.Context) error {
	fmt.Fprintln(os.Stderr, "warming up (pulls, networks, the floor's pause)")
	steps := [][]string{
		b.command(kplay, opUp, 1),
		b.floor("pause-spec", "-from", b.namespace, "-o", b.pauseSpec()),
		b.command(kplay, opDown, 1),
		b.floor("pull", "-image", b.image, "-hosts-dir", b.hostsDir),
		{"podman", "pull", "-q", b.image},
		b.command(podman, opUp, 1),
		b.command(podman, opDown, 1),
	}
	for _, s := range steps {
		if _, _, err := run(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// cleanup removes every pod of the three tools; errors surface in leftovers.
func (b *bench) cleanup() {
	quiet(b.kplay("down", "--all")...)
	quiet(b.command(podman, opDown, b.largest())...)
	if out, err := quiet("podman", "pod", "ps", "-q", "--filter", "name=^bench-pod-"); err == nil && strings.TrimSpace(out) != "" {
		quiet(append([]string{"podman", "pod", "rm", "-f"}, strings.Fields(out)...)...)
	}
	quiet(b.floor("down")...)
}

// leftovers says what the cleanup could not remove.
func (b *bench) leftovers() string {
	var left []string
	for _, ns := range []string{b.namespace, b.floorNamespace} {
		out, err := quiet("ctr", "-n", ns, "containers", "ls", "-q")
		if err != nil {
			left = append(left, err.Error())
		} else if f := strings.Fields(out); len(f) > 0 {
			left = append(left, fmt.Sprintf("containerd namespace %s: %s", ns, strings.Join(f, " ")))
		}
	}
	out, err := quiet("podman", "pod", "ps", "-q", "--filter", "name=^bench-pod-")
	if err != nil {
		left = append(left, err.Error())
	} else if f := strings.Fields(out); len(f) > 0 {
		left = append(left, "podman pods: "+strings.Join(f, " "))
	}
	return strings.Join(left, "; ")
}
