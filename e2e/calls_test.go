package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The containerd calls of up and down per pod stay at what docs/design.md ("Cost of
// a pod") records: a call that comes back per pod, or a listing of everything per pod
// (a cost growing with the square of the pods), fails here.
func TestContainerdCallsPerPod(t *testing.T) {
	e := newEnv(t)
	const pods = 10
	manifest := e.Manifest(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 10
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: nginx
        image: nginx
        imagePullPolicy: IfNotPresent
`)
	// The pull outside the count: its calls are per image, not per pod.
	pull := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: pull
spec:
  containers:
  - name: nginx
    image: nginx
`)
	e.MustKplay("up", "-q", "-f", pull)
	e.MustKplay("down", "--timeout=0", "-f", pull)
	up := e.countCalls("up", "-q", "-f", manifest)
	// Reclaiming lists the containers of every containerd namespace once per command:
	// those listings scale with the namespaces on the machine, which other programs make.
	nss := len(namespaces([]string{"*"}))
	down := e.countCalls("down", "-f", manifest)

	budget := []struct {
		what   string
		calls  map[string]int
		perPod float64 // every method but the listings below
		lists  int     // Containers/ListStream
	}{
		{"up", up, 19.5, pods + nss + 3},
		{"down", down, 10.4, pods + nss + 3},
	}
	for _, b := range budget {
		total := 0
		for m, n := range b.calls {
			if !strings.HasSuffix(m, "Containers/ListStream") && !strings.HasSuffix(m, "Namespaces/List") {
				total += n
			}
		}
		t.Logf("%s of %d pods, %d containerd namespaces: %s", b.what, pods, nss, table(b.calls))
		if got := float64(total) / pods; got > b.perPod {
			t.Errorf("%s makes %.1f containerd calls per pod, more than %.1f (docs/design.md, Cost of a pod)", b.what, got, b.perPod)
		}
		if got := b.calls["/containerd.services.containers.v1.Containers/ListStream"]; got > b.lists {
			t.Errorf("%s lists containers %d times, more than %d: once per pod and once per containerd namespace", b.what, got, b.lists)
		}
		if got := b.calls["/containerd.services.namespaces.v1.Namespaces/List"]; got > 1 {
			t.Errorf("%s lists the containerd namespaces %d times, more than once", b.what, got)
		}
		// containerd asks each shim for its tasks' state: a task listing per pod
		// costs the square of the pods.
		if got := b.calls["/containerd.services.tasks.v1.Tasks/List"]; got > 2 {
			t.Errorf("%s lists every task %d times, more than twice", b.what, got)
		}
	}
}

// countCalls runs kplay with KPLAY_COUNT_CALLS and returns its containerd calls by method.
func (e *Env) countCalls(args ...string) map[string]int {
	e.t.Helper()
	file := filepath.Join(e.Dir, "calls.json")
	e.t.Setenv("KPLAY_COUNT_CALLS", file)
	e.MustKplay(args...)
	os.Unsetenv("KPLAY_COUNT_CALLS")
	b, err := os.ReadFile(file)
	if err != nil {
		e.t.Fatal(err)
	}
	calls := map[string]int{}
	if err := json.Unmarshal(b, &calls); err != nil {
		e.t.Fatalf("%s: %v", file, err)
	}
	os.Remove(file)
	return calls
}

func table(calls map[string]int) string {
	var lines []string
	for m, n := range calls {
		lines = append(lines, "\n  "+m[strings.LastIndex(m, ".")+1:]+" "+strconv.Itoa(n))
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}
