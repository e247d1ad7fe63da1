package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashApp has what a kill can leave half-made: several pods at once, a host port
// (portmap rules), a secret tmpfs, a configMap volume and a subPath bind mount.
const crashApp = `apiVersion: v1
kind: ConfigMap
metadata:
  name: crash-config
data:
  key: value
---
apiVersion: v1
kind: Secret
metadata:
  name: crash-secret
stringData:
  password: s3cr3t
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: crash
spec:
  replicas: 3
  selector:
    matchLabels: {app: crash}
  template:
    metadata:
      labels: {app: crash}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "` + idle + `"]
        volumeMounts:
        - {name: cfg, mountPath: /cfg}
        - {name: scratch, mountPath: /key, subPath: dir}
      volumes:
      - name: cfg
        configMap: {name: crash-config}
      - name: scratch
        emptyDir: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: crash-port
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    ports:
    - {containerPort: 80, hostPort: 45790}
    volumeMounts:
    - {name: secret, mountPath: /secret}
  volumes:
  - name: secret
    secret: {secretName: crash-secret}
`

// crashRuns is how many kills of up and of down the kill-anywhere test makes:
// KPLAY_CRASH_RUNS (make test-crash runs 40), else a short form for make test.
func crashRuns(t *testing.T) int {
	if s := os.Getenv("KPLAY_CRASH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("KPLAY_CRASH_RUNS=%q: want a positive number", s)
		}
		return n
	}
	return 5
}

// crashSeed makes the kill instants reproducible: KPLAY_CRASH_SEED replays a run.
func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("KPLAY_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KPLAY_CRASH_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestKillAnywhereThenDownLeavesNothing kills `up` (and then `down`) with SIGKILL at
// instants spread over the whole length of an uninterrupted run, and after each kill
// runs `down` and the full leak check: containers, tasks, shims and container
// processes, snapshots, leases, netns, veths, rules, IP reservations, mounts, lock
// files and stored objects.
func TestKillAnywhereThenDownLeavesNothing(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(crashApp)
	before, err := takeSnapshot(e.scope())
	if err != nil {
		t.Fatal(err)
	}
	runs, seed := crashRuns(t), crashSeed(t)
	t.Logf("%d kills of up and %d of down, KPLAY_CRASH_SEED=%d", runs, runs, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	timed := func(args ...string) time.Duration {
		start := time.Now()
		e.MustKplay(args...)
		return time.Since(start)
	}
	// The length of an uninterrupted run, pulls and pause preparation already done.
	upTime := timed("up", "-q", "-f", file)
	downTime := timed("down", "--timeout=2s", "-f", file)
	t.Logf("an uninterrupted up takes %s, a down %s", upTime.Round(time.Millisecond), downTime.Round(time.Millisecond))
	checkClean := func(what string) {
		t.Helper()
		if left := waitNoLeaks(before, e.scope()); len(left) > 0 {
			t.Fatalf("after %s and down -f, left on the machine:\n  %s\n(replay with KPLAY_CRASH_SEED=%d)", what, strings.Join(left, "\n  "), seed)
		}
	}
	// killAt starts kplay, SIGKILLs it after delay and reports whether it was still running.
	killAt := func(delay time.Duration, args ...string) bool {
		t.Helper()
		cmd := e.command(t.Context(), args)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			return false
		case <-time.After(delay): // the instant of the kill is what this test varies
		}
		cmd.Process.Kill()
		<-done
		return true
	}
	// Offsets step through the run, each at a random point of its own slice, and a
	// little past its end.
	offset := func(i int, total time.Duration) time.Duration {
		slice := total * 11 / 10 / time.Duration(runs)
		return time.Duration(i)*slice + time.Duration(rng.Int64N(int64(slice)+1))
	}
	for i := 0; i < runs; i++ {
		at := offset(i, upTime)
		killed := killAt(at, "up", "-q", "-f", file)
		e.MustKplay("down", "--timeout=2s", "-f", file)
		checkClean("up killed " + at.Round(time.Millisecond).String() + " in (killed: " + strconv.FormatBool(killed) + ")")
	}
	for i := 0; i < runs; i++ {
		e.MustKplay("up", "-q", "-f", file)
		at := offset(i, downTime)
		killed := killAt(at, "down", "--timeout=2s", "-f", file)
		e.MustKplay("down", "--timeout=2s", "-f", file)
		checkClean("down killed " + at.Round(time.Millisecond).String() + " in (killed: " + strconv.FormatBool(killed) + ")")
	}
}
