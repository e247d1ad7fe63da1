// Package network gives pods their network: a pinned network namespace per pod
// with lo up, kplay's own CNI network (bridge and host-local, and portmap for a
// pod with hostPorts) on it, the subnet's shared masquerade and forward rules,
// hostPort checks, and the /etc/hosts and /etc/resolv.conf a pod sees.
package network

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/gofrs/flock"

	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// Config says where the plugins are and where network state lives.
type Config struct {
	PluginDirs []string // --cni-path; default /opt/cni/bin, then /usr/lib/cni
	Subnet     string   // --subnet; default DefaultSubnet
	// Dirs are where the network keeps its state (podstate.Layout.Network; default
	// under /run/kplay): pinned network namespaces, host-local's reservations (one file
	// per IP holding "<pod id>\r\neth0"), libcni's cache of each ADD (read back on
	// DEL) instead of /var/lib/cni, and the lock around CNI ADD and DEL.
	Dirs podstate.NetworkDirs
	// Bridge is the host bridge name; default DefaultBridge. Tests use their own
	// so they never share addresses with a running kplay.
	Bridge string
}

// Pod is what the network needs to know about a pod.
type Pod struct {
	// ID is the CNI container ID and names the netns pin: unique per pod and
	// made of [A-Za-z0-9_.-].
	ID              string
	Namespace, Name string
	Ports           []hostport.Port
}

// Attachment is a pod's place on the network.
type Attachment struct {
	NetNSPath string
	IP        string
}

// Manager runs kplay's CNI network. It is safe for concurrent use, and
// several kplay processes may use the same RunRoot at once.
type Manager struct {
	netnsDir string
	ipamDir  string // host-local's dataDir; reservations are in ipamDir/kplay/<ip>
	cacheDir string // libcni's cache of ADD results and arguments, read back on DEL
	lockPath string
	bridge   string
	gateway  netip.Addr // the bridge's address, host-local's default gateway

	cni *libcni.CNIConfig
	// podNet is the chain of a pod without hostPorts, podNetPorts that of one with.
	podNet, podNetPorts *libcni.NetworkConfigList
	rules               hostRules

	rulesMu     sync.Mutex
	rulesOK     bool        // this process saw (or made) the shared rules
	bridgeReady atomic.Bool // this process saw the bridge with its address
}

// New checks that every plugin is present and prepares the network
// configuration. It changes nothing on the host.
func New(cfg Config) (*Manager, error) {
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}
	}
	if cfg.Subnet == "" {
		cfg.Subnet = DefaultSubnet
	}
	if cfg.Dirs == (podstate.NetworkDirs{}) {
		cfg.Dirs = podstate.Layout{RunRoot: "/run/kplay"}.Network()
	}
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	subnet, err := parseSubnet(cfg.Subnet)
	if err != nil {
		return nil, err
	}
	for _, p := range pluginTypes {
		if _, err := invoke.FindInPath(p, cfg.PluginDirs); err != nil {
			return nil, fmt.Errorf("CNI plugin %q not found in %s (install the CNI plugins or point --cni-path at them)",
				p, strings.Join(cfg.PluginDirs, ", "))
		}
	}

	m := &Manager{
		netnsDir: cfg.Dirs.NetNS,
		ipamDir:  cfg.Dirs.IPAM,
		cacheDir: cfg.Dirs.Cache,
		lockPath: cfg.Dirs.Lock,
		bridge:   cfg.Bridge,
		gateway:  subnet.Addr().Next(),
		rules:    newHostRules(cfg.Bridge, subnet),
	}
	m.cni = libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, m.cacheDir, &pluginExec{})
	if m.podNet, err = libcni.ConfListFromBytes(podConfList(cfg.Bridge, subnet, m.ipamDir, false)); err != nil {
		return nil, fmt.Errorf("kplay's CNI network configuration: %w", err)
	}
	if m.podNetPorts, err = libcni.ConfListFromBytes(podConfList(cfg.Bridge, subnet, m.ipamDir, true)); err != nil {
		return nil, fmt.Errorf("kplay's CNI network configuration: %w", err)
	}
	return m, nil
}

// NetNSPath is where the pod's network namespace is pinned.
func (m *Manager) NetNSPath(id string) string { return filepath.Join(m.netnsDir, id) }

// Setup creates the pod's network namespace and attaches it to the network. On
// failure nothing of the pod's network is left behind.
func (m *Manager) Setup(ctx context.Context, pod Pod) (Attachment, error) {
	if err := m.CreateNetNS(ctx, pod); err != nil {
		return Attachment{}, err
	}
	return m.Attach(ctx, pod)
}

// CreateNetNS creates the pod's network namespace, with lo up, and makes sure the
// network's shared rules exist. A process may start in the namespace at once, while
// Attach gives it its interface.
func (m *Manager) CreateNetNS(ctx context.Context, pod Pod) error {
	path := m.NetNSPath(pod.ID)
	if _, err := os.Lstat(path); err == nil {
		// A pod of this ID was set up and never torn down: start clean.
		if err := m.Teardown(ctx, pod); err != nil {
			return fmt.Errorf("removing the pod's leftover network: %w", err)
		}
	}
	if err := m.ensureHostRules(); err != nil {
		return fmt.Errorf("setting up the pod network's shared rules: %w", err)
	}
	if err := os.MkdirAll(m.netnsDir, 0o700); err != nil {
		return err
	}
	return createNetNS(path)
}

// Attach runs the CNI plugins on the namespace CreateNetNS made. On failure
// nothing of the pod's network is left behind, the namespace included.
func (m *Manager) Attach(ctx context.Context, pod Pod) (Attachment, error) {
	path := m.NetNSPath(pod.ID)
	// The bridge and host-local plugins are safe side by side once the bridge
	// exists (host-local locks its own directory); portmap creates and edits
	// shared iptables chains, and the first pod creates the bridge.
	list, exclusive := m.podNet, !m.bridgeUp()
	if len(pod.Ports) > 0 {
		list, exclusive = m.podNetPorts, true
	}
	var result *types100.Result
	err := m.locked(exclusive, func() error {
		r, err := m.cni.AddNetworkList(ctx, list, m.runtimeConf(pod, path, podIfName))
		if err != nil {
			return err
		}
		result, err = types100.NewResultFromResult(r)
		return err
	})
	var ip string
	if err == nil {
		if ip = podIP(result); ip == "" {
			err = errors.New("the bridge plugin returned no IPv4 address")
		}
	}
	if err != nil {
		if uerr := m.Teardown(ctx, pod); uerr != nil {
			return Attachment{}, fmt.Errorf("setting up pod network: %w (undoing it failed too: %v)", err, uerr)
		}
		return Attachment{}, fmt.Errorf("setting up pod network: %w", err)
	}
	return Attachment{NetNSPath: path, IP: ip}, nil
}

// ensureHostRules makes sure the subnet's shared rules exist, once per process:
// a netlink read when they do, iptables under the exclusive lock when not.
func (m *Manager) ensureHostRules() error {
	m.rulesMu.Lock()
	defer m.rulesMu.Unlock()
	if m.rulesOK || m.rules.present() {
		m.rulesOK = true
		return nil
	}
	err := m.locked(true, func() error {
		if m.rules.present() { // another kplay made them while we waited
			return nil
		}
		return m.rules.install()
	})
	m.rulesOK = err == nil
	return err
}

// bridgeUp reports whether the bridge exists with its address, which the first
// pod's bridge plugin sets up: until then pods are set up one at a time.
func (m *Manager) bridgeUp() bool {
	if m.bridgeReady.Load() {
		return true
	}
	ifc, err := net.InterfaceByName(m.bridge)
	if err != nil {
		return false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.IP(m.gateway.AsSlice())) {
			m.bridgeReady.Store(true)
			return true
		}
	}
	return false
}

func podIP(r *types100.Result) string {
	for _, c := range r.IPs {
		if c.Address.IP.To4() != nil {
			return c.Address.IP.String()
		}
	}
	return ""
}

// cachedAttachment is a network a pod was attached to, with the chain and
// arguments libcni cached at its ADD: DEL runs the chain the pod was made with,
// which for a pod of an older kplay is not today's, and portmap removes its
// rules only when it is told the port mappings again.
type cachedAttachment struct {
	list *libcni.NetworkConfigList
	rt   *libcni.RuntimeConf
}

// cachedAttachments reads the pod's cached attachments: kplay's network, and
// for a pod of kplay up to 0f21c7f its loopback network, in the reverse order of
// their ADDs. An unreadable cache entry counts as none.
func (m *Manager) cachedAttachments(pod Pod, nsPath string) []cachedAttachment {
	var out []cachedAttachment
	for _, n := range []struct{ name, ifName string }{{NetworkName, podIfName}, {loopbackNetworkName, "lo"}} {
		rt := m.runtimeConf(Pod{ID: pod.ID, Namespace: pod.Namespace, Name: pod.Name}, nsPath, n.ifName)
		conf, cachedRT, err := m.cni.GetNetworkListCachedConfig(&libcni.NetworkConfigList{Name: n.name}, rt)
		if err != nil || conf == nil {
			continue
		}
		list, err := libcni.ConfListFromBytes(conf)
		if err != nil {
			continue
		}
		out = append(out, cachedAttachment{list: list, rt: cachedRT})
	}
	return out
}

// pluginConf is what Teardown needs to know of a cached plugin configuration.
type pluginConf struct {
	Type   string `json:"type"`
	IPMasq bool   `json:"ipMasq"`
}

func plugins(list *libcni.NetworkConfigList) []pluginConf {
	var out []pluginConf
	for _, p := range list.Plugins {
		var c pluginConf
		json.Unmarshal(p.Bytes, &c)
		out = append(out, c)
	}
	return out
}

// Teardown detaches the pod from the network and removes its namespace pin. It
// releases the pod's address and iptables rules even when the namespace is
// already gone, and does nothing for a pod that has no network.
func (m *Manager) Teardown(ctx context.Context, pod Pod) error {
	path := m.NetNSPath(pod.ID)
	nsPath := path
	if !isNetNS(path) {
		// Plugins refuse a path that is not a namespace; with none they still
		// release the address and the host's iptables rules.
		nsPath = ""
		if !m.hasState(pod.ID) {
			return removeNetNS(path)
		}
	}
	// A DEL cut short leaks rules and addresses: finish it even if the caller gives up.
	ctx = context.WithoutCancel(ctx)

	atts := m.cachedAttachments(pod, nsPath)
	podNetCached, exclusive, masq := false, false, false
	for _, a := range atts {
		podNetCached = podNetCached || a.list.Name == NetworkName
		for _, p := range plugins(a.list) {
			// Only bridge without ipMasq and host-local are safe side by side.
			exclusive = exclusive || p.Type != "bridge" || p.IPMasq
			masq = masq || p.Type == "bridge" && p.IPMasq
		}
	}
	// Without a cached ADD (kplay was killed during the ADD) DEL cannot tell the
	// plugins the pod's address or ports; if host-local reserved one, plugins
	// after it may have added rules, which kplay finds by the pod's ID and address.
	var leftoverIPs []string
	if !podNetCached {
		owners, _ := m.reservations()
		leftoverIPs = owners[pod.ID]
	}
	leftover := len(leftoverIPs) > 0
	err := m.locked(exclusive || leftover, func() error {
		var errs []error
		if !podNetCached {
			// What the bridge plugin made: the veth, the address. portmap runs
			// after host-local reserved an address, so without one it made
			// nothing, and its DEL (iptables) would run under the shared lock.
			list := m.podNet
			if leftover && len(pod.Ports) > 0 {
				list = m.podNetPorts
			}
			errs = append(errs, m.cni.DelNetworkList(ctx, list, m.runtimeConf(pod, nsPath, podIfName)))
		}
		for _, a := range atts {
			a.rt.NetNS = nsPath
			errs = append(errs, m.cni.DelNetworkList(ctx, a.list, a.rt))
		}
		err := errors.Join(errs...)
		if err != nil && strings.Contains(err.Error(), "does not exist") {
			// CNI requires DEL to succeed when what it removes is gone, but the
			// bridge plugin (1.1.1) with ipMasq fails when its masquerade chain was
			// already removed, after it released the address and the veth. Finish
			// its job, including the cached result libcni keeps after a failed DEL.
			err = m.removeCache(pod.ID)
		}
		if err == nil && masq {
			// The bridge plugin finds the addresses to unmasquerade inside the
			// namespace: without it, it leaves the chain.
			err = removeMasquerade(NetworkName, pod.ID)
		}
		if err == nil && leftover {
			err = removeLeftoverRules(pod.ID, leftoverIPs)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("tearing down pod network: %w", err)
	}
	return removeNetNS(path)
}

func (m *Manager) runtimeConf(pod Pod, nsPath, ifName string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: pod.ID,
		NetNS:       nsPath,
		IfName:      ifName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", pod.ID},
		},
	}
	if ifName == podIfName && len(pod.Ports) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": portMappings(pod.Ports)}
	}
	return rt
}

// portMapping is the portmap plugin's runtime argument.
type portMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

func portMappings(ports []hostport.Port) []portMapping {
	out := make([]portMapping, 0, len(ports))
	for _, p := range ports {
		proto := strings.ToLower(string(p.Proto()))
		out = append(out, portMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto, HostIP: p.HostIP})
	}
	return out
}

// locked runs f holding the network lock, across kplay processes and
// goroutines (each takes it on its own open file): shared where the plugins are
// safe side by side, exclusive where they are not (portmap and the firewall
// plugin edit shared iptables chains, the first pod creates the bridge).
func (m *Manager) locked(exclusive bool, f func() error) error {
	if err := os.MkdirAll(filepath.Dir(m.lockPath), 0o700); err != nil {
		return err
	}
	l := flock.New(m.lockPath)
	take := l.RLock
	if exclusive {
		take = l.Lock
	}
	if err := take(); err != nil {
		return fmt.Errorf("locking %s: %w", m.lockPath, err)
	}
	defer l.Close()
	return f()
}

// cacheNames are libcni's cache entries of a pod, one per network it may be
// attached to (the loopback network only by kplay up to 0f21c7f).
func cacheNames(id string) []string {
	return []string{
		NetworkName + "-" + id + "-" + podIfName,
		loopbackNetworkName + "-" + id + "-lo",
	}
}

// hasCache reports whether libcni cached an ADD result of the pod, on any network.
func (m *Manager) hasCache(id string) bool {
	for _, name := range cacheNames(id) {
		if m.cached(name) {
			return true
		}
	}
	return false
}

func (m *Manager) cached(name string) bool {
	_, err := os.Stat(filepath.Join(m.cacheDir, "results", name))
	return err == nil
}

func (m *Manager) removeCache(id string) error {
	for _, name := range cacheNames(id) {
		if err := os.Remove(filepath.Join(m.cacheDir, "results", name)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// hasState reports whether anything of the pod's network may still exist
// besides its namespace pin: a cached ADD or an address reservation.
func (m *Manager) hasState(id string) bool {
	if m.hasCache(id) {
		return true
	}
	owners, _ := m.reservations()
	_, ok := owners[id]
	return ok
}

// reservations maps owner IDs to the addresses host-local holds for them.
func (m *Manager) reservations() (map[string][]string, error) {
	dir := filepath.Join(m.ipamDir, NetworkName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	owners := map[string][]string{}
	for _, e := range entries {
		// Besides reservations the directory holds "lock" and "last_reserved_ip.0".
		if _, err := netip.ParseAddr(e.Name()); err != nil {
			continue
		}
		id, err := reservationOwner(filepath.Join(dir, e.Name()))
		if err != nil || id == "" {
			continue
		}
		owners[id] = append(owners[id], e.Name())
	}
	return owners, nil
}

// reservationOwner reads a host-local reservation: the container ID on the
// first line, the interface name on the second.
func reservationOwner(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan()
	return strings.TrimSpace(s.Text()), s.Err()
}

// Reclaim tears down the network of every pod that holds an address, a netns
// pin or a cached CNI result but is not alive: what a killed kplay left behind.
// Run it under kplay's command lock, or it may take a network another `up` is
// building.
func (m *Manager) Reclaim(ctx context.Context, alive func(id string) bool) error {
	ids := map[string]bool{}
	owners, err := m.reservations()
	if err != nil {
		return fmt.Errorf("reading address reservations: %w", err)
	}
	for id := range owners {
		ids[id] = true
	}
	if entries, err := os.ReadDir(m.netnsDir); err == nil {
		for _, e := range entries {
			ids[e.Name()] = true
		}
	}
	if entries, err := os.ReadDir(filepath.Join(m.cacheDir, "results")); err == nil {
		for _, e := range entries {
			if id := cachedID(e.Name()); id != "" {
				ids[id] = true
			}
		}
	}
	var errs []error
	for id := range ids {
		if alive(id) {
			continue
		}
		if err := m.Teardown(ctx, Pod{ID: id}); err != nil {
			errs = append(errs, fmt.Errorf("reclaiming network of %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// cachedID is the container ID in a libcni cache file name, "<network>-<id>-<ifname>".
func cachedID(name string) string {
	for _, n := range []struct{ prefix, suffix string }{
		{loopbackNetworkName + "-", "-lo"},
		{NetworkName + "-", "-" + podIfName},
	} {
		if strings.HasPrefix(name, n.prefix) && strings.HasSuffix(name, n.suffix) && len(name) > len(n.prefix)+len(n.suffix) {
			return name[len(n.prefix) : len(name)-len(n.suffix)]
		}
	}
	return ""
}
