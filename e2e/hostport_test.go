package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// hostPortPod is a pod that publishes containerPort 80 on hostIP:port, and
// listens on nothing: only kplay's own record of the port can clash.
func hostPortPod(name, hostIP string, port int) string {
	ip := ""
	if hostIP != "" {
		ip = fmt.Sprintf("\n      hostIP: %q", hostIP)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "%s"]
    ports:
    - containerPort: 80
      hostPort: %d%s
`, name, idle, port, ip)
}

// hostNetworkPod is a hostNetwork pod that declares containerPort port, a port on
// the host, and listens on nothing.
func hostNetworkPod(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "%s"]
    ports:
    - containerPort: %d
`, name, idle, port)
}

// refusedUp runs `up` of a pod that must not come up for its host port: it fails
// with exit 1 and an error naming the pod, the port and the pod that holds it, and
// leaves the holder running and no trace of the refused pod (the Env checks the
// rest of the machine when the test ends).
func (e *Env) refusedUp(manifest, name, holder, port string) {
	e.t.Helper()
	r := e.Kplay("up", "-q", "-f", e.Manifest(manifest))
	if r.Code != 1 {
		e.t.Fatalf("up of %s on a held host port: exit %d, want 1\n%s", name, r.Code, r)
	}
	for _, want := range []string{"creating pod default/" + name, "host port " + port, "already used by pod default/" + holder} {
		contains(e.t, "the refused up's error", r.Stderr, want)
	}
	pods := e.Pods()
	if _, ok := pods[name]; ok {
		e.t.Errorf("kplay ps lists %s, whose up failed", name)
	}
	if _, ok := pods[holder]; !ok {
		e.t.Errorf("the failed up of %s removed %s", name, holder)
	}
}

// 0.0.0.0 and "" are both every address: a pod on one refuses a pod on the other,
// and a pod on one address of that port.
func TestHostPortOnEveryAddress(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(hostPortPod("zero", "0.0.0.0", 45740)))
	e.WaitRunning("zero")
	e.refusedUp(hostPortPod("empty", "", 45740), "empty", "zero", "45740/TCP")
	e.refusedUp(hostPortPod("loopback", "127.0.0.1", 45740), "loopback", "zero", "127.0.0.1:45740/TCP")
	if strings.Contains(e.MustKplay("ps").Stdout, "loopback") {
		t.Error("ps lists a refused pod")
	}
}

// A hostNetwork pod's containerPorts are host ports: a pod that publishes one
// refuses the hostNetwork pod.
func TestHostNetworkPodOnPublishedPort(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(hostPortPod("published", "", 45741)))
	e.WaitRunning("published")
	e.refusedUp(hostNetworkPod("hostnet", 45741), "hostnet", "published", "45741/TCP")
}

// A running hostNetwork pod holds its containerPorts even while nothing in it
// listens: a pod that would publish one is refused.
func TestHostPortOnHostNetworkPodsPort(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(hostNetworkPod("hostnet", 45742)))
	e.WaitRunning("hostnet")
	e.refusedUp(hostPortPod("published", "0.0.0.0", 45742), "published", "hostnet", "0.0.0.0:45742/TCP")
	// Once the hostNetwork pod is gone, its port is free.
	e.MustKplay("down", "--timeout=5s", "hostnet")
	e.Up(e.Manifest(hostPortPod("published", "0.0.0.0", 45742)))
	e.WaitRunning("published")
}

// Two pods of one file on one host port, on "" and 0.0.0.0, or one of them with
// hostNetwork: bad input, exit 2, before anything is created.
func TestHostPortClashInOneFile(t *testing.T) {
	e := newEnv(t)
	f := e.Manifest(hostPortPod("empty", "", 45743) + "---\n" + hostPortPod("zero", "0.0.0.0", 45743) + "---\n" + hostNetworkPod("hostnet", 45743))
	r := e.Kplay("up", "-q", "-f", f)
	if r.Code != 2 {
		t.Fatalf("up of a file whose pods share a host port: exit %d, want 2\n%s", r.Code, r)
	}
	for _, want := range []string{
		f + `: document 2: kplay cannot run Pod "zero": spec.containers[0].ports[0].hostPort: Duplicate value: "0.0.0.0:45743/TCP": also bound by Pod "empty" (` + f + `: document 1)`,
		f + `: document 3: kplay cannot run Pod "hostnet":`,
		`spec.containers[0].ports[0].hostPort: Duplicate value: "45743/TCP": also bound by Pod "empty" (` + f + `: document 1)`,
	} {
		contains(t, "the error", r.Stderr, want)
	}
	if pods := e.Pods(); len(pods) > 0 {
		t.Errorf("a refused file left pods: %v", pods)
	}
}
