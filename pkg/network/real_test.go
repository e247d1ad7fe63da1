//go:build hostnet

// These tests change the host's networking (bridges, iptables rules, network
// namespaces): `make e2e` runs them with -tags hostnet, `make test-unit` does not.

package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// testNetwork is a Manager on its own bridge, subnet and run root, so the test
// never shares addresses or state with a kplay running on the same machine.
type testNetwork struct {
	*Manager
	root, bridge, subnet string
}

func newTestNetwork(t testing.TB) *testNetwork {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, a bridge and iptables rules")
	}
	for _, tool := range []string{"iptables-save", "nsenter", "busybox", "ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	b := make([]byte, 3)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	root := "/run/kplay-test-" + suffix
	bridge := "kpt" + suffix
	subnet := unusedSubnet(t, int(b[0]))
	m, err := New(Config{PluginDirs: []string{"/opt/cni/bin", "/usr/lib/cni"}, Subnet: subnet, Dirs: podstate.Layout{RunRoot: root}.Network(), Bridge: bridge})
	if err != nil {
		t.Skipf("CNI plugins missing: %v", err)
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", bridge).Run()
		removeHostRules(m.rules)
		os.RemoveAll(root)
	})
	return &testNetwork{Manager: m, root: root, bridge: bridge, subnet: subnet}
}

func freePort(t testing.TB, network string) int32 {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return int32(c.LocalAddr().(*net.UDPAddr).Port)
	default:
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return int32(l.Addr().(*net.TCPAddr).Port)
	}
}

// serveHTTP runs busybox httpd on port 80 inside the namespace at nsPath.
func serveHTTP(t testing.TB, nsPath, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+nsPath, "busybox", "httpd", "-f", "-p", "80", "-h", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func get(url string) (string, error) {
	c := http.Client{Timeout: time.Second}
	var lastErr error
	for i := 0; i < 20; i++ { // httpd needs a moment to bind
		resp, err := c.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b), err
		}
		lastErr = err
		time.Sleep(25 * time.Millisecond)
	}
	return "", lastErr
}

func hostVeths(t testing.TB, bridge string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "master", bridge).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "does not exist") {
			return nil
		}
		t.Fatalf("ip link: %v: %s", err, out)
	}
	if strings.TrimSpace(string(out)) == "" {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

var countersRE = regexp.MustCompile(`\[\d+:\d+\]`)

// iptablesLines is iptables-save without counters.
func iptablesLines(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	s := bufio.NewScanner(strings.NewReader(string(out)))
	for s.Scan() {
		l := s.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, countersRE.ReplaceAllString(l, ""))
	}
	return lines
}

var chainRE = regexp.MustCompile(`CNI-[A-Za-z0-9-]+`)

// podRules are the iptables lines that name the pod's ID or IP, and the
// per-pod chains those lines refer to.
func podRules(lines []string, id, ip string) (rules []string, chains map[string]bool) {
	chains = map[string]bool{}
	for _, l := range lines {
		if strings.Contains(l, id) || strings.Contains(l, ip+"/") || strings.Contains(l, ip+":") {
			rules = append(rules, l)
			for _, c := range chainRE.FindAllString(l, -1) {
				chains[c] = true
			}
		}
	}
	// The shared chains every pod jumps through stay; only per-pod ones count.
	for c := range chains {
		if strings.HasPrefix(c, "CNI-HOSTPORT-") || c == "CNI-FORWARD" || c == "CNI-ADMIN" {
			delete(chains, c)
		}
	}
	return rules, chains
}

func mountsUnder(t testing.TB, root string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], root) {
			out = append(out, f[4])
		}
	}
	return out
}

// assertNoTrace fails if anything of the pod is left on the host.
func (n *testNetwork) assertNoTrace(t *testing.T, id, ip string, chains map[string]bool) {
	t.Helper()
	// The kernel frees a namespace, and the veth end in it, asynchronously
	// after its last reference goes; Teardown itself deletes the veth when the
	// namespace still exists.
	deadline := time.Now().Add(2 * time.Second)
	for v := hostVeths(t, n.bridge); len(v) > 0; v = hostVeths(t, n.bridge) {
		if time.Now().After(deadline) {
			t.Errorf("veths left on %s: %v", n.bridge, v)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := iptablesLines(t)
	left, _ := podRules(lines, id, ip)
	all := map[string]bool{masqChain(NetworkName, id): true, dnatChain(id): true}
	for c := range chains {
		all[c] = true
	}
	for _, l := range lines {
		for c := range all {
			if strings.Contains(l, c) {
				left = append(left, l)
			}
		}
	}
	if len(left) > 0 {
		t.Errorf("iptables lines left:\n%s", strings.Join(left, "\n"))
	}
	owners, err := n.reservations()
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) > 0 {
		t.Errorf("IP reservations left: %v", owners)
	}
	if _, err := os.Lstat(n.NetNSPath(id)); !os.IsNotExist(err) {
		t.Errorf("netns pin %s still there (%v)", n.NetNSPath(id), err)
	}
	if m := mountsUnder(t, n.root); len(m) > 0 {
		t.Errorf("mounts left under %s: %v", n.root, m)
	}
	if entries, _ := os.ReadDir(filepath.Join(n.cacheDir, "results")); len(entries) > 0 {
		t.Errorf("CNI cache entries left: %v", entries)
	}
}

func TestSetupTeardownReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	hostPort := freePort(t, "tcp")
	localPort := freePort(t, "tcp")
	udpPort := freePort(t, "udp")
	pod := Pod{ID: "kplay-test-web-" + filepath.Base(n.root), Namespace: "default", Name: "web", Ports: []hostport.Port{
		{Container: "web", HostPort: hostPort, ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{Container: "web", HostIP: "127.0.0.1", HostPort: localPort, ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{Container: "dns", HostPort: udpPort, ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
	}}

	start := time.Now()
	att, err := n.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("setup took %v, pod IP %s", time.Since(start), att.IP)
	if att.NetNSPath != n.NetNSPath(pod.ID) || !isNetNS(att.NetNSPath) {
		t.Fatalf("netns %q is not a pinned namespace at %q", att.NetNSPath, n.NetNSPath(pod.ID))
	}
	rules, chains := podRules(iptablesLines(t), pod.ID, att.IP)
	if len(rules) == 0 || len(chains) == 0 {
		t.Fatalf("no iptables rules for the pod after setup: %v %v", rules, chains)
	}
	// The leak checks look for this by name, so the name must be right.
	if !chains[dnatChain(pod.ID)] {
		t.Fatalf("portmap's chain %s not among %v", dnatChain(pod.ID), chains)
	}
	// The subnet's shared rule masquerades: no chain of the pod's own.
	if chains[masqChain(NetworkName, pod.ID)] || len(chains) != 1 {
		t.Errorf("per-pod chains %v, want only portmap's %s", chains, dnatChain(pod.ID))
	}
	if !n.rules.present() {
		t.Errorf("the subnet's shared rules are not in place after setup")
	}

	serveHTTP(t, att.NetNSPath, "hello from the pod")
	for _, url := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/", hostPort),
		fmt.Sprintf("http://127.0.0.1:%d/", localPort),
		fmt.Sprintf("http://%s/", att.IP),
	} {
		body, err := get(url)
		if err != nil || body != "hello from the pod" {
			t.Errorf("GET %s = %q, %v", url, body, err)
		}
	}
	echoUDP(t, att.NetNSPath, 5353)
	if reply, err := askUDP(fmt.Sprintf("127.0.0.1:%d", udpPort), "ping"); err != nil || reply != "ping" {
		t.Errorf("UDP hostPort %d: reply %q, %v", udpPort, reply, err)
	}
	if hostIP := hostAddress(t); hostIP != "" {
		if body, err := get(fmt.Sprintf("http://%s:%d/", hostIP, hostPort)); err != nil || body != "hello from the pod" {
			t.Errorf("hostPort on the host address %s: %q, %v", hostIP, body, err)
		}
		c := http.Client{Timeout: 300 * time.Millisecond}
		if resp, err := c.Get(fmt.Sprintf("http://%s:%d/", hostIP, localPort)); err == nil {
			resp.Body.Close()
			t.Errorf("hostIP 127.0.0.1 port %d answered on %s", localPort, hostIP)
		}
	}

	start = time.Now()
	if err := n.Teardown(ctx, pod); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown took %v", time.Since(start))
	n.assertNoTrace(t, pod.ID, att.IP, chains)
	if err := n.Teardown(ctx, pod); err != nil {
		t.Errorf("second teardown: %v", err)
	}
}

// hostAddress is the host's own non-loopback IPv4 address, "" if it has none.
func hostAddress(t testing.TB) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !strings.HasPrefix(n.IP.String(), "10.213.") {
			return n.IP.String()
		}
	}
	return ""
}

// A pod whose namespace is gone (lost mount, reboot, someone removed it) still
// gets its address and iptables rules released.
func TestTeardownWithoutNetNSReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	pod := Pod{ID: "kplay-test-gone-" + filepath.Base(n.root), Namespace: "default", Name: "gone", Ports: []hostport.Port{
		{HostPort: freePort(t, "tcp"), ContainerPort: 80, Protocol: corev1.ProtocolTCP},
	}}
	att, err := n.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	_, chains := podRules(iptablesLines(t), pod.ID, att.IP)
	if err := removeNetNS(att.NetNSPath); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx, Pod{ID: pod.ID}); err != nil {
		t.Fatal(err)
	}
	n.assertNoTrace(t, pod.ID, att.IP, chains)
}

// A pod of kplay up to 0f21c7f whose masquerade chain someone already removed (a
// firewall reload) still tears down completely: the bridge plugin's DEL fails on
// the missing chain.
func TestTeardownAfterMasqueradeChainRemovedReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	pod := Pod{ID: "kplay-test-nomasq-" + filepath.Base(n.root), Namespace: "default", Name: "nomasq"}
	att := n.setupLegacy(t, pod)
	_, chains := podRules(iptablesLines(t), pod.ID, att.IP)
	if !chains[masqChain(NetworkName, pod.ID)] {
		t.Fatalf("the legacy pod has no masquerade chain %s: %v", masqChain(NetworkName, pod.ID), chains)
	}
	if err := removeMasquerade(NetworkName, pod.ID); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx, pod); err != nil {
		t.Fatalf("Teardown after the masquerade chain was removed: %v", err)
	}
	n.assertNoTrace(t, pod.ID, att.IP, chains)
}

// A kplay killed during CNI ADD leaves the plugins' rules but no cached result;
// teardown still removes every rule of the pod.
func TestTeardownWithoutCachedResultReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	pod := Pod{ID: "kplay-test-nocache-" + filepath.Base(n.root), Namespace: "default", Name: "nocache", Ports: []hostport.Port{
		{HostPort: freePort(t, "tcp"), ContainerPort: 80, Protocol: corev1.ProtocolTCP},
	}}
	att, err := n.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	_, chains := podRules(iptablesLines(t), pod.ID, att.IP)
	// A kill during the pod network's ADD leaves no result cached.
	if err := os.Remove(filepath.Join(n.cacheDir, "results", NetworkName+"-"+pod.ID+"-"+podIfName)); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx, Pod{ID: pod.ID}); err != nil {
		t.Fatal(err)
	}
	n.assertNoTrace(t, pod.ID, att.IP, chains)
}

// Reclaim tears down what a killed kplay left: pods that are not alive lose
// their network, alive ones keep it.
func TestReclaimReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	suffix := filepath.Base(n.root)
	dead := Pod{ID: "kplay-test-dead-" + suffix, Ports: []hostport.Port{{HostPort: freePort(t, "tcp"), ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}
	live := Pod{ID: "kplay-test-live-" + suffix}
	deadAtt, err := n.Setup(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	_, chains := podRules(iptablesLines(t), dead.ID, deadAtt.IP)
	liveAtt, err := n.Setup(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	// A stale pin without any network state, as after a reboot with /run on disk.
	stale := n.NetNSPath("kplay-test-stale-" + suffix)
	if err := os.WriteFile(stale, nil, 0o444); err != nil {
		t.Fatal(err)
	}

	if err := n.Reclaim(ctx, func(id string) bool { return id == live.ID }); err != nil {
		t.Fatal(err)
	}
	if !isNetNS(liveAtt.NetNSPath) {
		t.Errorf("the live pod lost its namespace")
	}
	if owners, _ := n.reservations(); len(owners) != 1 || len(owners[live.ID]) != 1 {
		t.Errorf("reservations after reclaim = %v, want only %s", owners, live.ID)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("stale pin %s not removed", stale)
	}
	if err := n.Teardown(ctx, live); err != nil {
		t.Fatal(err)
	}
	n.assertNoTrace(t, dead.ID, deadAtt.IP, chains)
}

// A CNI ADD that fails half-way (here portmap, after bridge made the veth, took
// an address and added NAT rules) is undone before Setup returns.
func TestSetupFailureLeavesNothingReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	pod := Pod{ID: "kplay-test-bad-" + filepath.Base(n.root), Ports: []hostport.Port{
		{HostPort: freePort(t, "tcp"), ContainerPort: 80, Protocol: "bogus"},
	}}
	if _, err := n.Setup(ctx, pod); err == nil {
		t.Fatal("setup with a bogus protocol succeeded")
	} else {
		t.Logf("setup failed as expected: %v", err)
	}
	n.assertNoTrace(t, pod.ID, "10.213.255.255", nil)
	if v := hostVeths(t, n.bridge); len(v) > 0 {
		t.Errorf("veths left: %v", v)
	}
}

// setupLegacy attaches the pod as kplay up to 0f21c7f did: to the loopback
// network, then to a chain of bridge with ipMasq, portmap and firewall.
func (n *testNetwork) setupLegacy(t *testing.T, pod Pod) Attachment {
	t.Helper()
	path := n.NetNSPath(pod.ID)
	if err := os.MkdirAll(n.netnsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := createNetNS(path); err != nil {
		t.Fatal(err)
	}
	lo, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"kplay-loopback","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	old, err := libcni.ConfListFromBytes([]byte(fmt.Sprintf(`{"cniVersion":"1.0.0","name":"kplay","plugins":[`+
		`{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":true,"hairpinMode":true,`+
		`"ipam":{"type":"host-local","dataDir":%q,"ranges":[[{"subnet":%q}]],"routes":[{"dst":"0.0.0.0/0"}]}},`+
		`{"type":"portmap","capabilities":{"portMappings":true}},{"type":"firewall"}]}`, n.bridge, n.ipamDir, n.subnet)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := n.cni.AddNetworkList(ctx, lo, n.runtimeConf(pod, path, "lo")); err != nil {
		t.Fatal(err)
	}
	r, err := n.cni.AddNetworkList(ctx, old, n.runtimeConf(pod, path, podIfName))
	if err != nil {
		t.Fatal(err)
	}
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		t.Fatal(err)
	}
	return Attachment{NetNSPath: path, IP: podIP(res)}
}

// A pod that kplay up to 0f21c7f set up (loopback network, bridge with ipMasq,
// portmap, firewall) is torn down with its own chain: no rule of it is left, and
// the firewall plugin's per-pod rules go too.
func TestTeardownLegacyPodReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	port := freePort(t, "tcp")
	pod := Pod{ID: "kplay-test-legacy-" + filepath.Base(n.root), Namespace: "default", Name: "legacy",
		Ports: []hostport.Port{{HostPort: port, ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}
	att := n.setupLegacy(t, pod)
	rules, chains := podRules(iptablesLines(t), pod.ID, att.IP)
	if !chains[masqChain(NetworkName, pod.ID)] || !chains[dnatChain(pod.ID)] {
		t.Fatalf("the legacy pod's chains %v lack %s or %s", chains, masqChain(NetworkName, pod.ID), dnatChain(pod.ID))
	}
	if !slices.ContainsFunc(rules, func(r string) bool { return strings.HasPrefix(r, "-A CNI-FORWARD") }) {
		t.Fatalf("no firewall plugin rule for the legacy pod among %v", rules)
	}
	serveHTTP(t, att.NetNSPath, "legacy")
	if body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || body != "legacy" {
		t.Fatalf("the legacy pod's hostPort: %q, %v", body, err)
	}
	// Without its ports: down knows them from the pod's labels, reclaim does not.
	if err := n.Teardown(ctx, Pod{ID: pod.ID}); err != nil {
		t.Fatal(err)
	}
	n.assertNoTrace(t, pod.ID, att.IP, chains)
}

// The pod's namespace comes with lo up, which no plugin sets any more.
func TestLoopbackUpReal(t *testing.T) {
	n := newTestNetwork(t)
	pod := Pod{ID: "kplay-test-lo-" + filepath.Base(n.root)}
	att, err := n.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Teardown(context.Background(), pod)
	out, err := exec.Command("nsenter", "--net="+att.NetNSPath, "ip", "-o", "addr", "show", "dev", "lo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "inet 127.0.0.1/8") {
		t.Errorf("lo in the pod: %s, %v", out, err)
	}
	serveHTTP(t, att.NetNSPath, "on lo")
	out, err = exec.Command("nsenter", "--net="+att.NetNSPath, "curl", "-sS", "-m", "2", "--retry", "20", "--retry-connrefused", "--retry-delay", "0", "http://127.0.0.1/").CombinedOutput()
	if err != nil || string(out) != "on lo" {
		t.Errorf("from the pod, 127.0.0.1:80: %q, %v", out, err)
	}
}

// The subnet's shared rules are installed by the first Setup, recognised without
// iptables afterwards, and repaired when someone removed a jump to them.
func TestHostRulesReal(t *testing.T) {
	n := newTestNetwork(t)
	if n.rules.present() {
		t.Fatalf("rules of a new test network %s present before any setup", n.rules.forward)
	}
	if err := n.ensureHostRules(); err != nil {
		t.Fatal(err)
	}
	if !n.rules.present() {
		t.Fatal("rules not present after ensureHostRules")
	}
	var ours []string
	for _, l := range iptablesLines(t) {
		if strings.Contains(l, n.rules.forward) || strings.Contains(l, n.rules.masq) {
			ours = append(ours, l)
		}
	}
	if len(ours) != 9 { // 2 chains, 5 rules in them, 2 jumps
		t.Errorf("shared rules:\n%s", strings.Join(ours, "\n"))
	}
	if err := iptables("-D", "FORWARD", "-j", n.rules.forward); err != nil {
		t.Fatal(err)
	}
	if n.rules.present() {
		t.Fatal("present() with FORWARD's jump removed")
	}
	// A second install (another kplay) neither fails nor duplicates anything.
	for i := 0; i < 2; i++ {
		if err := n.rules.install(); err != nil {
			t.Fatal(err)
		}
	}
	var again []string
	for _, l := range iptablesLines(t) {
		if strings.Contains(l, n.rules.forward) || strings.Contains(l, n.rules.masq) {
			again = append(again, l)
		}
	}
	if strings.Join(again, "\n") != strings.Join(ours, "\n") {
		t.Errorf("after reinstalling:\n%s\nwant\n%s", strings.Join(again, "\n"), strings.Join(ours, "\n"))
	}
}

// A machine that ran kplay before hostRulesVersion 2 has chains that accept the
// subnet from any interface, and FORWARD still jumps to them: checking the
// rules must see the old jump, installing them must remove it and the old
// chains, and leave another network's chains alone.
func TestHostRulesRemovesStaleChainsReal(t *testing.T) {
	n := newTestNetwork(t)
	h := n.rules
	s := h.subnet.String()
	// Another network, on a subnet inside the test's: its chain and jump stay.
	otherNet := netip.PrefixFrom(h.subnet.Addr().Next(), 32).Masked()
	other := "KPLAY-FWD-" + fmt.Sprintf("%x", sha256.Sum256([]byte("other "+otherNet.String())))[:8]
	v1 := fmt.Sprintf("%x", sha256.Sum256([]byte("1 "+n.bridge+" "+s)))[:8]
	staleFwd, staleMasq := "KPLAY-FWD-"+v1, "KPLAY-MASQ-"+v1
	noComment := "KPLAY-FWD-" + fmt.Sprintf("%x", sha256.Sum256([]byte("0 "+s)))[:8]
	t.Cleanup(func() {
		for _, c := range []struct {
			table, chain string
			jump         []string
		}{
			{"filter", staleFwd, []string{"FORWARD"}}, {"filter", noComment, []string{"FORWARD"}},
			{"filter", other, []string{"FORWARD"}}, {"nat", staleMasq, []string{"POSTROUTING", "-s", s}},
		} {
			del := append(append([]string{"--wait", "-t", c.table, "-D"}, c.jump...), "-j", c.chain)
			for exec.Command("iptables", del...).Run() == nil {
			}
			exec.Command("iptables", "--wait", "-t", c.table, "-F", c.chain).Run()
			exec.Command("iptables", "--wait", "-t", c.table, "-X", c.chain).Run()
		}
	})
	run := func(args ...string) {
		t.Helper()
		if err := iptables(args...); err != nil {
			t.Fatal(err)
		}
	}
	comment := []string{"-m", "comment", "--comment", "kplay pods of " + s}
	run("-N", other)
	run("-A", other, "-s", otherNet.String(), "-m", "comment", "--comment", "kplay pods of "+otherNet.String(), "-j", "RETURN")
	run("-A", "FORWARD", "-j", other)
	if err := h.install(); err != nil {
		t.Fatal(err)
	}
	if !h.present() {
		t.Fatal("rules not present after install, with another network's chain jumped to")
	}

	// Version 1's chains, as it made them: commented, the forward rule unscoped.
	run("-N", staleFwd)
	run(append([]string{"-A", staleFwd, "-s", s}, append(comment, "-j", "ACCEPT")...)...)
	run("-I", "FORWARD", "-j", staleFwd)
	run("-t", "nat", "-N", staleMasq)
	run(append([]string{"-t", "nat", "-A", staleMasq}, append(comment, "-j", "MASQUERADE")...)...)
	run("-t", "nat", "-A", "POSTROUTING", "-s", s, "-j", staleMasq)
	if h.present() {
		t.Fatalf("present() with FORWARD jumping to %s, an older version's chain of %s", staleFwd, s)
	}
	if err := h.install(); err != nil {
		t.Fatal(err)
	}
	// A chain of the subnet without the comment: present() knows it by its match.
	run("-N", noComment)
	run("-A", noComment, "-s", s, "-j", "ACCEPT")
	run("-I", "FORWARD", "-j", noComment)
	if h.present() {
		t.Fatalf("present() with FORWARD jumping to %s, whose rule matches -s %s", noComment, s)
	}
	if err := h.install(); err != nil {
		t.Fatal(err)
	}
	if !h.present() {
		t.Fatal("rules not present after install removed the stale chains")
	}

	lines := iptablesLines(t)
	for _, stale := range []string{staleFwd, staleMasq, noComment} {
		for _, l := range lines {
			if strings.Contains(l, stale) {
				t.Errorf("stale chain %s left: %q", stale, l)
			}
		}
	}
	for _, want := range []string{"-A FORWARD -j " + other, "-A " + other + " -s " + otherNet.String()} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("another network's rule %q removed", want)
		}
	}
	for _, want := range []string{"-A FORWARD -j " + h.forward, "-A POSTROUTING -s " + s + " -j " + h.masq} {
		if !slices.Contains(lines, want) {
			t.Errorf("current jump %q missing", want)
		}
	}
}

// removeHostRules removes a test network's shared rules; kplay never does.
func removeHostRules(h hostRules) {
	for _, j := range h.jumps() {
		for exec.Command("iptables", append([]string{"--wait", "-t", j[0], "-D", j[1]}, j[2:]...)...).Run() == nil {
		}
	}
	for _, c := range []struct{ table, chain string }{{"filter", h.forward}, {"nat", h.masq}} {
		exec.Command("iptables", "--wait", "-t", c.table, "-F", c.chain).Run()
		exec.Command("iptables", "--wait", "-t", c.table, "-X", c.chain).Run()
	}
}

// dnatChain is portmap's per-container chain, named like the bridge plugin's
// with a "DN-" prefix.
func dnatChain(id string) string {
	return fmt.Sprintf("CNI-DN-%x", sha512.Sum512([]byte(NetworkName+id)))[:28]
}

// Pods set up and torn down concurrently (a Deployment's replicas) on a bridge
// that does not exist yet each get their own address and leave nothing behind:
// the first creates the bridge alone, pods with hostPorts (portmap) run alone,
// the others side by side. Each Manager stands for a kplay process.
func TestConcurrentPodsReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	const pods = 8
	ips := make([]string, pods)
	errs := make(chan error, pods)
	for i := 0; i < pods; i++ {
		go func() {
			m := n.Manager
			if i%2 == 1 {
				var err error
				if m, err = New(Config{PluginDirs: []string{"/opt/cni/bin", "/usr/lib/cni"}, Subnet: n.subnet,
					Dirs: podstate.Layout{RunRoot: n.root}.Network(), Bridge: n.bridge}); err != nil {
					errs <- err
					return
				}
			}
			pod := Pod{ID: fmt.Sprintf("kplay-test-r%d-%s", i, filepath.Base(n.root))}
			if i%4 == 0 {
				pod.Ports = []hostport.Port{{HostPort: 40000 + int32(i), ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
			}
			att, err := m.Setup(ctx, pod)
			ips[i] = att.IP
			errs <- err
		}()
	}
	for i := 0; i < pods; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	seen := map[string]bool{}
	for _, ip := range ips {
		if ip == "" || seen[ip] {
			t.Errorf("pod IPs %v are not distinct", ips)
		}
		seen[ip] = true
	}
	for i := 0; i < pods; i++ {
		go func() {
			errs <- n.Teardown(ctx, Pod{ID: fmt.Sprintf("kplay-test-r%d-%s", i, filepath.Base(n.root))})
		}()
	}
	for i := 0; i < pods; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < pods; i++ {
		n.assertNoTrace(t, fmt.Sprintf("kplay-test-r%d-%s", i, filepath.Base(n.root)), ips[i], nil)
	}
}

// BenchmarkSetupTeardown measures one pod's network, with a hostPort, from
// nothing to running and back.
func BenchmarkSetupTeardown(b *testing.B) {
	n := newTestNetwork(b)
	ctx := context.Background()
	pod := Pod{ID: "kplay-bench-" + filepath.Base(n.root), Namespace: "default", Name: "bench",
		Ports: []hostport.Port{{HostPort: freePort(b, "tcp"), ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}
	var setup, teardown time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := n.Setup(ctx, pod); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := n.Teardown(ctx, pod); err != nil {
			b.Fatal(err)
		}
		setup += mid.Sub(start)
		teardown += time.Since(mid)
	}
	b.ReportMetric(float64(setup.Milliseconds())/float64(b.N), "setup-ms/op")
	b.ReportMetric(float64(teardown.Milliseconds())/float64(b.N), "teardown-ms/op")
}

// unusedSubnet picks a /24 in 10.213.192.0/20 (outside kplay's default
// 10.213.0.0/22) that no route on the host uses yet, so a test running
// beside another never shares a subnet on two bridges.
func unusedSubnet(t testing.TB, seed int) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatalf("ip route: %v", err)
	}
	for i := 0; i < 16; i++ {
		prefix := fmt.Sprintf("10.213.%d.", 192+(seed+i)%16)
		if !strings.Contains(string(out), prefix) {
			return prefix + "0/24"
		}
	}
	t.Skip("no free test subnet in 10.213.192.0/20")
	return ""
}

// echoUDP answers UDP datagrams on port inside the namespace at nsPath. The
// socket is made on a thread switched into that namespace, and stays there.
func echoUDP(t testing.TB, nsPath string, port int) {
	t.Helper()
	pc, err := func() (net.PacketConn, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			return nil, err
		}
		defer orig.Close()
		ns, err := os.Open(nsPath)
		if err != nil {
			return nil, err
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			return nil, err
		}
		defer func() {
			if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
				panic(err) // a thread stuck in the pod's namespace would poison the test binary
			}
		}()
		return net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
	}()
	if err != nil {
		t.Fatalf("UDP listener in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

func askUDP(addr, msg string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 512)
	for i := 0; i < 5; i++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("no reply from %s", addr)
}

// A pin left as a plain file (after a reboot with /run on disk) does not stop
// the pod from getting a fresh namespace.
func TestSetupOverStalePinReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	pod := Pod{ID: "kplay-test-stale-" + filepath.Base(n.root)}
	if err := os.MkdirAll(n.netnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.NetNSPath(pod.ID), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	att, err := n.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if !isNetNS(att.NetNSPath) {
		t.Errorf("%s is not a namespace after setup", att.NetNSPath)
	}
	if err := n.Teardown(ctx, pod); err != nil {
		t.Fatal(err)
	}
	n.assertNoTrace(t, pod.ID, att.IP, nil)
}

// A hostPort published by one kplay pod is refused to another, naming the
// first pod; the pod itself, other ports and other protocols are fine.
func TestCheckPodPortsReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	port := freePort(t, "tcp")
	first := Pod{ID: "kplay-test-first-" + filepath.Base(n.root), Namespace: "default", Name: "apache",
		Ports: []hostport.Port{{HostPort: port, ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}
	if _, err := n.Setup(ctx, first); err != nil {
		t.Fatal(err)
	}
	defer n.Teardown(ctx, first)

	second := func(p hostport.Port) Pod {
		return Pod{ID: "kplay-test-second-" + filepath.Base(n.root), Namespace: "default", Name: "second", Ports: []hostport.Port{p}}
	}
	tests := []struct {
		name string
		pod  Pod
		want string // "" for no error
	}{
		{"same port", second(hostport.Port{HostPort: port, ContainerPort: 8080, Protocol: corev1.ProtocolTCP}),
			fmt.Sprintf("host port %d/TCP is already used by pod default/apache", port)},
		{"same port on one address", second(hostport.Port{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 8080, Protocol: corev1.ProtocolTCP}),
			fmt.Sprintf("host port 127.0.0.1:%d/TCP is already used by pod default/apache", port)},
		{"same port on 0.0.0.0", second(hostport.Port{HostIP: "0.0.0.0", HostPort: port, ContainerPort: 8080, Protocol: corev1.ProtocolTCP}),
			fmt.Sprintf("host port 0.0.0.0:%d/TCP is already used by pod default/apache, which holds %d/TCP", port, port)},
		{"same port over UDP", second(hostport.Port{HostPort: port, ContainerPort: 53, Protocol: corev1.ProtocolUDP}), ""},
		{"other port", second(hostport.Port{HostPort: freePort(t, "tcp"), ContainerPort: 80, Protocol: corev1.ProtocolTCP}), ""},
		{"the pod itself", first, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.CheckPodPorts(tt.pod, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errdefs.IsAlreadyExists(err)):
				t.Errorf("err = %v, want %q wrapping ErrAlreadyExists", err, tt.want)
			}
		})
	}
}

// Pods reach each other by IP, and a pod reaches another pod's hostPort on
// the host's address.
func TestPodToPodReal(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	suffix := filepath.Base(n.root)
	port := freePort(t, "tcp")
	server := Pod{ID: "kplay-test-server-" + suffix, Ports: []hostport.Port{{HostPort: port, ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}
	client := Pod{ID: "kplay-test-client-" + suffix}
	srv, err := n.Setup(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Teardown(ctx, server)
	cli, err := n.Setup(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Teardown(ctx, client)
	serveHTTP(t, srv.NetNSPath, "served to a pod")
	if _, err := get(fmt.Sprintf("http://%s/", srv.IP)); err != nil { // wait for httpd
		t.Fatal(err)
	}

	urls := []string{fmt.Sprintf("http://%s/", srv.IP)}
	if hostIP := hostAddress(t); hostIP != "" {
		urls = append(urls, fmt.Sprintf("http://%s:%d/", hostIP, port))
	}
	for _, url := range urls {
		out, err := exec.Command("nsenter", "--net="+cli.NetNSPath, "curl", "-sS", "-m", "2", url).CombinedOutput()
		if err != nil || string(out) != "served to a pod" {
			t.Errorf("from the client pod, wget %s: %q, %v", url, out, err)
		}
	}
}
