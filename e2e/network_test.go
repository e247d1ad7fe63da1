package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kplay-dev/kplay/pkg/podstate"
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

// outsideHost is a network namespace that plays another machine: a veth pair to
// the host, with 198.18.0.1 on the host's end and 198.18.0.2 on its own
// (198.18.0.0/15 is for benchmarking, so no real network uses it). It has no
// route beyond that /24: it can only answer the host's address, so a pod reaches
// it only if its traffic is masqueraded. The test removes it when it ends.
type outsideHost struct {
	ns, path string
}

const (
	outsideHostIP = "198.18.0.1" // the host's end
	outsideIP     = "198.18.0.2" // the outside machine
)

func newOutsideHost(t *testing.T) outsideHost {
	t.Helper()
	o := outsideHost{ns: "kplay-e2e-outside", path: "/run/netns/kplay-e2e-outside"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	exec.Command("ip", "netns", "del", o.ns).Run() // an interrupted run's
	exec.Command("ip", "link", "del", "kpe2e-out0").Run()
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", "kpe2e-out0").Run()
		if out, err := exec.Command("ip", "netns", "del", o.ns).CombinedOutput(); err != nil {
			t.Errorf("removing the outside netns: %v: %s", err, out)
		}
	})
	run("ip", "netns", "add", o.ns)
	run("ip", "link", "add", "kpe2e-out0", "type", "veth", "peer", "name", "kpe2e-out1", "netns", o.ns)
	run("ip", "addr", "add", outsideHostIP+"/24", "dev", "kpe2e-out0")
	run("ip", "link", "set", "kpe2e-out0", "up")
	run("ip", "-n", o.ns, "addr", "add", outsideIP+"/24", "dev", "kpe2e-out1")
	run("ip", "-n", o.ns, "link", "set", "kpe2e-out1", "up")
	run("ip", "-n", o.ns, "link", "set", "lo", "up")
	return o
}

// serveRemoteAddr serves HTTP on addr inside the namespace at nsPath ("" for the
// host's), answering every request with the address it came from.
func serveRemoteAddr(t *testing.T, nsPath, addr string) string {
	t.Helper()
	l, err := listenIn(nsPath, addr)
	if err != nil {
		t.Fatalf("listening on %s in %q: %v", addr, nsPath, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprint(w, host)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// listenIn makes a TCP listener in another network namespace: on a thread
// switched into it, the socket stays in that namespace for good.
func listenIn(nsPath, addr string) (l net.Listener, err error) {
	if nsPath == "" {
		return net.Listen("tcp4", addr)
	}
	err = inNetns(nsPath, func() error {
		l, err = net.Listen("tcp4", addr)
		return err
	})
	return l, err
}

// inNetns runs f on a thread switched into the network namespace at nsPath;
// sockets f makes stay in that namespace after the thread switches back.
func inNetns(nsPath string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return err
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(err) // a thread stuck in the other namespace would poison the test binary
		}
	}()
	return f()
}

// forwardDrop sets the policy of iptables' filter FORWARD to DROP, as docker
// does, until the test ends: pods must still reach out and be reached.
func forwardDrop(t *testing.T) {
	t.Helper()
	out, err := exec.Command("iptables", "--wait", "-S", "FORWARD").Output()
	if err != nil {
		t.Fatal(err)
	}
	policy := strings.Fields(strings.SplitN(string(out), "\n", 2)[0]) // -P FORWARD ACCEPT
	if len(policy) != 3 || policy[0] != "-P" {
		t.Fatalf("iptables -S FORWARD starts with %q", policy)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("iptables", "--wait", "-P", "FORWARD", policy[2]).CombinedOutput(); err != nil {
			t.Errorf("restoring FORWARD's policy %s: %v: %s", policy[2], err, out)
		}
	})
	if out, err := exec.Command("iptables", "--wait", "-P", "FORWARD", "DROP").CombinedOutput(); err != nil {
		t.Fatalf("iptables -P FORWARD DROP: %v: %s", err, out)
	}
}

// Pods reach each other, the host and (masqueraded as the host) other machines,
// and other machines reach a pod's hostPort, also with FORWARD's policy DROP.
func TestPodTraffic(t *testing.T) {
	e := newEnv(t)
	hostIP := hostAddress(t)
	outside := newOutsideHost(t)
	outsideAddr := serveRemoteAddr(t, outside.path, outsideIP+":8080")
	hostAddr := serveRemoteAddr(t, "", net.JoinHostPort(hostIP, "0"))
	forwardDrop(t)

	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: server
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "mkdir /www && echo served by the pod > /www/index.html && httpd -p 80 -h /www && ` + idle + `"]
    ports:
    - containerPort: 80
      hostPort: 45710
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`))
	server, client := e.WaitRunning("server").Status.PodIP, e.WaitRunning("client").Status.PodIP
	wget := func(url string) string {
		t.Helper()
		// busybox 1.35's wget -T crashes: timeout bounds it instead.
		r := e.Exec("client", "timeout", "10", "wget", "-qO-", url)
		if r.Code != 0 {
			t.Errorf("from the client pod, wget %s: %s", url, r)
		}
		return strings.TrimSpace(r.Stdout)
	}

	if got := wget("http://" + server + "/"); got != "served by the pod" {
		t.Errorf("pod to pod: %q", got)
	}
	// The host gets the pod's own address: only traffic that leaves is masqueraded.
	if got := wget("http://" + hostAddr + "/"); got != client {
		t.Errorf("pod to host: the host saw the request come from %q, want the pod's %s", got, client)
	}
	// The outside machine sees the host's address: it has no route to the pod's.
	if got := wget("http://" + outsideAddr + "/"); got != outsideHostIP {
		t.Errorf("pod to outside: the outside machine saw the request come from %q, want the host's %s (masquerade)", got, outsideHostIP)
	}
	// The outside machine reaches the pod's hostPort on the host's address.
	out, err := exec.Command("ip", "netns", "exec", outside.ns, "busybox", "timeout", "10", "busybox", "wget", "-qO-", "http://"+outsideHostIP+":45710/").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "served by the pod" {
		t.Errorf("outside to the hostPort 45710: %q, %v", out, err)
	}
}

// A pod that the kplay this change started from (0f21c7f: loopback network,
// bridge with ipMasq, portmap and firewall for every pod) created is removed by
// this kplay with nothing left: its own chain runs its DEL. make e2e builds that
// kplay (the Makefile's PREV_BIN) and names it in KPLAY_PREV_BIN; with the suite
// driven by a prebuilt kplay (KPLAY_BIN, as make does) its absence is a failure,
// and only a bare `go test` skips.
func TestPodOfPreviousKplay(t *testing.T) {
	prev := os.Getenv("KPLAY_PREV_BIN")
	if prev == "" {
		if os.Getenv("KPLAY_BIN") != "" {
			t.Fatal("KPLAY_PREV_BIN is not set: `make e2e` builds the previous kplay (the Makefile's PREV_BIN) and names it there")
		}
		t.Skip("KPLAY_PREV_BIN is not set (make e2e sets it)")
	}
	e := newEnv(t)
	manifest := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: old
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: httpd
    ports:
    - containerPort: 80
      hostPort: 45711
`)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, prev, append(globalFlags(e.NS, e.RunRoot, e.DataRoot), "up", "-q", "-f", manifest)...).CombinedOutput(); err != nil {
		t.Fatalf("the previous kplay's up: %v\n%s", err, out)
	}
	waitHTTP(t, "http://127.0.0.1:45711/", "It works!")
	// That it is the old chain: the loopback network's cache entry, and the
	// bridge plugin's masquerade chain of the pod's own.
	loCache, _ := filepath.Glob(filepath.Join(podstate.Layout{RunRoot: e.RunRoot}.Network().Cache, "results", "kplay-loopback-*-lo"))
	if len(loCache) != 1 {
		t.Fatalf("the previous kplay left no loopback network in the CNI cache under %s: is %s the previous kplay?", e.RunRoot, prev)
	}
	rules, err := iptablesRules()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rules, func(r string) bool {
		return strings.HasPrefix(r, "-A POSTROUTING") && strings.Contains(r, "-s "+e.Pods()["old"].Status.PodIP+"/32")
	}) {
		t.Fatal("no per-pod masquerade rule of the previous kplay's pod")
	}
	e.MustKplay("down", "--timeout=5s", "-f", manifest)
	if !refused("127.0.0.1:45711") {
		t.Error("hostPort 45711 still answers after down")
	}
	// newEnv's cleanup checks that nothing of the pod is left.
}

// A machine of the LAN that sends packets with a pod's source address through
// the host does not get them forwarded to another network the host routes to,
// with FORWARD's policy DROP and a pod running: kplay's forward chain accepts
// the pod subnet only as it comes in by the pods' bridge. As a control, the
// same packets do arrive with the unscoped rule of kplay's first shared chain
// (-s <subnet> -j ACCEPT) at the top of FORWARD: so a drop for another reason
// (rp_filter, a route, ARP) cannot make this test pass.
func TestSpoofedPodAddressIsNotForwarded(t *testing.T) {
	e := newEnv(t)
	const spoofed = "10.213.131.250" // of the suite's subnet, far from the first addresses IPAM hands out
	if !netip.MustParsePrefix(subnet).Contains(netip.MustParseAddr(spoofed)) {
		t.Fatalf("%s is not in the suite's subnet %s", spoofed, subnet)
	}
	lan := newAttachedNetns(t, "kplay-e2e-lan", "kpe2e-lan", "198.18.1")
	victim := newAttachedNetns(t, "kplay-e2e-victim", "kpe2e-vic", "198.18.2")
	// The LAN machine holds the pod address and routes the victim's network by the host.
	lan.run(t, "addr", "add", spoofed+"/32", "dev", lan.nsIf)
	lan.run(t, "route", "add", victim.net24+".0/24", "via", lan.hostIP)
	// A new netns has the host's IPv4 sysctls, rp_filter among them: the victim
	// needs a route back to the pod address, as a machine of that network has.
	victim.run(t, "route", "add", "default", "via", victim.hostIP)
	// The host routes the pod subnet by the bridge, so a strict reverse-path
	// filter (rp_filter 1) would drop the spoofed packets on the LAN interface
	// before FORWARD sees them; loose (2, systemd's default) or off (0) lets them
	// by. The kernel applies the larger of all's and the interface's value, so 2
	// on the test's own interface makes it loose whatever the machine has, and
	// the test is about what iptables lets through. The setting goes with the
	// interface, which the test removes when it ends.
	if out, err := exec.Command("sysctl", "-w", "net.ipv4.conf."+lan.hostIf+".rp_filter=2").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}

	// A pod, so kplay's shared rules are in place as they are while pods run.
	e.Up(e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: pod
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
`))
	e.WaitRunning("pod")
	rules, err := iptablesRules()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rules, func(r string) bool {
		return strings.HasPrefix(r, "-A KPLAY-FWD-") && strings.Contains(r, "-s "+subnet+" -i "+bridge+" ")
	}) {
		t.Fatalf("no KPLAY-FWD- rule accepts %s from %s:\n%s", subnet, bridge, strings.Join(rules, "\n"))
	}
	forwardDrop(t)

	var recv net.PacketConn
	if err := inNetns(victim.path, func() (err error) {
		recv, err = net.ListenPacket("udp4", victim.ip+":9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	var send *net.UDPConn
	if err := inNetns(lan.path, func() (err error) {
		send, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(spoofed+":0")),
			net.UDPAddrFromAddrPort(netip.MustParseAddrPort(victim.ip+":9999")))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Close() })
	// delivered sends msg from the LAN machine every 200ms until the victim gets
	// it or d has passed.
	delivered := func(msg string, d time.Duration) bool {
		t.Helper()
		buf := make([]byte, 64)
		for end := time.Now().Add(d); time.Now().Before(end); {
			if _, err := send.Write([]byte(msg)); err != nil {
				t.Fatalf("sending from the LAN machine: %v", err)
			}
			recv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			for {
				n, _, err := recv.ReadFrom(buf)
				if err != nil {
					break // the deadline: send again
				}
				if string(buf[:n]) == msg {
					return true
				}
			}
		}
		return false
	}
	filter := func() string {
		out, _ := exec.Command("iptables", "--wait", "-nvL").CombinedOutput()
		return string(out)
	}

	if delivered("spoofed", 2*time.Second) {
		t.Errorf("a LAN machine's UDP packet from the pod address %s reached %s on another network through the host, with FORWARD's policy DROP; filter table:\n%s", spoofed, victim.ip, filter())
	}

	control := []string{"FORWARD", "-s", subnet, "-m", "comment", "--comment", "kplay e2e control: the unscoped rule", "-j", "ACCEPT"}
	if out, err := exec.Command("iptables", append([]string{"--wait", "-I"}, control...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables -I %s: %v: %s", strings.Join(control, " "), err, out)
	}
	removed := false
	remove := func() {
		if removed {
			return
		}
		removed = true
		if out, err := exec.Command("iptables", append([]string{"--wait", "-D"}, control...)...).CombinedOutput(); err != nil {
			t.Errorf("removing the control rule: %v: %s", err, out)
		}
	}
	t.Cleanup(remove)
	if !delivered("spoofed, control", 10*time.Second) {
		t.Errorf("with -s %s -j ACCEPT first in FORWARD, the spoofed packet still did not reach the victim: the test cannot see a forward; filter table:\n%s", subnet, filter())
	}
	remove()
}

// attachedNetns is a network namespace joined to the host by a veth pair on
// the test range net24.0/24 (in 198.18.0.0/15, for benchmarking, which no real
// network uses): net24.1 on the host's end, net24.2 on its own. The test removes
// it when it ends.
type attachedNetns struct {
	ns, path          string
	hostIf, nsIf      string
	net24, hostIP, ip string
}

func newAttachedNetns(t *testing.T, ns, ifPrefix, net24 string) attachedNetns {
	t.Helper()
	a := attachedNetns{ns: ns, path: "/run/netns/" + ns, hostIf: ifPrefix + "0", nsIf: ifPrefix + "1",
		net24: net24, hostIP: net24 + ".1", ip: net24 + ".2"}
	exec.Command("ip", "netns", "del", a.ns).Run() // an interrupted run's
	exec.Command("ip", "link", "del", a.hostIf).Run()
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", a.hostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", a.ns).CombinedOutput(); err != nil {
			t.Errorf("removing the netns %s: %v: %s", a.ns, err, out)
		}
	})
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", a.ns)
	run("link", "add", a.hostIf, "type", "veth", "peer", "name", a.nsIf, "netns", a.ns)
	run("addr", "add", a.hostIP+"/24", "dev", a.hostIf)
	run("link", "set", a.hostIf, "up")
	a.run(t, "addr", "add", a.ip+"/24", "dev", a.nsIf)
	a.run(t, "link", "set", a.nsIf, "up")
	a.run(t, "link", "set", "lo", "up")
	return a
}

// run runs ip in the namespace.
func (a attachedNetns) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", a.ns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", a.ns, strings.Join(args, " "), err, out)
	}
}
