package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// socket is one listening TCP or bound unconnected UDP socket on the host.
type socket struct {
	proto corev1.Protocol
	addr  netip.Addr
	port  int32
	inode string
}

// Socket states as sock_diag reports them: a TCP server listens, a UDP server is
// bound and unconnected (TCP_CLOSE).
const (
	tcpListen   = 10
	udpUnconned = 7
)

// CheckHostPorts fails when a process on the host already listens on one of the
// ports: portmap would silently take its traffic, or lose to it. The error
// names the port and, where /proc shows it, the process; it wraps
// errdefs.ErrAlreadyExists (exit code 1). Ports held by other kplay pods do not
// show here (portmap does not bind them): CheckPorts checks those.
// SCTP ports are not checked. Without ports it asks the kernel nothing.
func CheckHostPorts(ports []hostport.Port) error {
	if len(ports) == 0 {
		return nil
	}
	socks, err := hostSockets()
	if err != nil {
		return err
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

// hostSockets asks the kernel (sock_diag over netlink) for the host's listening
// TCP and bound unconnected UDP sockets, IPv4 and IPv6.
func hostSockets() ([]socket, error) {
	var out []socket
	for _, q := range []struct {
		proto  corev1.Protocol
		family uint8
		state  uint8
		dump   func(uint8) ([]*netlink.Socket, error)
	}{
		{corev1.ProtocolTCP, unix.AF_INET, tcpListen, netlink.SocketDiagTCP},
		{corev1.ProtocolTCP, unix.AF_INET6, tcpListen, netlink.SocketDiagTCP},
		{corev1.ProtocolUDP, unix.AF_INET, udpUnconned, netlink.SocketDiagUDP},
		{corev1.ProtocolUDP, unix.AF_INET6, udpUnconned, netlink.SocketDiagUDP},
	} {
		socks, err := dumpWhole(q.dump, q.family)
		if err != nil {
			if q.family == unix.AF_INET6 && (errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ENOENT)) {
				continue // no IPv6 on this host
			}
			return nil, fmt.Errorf("listing the host's %s sockets: %w", q.proto, err)
		}
		for _, s := range socks {
			if s.State != q.state {
				continue
			}
			addr, _ := netip.AddrFromSlice(s.ID.Source)
			out = append(out, socket{proto: q.proto, addr: addr.Unmap(), port: int32(s.ID.SourcePort), inode: strconv.FormatUint(uint64(s.INode), 10)})
		}
	}
	return out, nil
}

// dumpAttempts bounds the retries of a sock_diag dump that sockets opening and
// closing meanwhile interrupted.
const dumpAttempts = 5

// dumpWhole runs the dump until the kernel reports it complete. An interrupted
// dump may lack sockets, and a listener it misses would lose its port to a
// hostPort without a word: after dumpAttempts it fails instead.
func dumpWhole(dump func(uint8) ([]*netlink.Socket, error), family uint8) ([]*netlink.Socket, error) {
	for i := 1; ; i++ {
		socks, err := dump(family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return socks, err
		}
		if i == dumpAttempts {
			return nil, fmt.Errorf("the kernel interrupted %d dumps in a row (sockets keep opening and closing), try again: %w", i, err)
		}
	}
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
