package network

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// socket is one bound socket from /proc/net/{tcp,tcp6,udp,udp6}.
type socket struct {
	proto corev1.Protocol
	addr  netip.Addr
	port  int32
	inode string
}

// Socket states in /proc/net: a TCP server listens, a UDP server is bound and unconnected.
const (
	tcpListen   = "0A"
	udpUnconned = "07"
)

// CheckHostPorts fails when a process on the host already listens on one of the
// ports: portmap would silently take its traffic, or lose to it. The error
// names the port and, where /proc shows it, the process; it wraps
// errdefs.ErrAlreadyExists (exit code 1). Ports held by other kplay pods do not
// show here (portmap does not bind them): CheckPorts checks those.
// SCTP ports are not checked.
func CheckHostPorts(ports []hostport.Port) error {
	var socks []socket
	for _, f := range []struct {
		path  string
		proto corev1.Protocol
	}{
		{"/proc/net/tcp", corev1.ProtocolTCP},
		{"/proc/net/tcp6", corev1.ProtocolTCP},
		{"/proc/net/udp", corev1.ProtocolUDP},
		{"/proc/net/udp6", corev1.ProtocolUDP},
	} {
		file, err := os.Open(f.path)
		if os.IsNotExist(err) {
			continue // no IPv6 on this host
		}
		if err != nil {
			return err
		}
		s, err := parseProcNet(file, f.proto)
		file.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.path, err)
		}
		socks = append(socks, s...)
	}
	for _, p := range ports {
		if s, ok := conflict(p, socks); ok {
			holder := ""
			if pid, name := socketOwner(s.inode); pid != 0 {
				holder = fmt.Sprintf(" by %s (pid %d)", name, pid)
			}
			return fmt.Errorf("host port %s is already in use%s: %w", p, holder, errdefs.ErrAlreadyExists)
		}
	}
	return nil
}

// conflict finds a socket that the port would clash with (see hostport).
func conflict(p hostport.Port, socks []socket) (socket, bool) {
	for _, s := range socks {
		if p.Overlaps(hostport.Port{HostIP: s.addr.String(), HostPort: s.port, Protocol: s.proto}) {
			return s, true
		}
	}
	return socket{}, false
}

// parseProcNet reads the listening TCP or bound UDP sockets of one /proc/net
// table. Addresses are hex in host byte order, 32 bits at a time.
func parseProcNet(r io.Reader, proto corev1.Protocol) ([]socket, error) {
	want := tcpListen
	if proto == corev1.ProtocolUDP {
		want = udpUnconned
	}
	var out []socket
	s := bufio.NewScanner(r)
	s.Scan() // header
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 10 || f[3] != want {
			continue
		}
		addr, port, err := parseHexAddr(f[1])
		if err != nil {
			return nil, err
		}
		out = append(out, socket{proto: proto, addr: addr, port: port, inode: f[9]})
	}
	return out, s.Err()
}

func parseHexAddr(s string) (netip.Addr, int32, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("bad port in %q", s)
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
	}
	// Each 32-bit word is in the kernel's (little-endian) byte order.
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return addr.Unmap(), int32(port), nil
}

// socketOwner finds a process holding the socket inode, (0, "") if none is
// visible to us.
func socketOwner(inode string) (int, string) {
	if inode == "" || inode == "0" {
		return 0, ""
	}
	target := "socket:[" + inode + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && l == target {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return pid, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}

// Holder is a pod that holds host ports.
type Holder struct {
	Pod   string // "namespace/name"
	Ports []hostport.Port
}

// PortHolders are the pods on kplay's network that publish host ports, but the
// one with CNI ID except. They are known from the CNI cache, so across kplay
// processes that share the run root. hostNetwork pods are not on the network:
// the caller knows them from their containers.
func (m *Manager) PortHolders(except string) ([]Holder, error) {
	attachments, err := m.cni.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("reading kplay's CNI cache: %w", err)
	}
	var out []Holder
	for _, a := range attachments {
		if a.ContainerID == except || a.Network != NetworkName {
			continue
		}
		if ports := cachedPorts(a.CapabilityArgs); len(ports) > 0 {
			out = append(out, Holder{Pod: podName(a.CniArgs, a.ContainerID), Ports: ports})
		}
	}
	return out, nil
}

// CheckPodPorts fails when one of the pod's host ports clashes with one that
// another pod holds: one on kplay's network (PortHolders) or one of hostNetwork
// (given), or with a process on the host (CheckHostPorts). The error names the
// port and the holder and wraps errdefs.ErrAlreadyExists. Two pods of the same
// `up` that ask for one port are not caught here until the first is set up.
func (m *Manager) CheckPodPorts(pod Pod, hostNetwork []Holder) error {
	held, err := m.PortHolders(pod.ID)
	if err != nil {
		return err
	}
	return CheckPorts(pod.Ports, append(held, hostNetwork...))
}

// CheckPorts fails when one of the ports clashes with one a holder holds, or
// with a process on the host (CheckHostPorts).
func CheckPorts(ports []hostport.Port, holders []Holder) error {
	for _, p := range ports {
		for _, h := range holders {
			for _, q := range h.Ports {
				if !p.Overlaps(q) {
					continue
				}
				which := ""
				if q.String() != p.String() {
					which = ", which holds " + q.String()
				}
				return fmt.Errorf("host port %s is already used by pod %s%s: %w", p, h.Pod, which, errdefs.ErrAlreadyExists)
			}
		}
	}
	return CheckHostPorts(ports)
}

// cachedPorts are the port mappings kplay passed to portmap on ADD.
func cachedPorts(capabilityArgs map[string]any) []hostport.Port {
	raw, ok := capabilityArgs["portMappings"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	var mappings []portMapping
	if json.Unmarshal(b, &mappings) != nil {
		return nil
	}
	var out []hostport.Port
	for _, m := range mappings {
		out = append(out, hostport.Port{HostIP: m.HostIP, HostPort: m.HostPort, ContainerPort: m.ContainerPort,
			Protocol: corev1.Protocol(strings.ToUpper(m.Protocol))})
	}
	return out
}

// podName is "namespace/name" from the CNI arguments kplay passed on ADD.
func podName(args [][2]string, id string) string {
	var ns, name string
	for _, a := range args {
		switch a[0] {
		case "K8S_POD_NAMESPACE":
			ns = a[1]
		case "K8S_POD_NAME":
			name = a[1]
		}
	}
	if name == "" {
		return id
	}
	return ns + "/" + name
}
