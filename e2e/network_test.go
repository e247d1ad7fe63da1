package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestUDPHostPort(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: udp
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: busybox
    command: ["/udpecho", "9000"]
    ports:
    - containerPort: 9000
      hostPort: 45701
      protocol: UDP
    volumeMounts:
    - {name: bin, mountPath: /udpecho, readOnly: true}
  volumes:
  - name: bin
    hostPath:
      path: ` + udpEchoBin + `
      type: File
`))
	e.WaitRunning("udp")
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		reply, err := udpRoundTrip("127.0.0.1:45701", "ping")
		if err == nil && reply == "echo:ping" {
			return
		}
		last = fmt.Errorf("reply %q, error %v", reply, err)
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("UDP hostPort 45701 never echoed: %v\nlogs:\n%s", last, e.Kplay("logs", "udp"))
}

func udpRoundTrip(addr, msg string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 1024)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

func TestHostIPLoopbackOnly(t *testing.T) {
	e := newEnv(t)
	other := hostAddress(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "mkdir /www && echo served > /www/index.html && httpd -p 8080 -h /www && httpd -p 8081 -h /www && ` + idle + `"]
    ports:
    - containerPort: 8080
      hostPort: 45702
      hostIP: 127.0.0.1
    - containerPort: 8081
      hostPort: 45703
`))
	e.WaitRunning("web")
	waitHTTP(t, "http://127.0.0.1:45702/", "served")
	// The port without hostIP answers on the other address, so this test can tell.
	waitHTTP(t, "http://"+net.JoinHostPort(other, "45703")+"/", "served")
	if !refused(net.JoinHostPort(other, "45702")) {
		t.Errorf("hostPort 45702 with hostIP 127.0.0.1 answers on %s too", other)
	}
}

func TestSameHostPortTwice(t *testing.T) {
	e := newEnv(t)
	pod := func(name string) string {
		return e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    ports:
    - containerPort: 80
      hostPort: 45704
`)
	}
	e.Up(pod("first"))
	e.WaitRunning("first")
	r := e.Kplay("up", "-q", "-f", pod("second"))
	if r.Code == 0 {
		t.Fatalf("a second pod on hostPort 45704 came up:\n%s", r)
	}
	for _, want := range []string{"45704", "first", "second"} {
		contains(t, "the second up's error", r.Stderr, want)
	}
	pods := e.Pods()
	if _, ok := pods["second"]; ok {
		t.Error("kplay ps lists the pod whose up failed")
	}
	if _, ok := pods["first"]; !ok {
		t.Error("the failed up removed the first pod")
	}
}

func TestHostPortHeldByHostProcess(t *testing.T) {
	e := newEnv(t)
	nc := exec.Command("busybox", "nc", "-l", "-p", "45705")
	if err := nc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Process.Kill(); nc.Wait() })
	for deadline := time.Now().Add(5 * time.Second); !hostListens(45705); {
		if time.Now().After(deadline) {
			t.Fatal("busybox nc -l -p 45705 does not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := e.Kplay("up", "-q", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: taken
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "`+idle+`"]
    ports:
    - containerPort: 80
      hostPort: 45705
`))
	if r.Code == 0 {
		t.Fatalf("a pod came up on hostPort 45705, which a host process holds:\n%s", r)
	}
	contains(t, "up's error", r.Stderr, "45705")
	contains(t, "up's error", r.Stderr, "taken")
	if pods := e.Pods(); len(pods) != 0 {
		t.Errorf("kplay ps lists %d pods after the failed up, want none", len(pods))
	}
}

func TestHostNetwork(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: hostnet
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`))
	e.WaitRunning("hostnet")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(e.MustExec("hostnet", "hostname")); got != host {
		t.Errorf("hostname in a hostNetwork pod = %q, want the host's %q", got, host)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	inside := e.MustExec("hostnet", "ip", "-o", "link")
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 && i.Flags&net.FlagUp != 0 && !strings.HasPrefix(i.Name, "veth") {
			contains(t, "ip -o link in a hostNetwork pod", inside, " "+i.Name+":")
			break
		}
	}
}

// 20 rounds of up and down leave the machine as it was: no link, iptables rule, IPAM
// reservation, netns, mount, container, snapshot or shim more than before.
func TestUpDownCyclesLeaveNothing(t *testing.T) {
	e := newEnv(t)
	manifest := e.Manifest(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
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
---
apiVersion: v1
kind: Pod
metadata:
  name: ports
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: httpd
    image: httpd
    ports:
    - containerPort: 80
      hostPort: 45706
    - containerPort: 8080
      hostPort: 45707
      protocol: TCP
`)
	before, err := takeSnapshot(e.scope())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		e.Up(manifest)
		waitHTTP(t, "http://127.0.0.1:45706/", "It works!")
		if n := len(e.Pods()); n != 4 {
			t.Fatalf("cycle %d: kplay ps lists %d pods, want 4", i, n)
		}
		e.MustKplay("down", "-f", manifest)
		if leaks := waitNoLeaks(before, e.scope()); len(leaks) > 0 {
			t.Fatalf("cycle %d: left behind after down:\n  %s", i, strings.Join(leaks, "\n  "))
		}
	}
}
