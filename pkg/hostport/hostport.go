// Package hostport holds the host ports a pod takes and the one rule for when two
// of them clash. Validation (one run's pods), the plan (what a pod publishes) and
// the network (running pods, host processes) all use it.
//
// Two ports clash when they have the same protocol and port number and their
// addresses overlap. "", 0.0.0.0 and :: each mean every address, of both families:
// the kubelet and portmap take "" and 0.0.0.0 alike, a `::` listener on Linux also
// takes IPv4 unless it sets IPV6_V6ONLY (net.ipv6.bindv6only is 0 by default), and
// the Kubernetes scheduler counts 0.0.0.0 as clashing with every address. So
// 0.0.0.0:P and [::]:P clash too, which refuses a pair that portmap alone could
// serve, rather than let one silently take the other's traffic. Specific addresses
// clash only when equal: 127.0.0.1 and ::1 do not.
package hostport

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Port is one port a pod takes on the host: a hostPort, or with hostNetwork a
// containerPort (Kubernetes defaults hostPort to containerPort there).
type Port struct {
	Container     string // the container that declares it
	HostIP        string // as written: "", 0.0.0.0 or :: for every address
	HostPort      int32  // with hostNetwork, the containerPort
	ContainerPort int32
	Protocol      corev1.Protocol // TCP, UDP or SCTP; "" is TCP
}

// Proto is the port's protocol in upper case, TCP when unset.
func (p Port) Proto() corev1.Protocol { return proto(p.Protocol) }

func proto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return corev1.Protocol(strings.ToUpper(string(p)))
}

// AllAddresses says whether the port binds every address of the host.
func (p Port) AllAddresses() bool {
	a, err := netip.ParseAddr(p.HostIP)
	return p.HostIP == "" || (err == nil && a.Unmap().IsUnspecified())
}

// Overlaps says whether p and q cannot both be bound: the same protocol and port
// on addresses that overlap (see the package comment).
func (p Port) Overlaps(q Port) bool {
	if p.HostPort != q.HostPort || p.Proto() != q.Proto() {
		return false
	}
	if p.AllAddresses() || q.AllAddresses() {
		return true
	}
	a, errA := netip.ParseAddr(p.HostIP)
	b, errB := netip.ParseAddr(q.HostIP)
	if errA != nil || errB != nil {
		return p.HostIP == q.HostIP // validation rejects these; still never equal to another address
	}
	return a.Unmap() == b.Unmap()
}

// String is "8080/TCP", "127.0.0.1:8080/TCP" or "[::1]:8080/TCP", the address as written.
func (p Port) String() string {
	port := strconv.Itoa(int(p.HostPort))
	if p.HostIP != "" {
		port = net.JoinHostPort(p.HostIP, port)
	}
	return port + "/" + string(p.Proto())
}

// Declared is a port as a pod spec declares it.
type Declared struct {
	Port
	Init      bool // in spec.initContainers (a sidecar), else in spec.containers
	Index     int  // the container's index in its list
	PortIndex int  // the port's index in the container's ports
}

// Path is the field path of the port's hostPort under spec, the path of the pod spec.
func (d Declared) Path(spec *field.Path) *field.Path {
	list := "containers"
	if d.Init {
		list = "initContainers"
	}
	return spec.Child(list).Index(d.Index).Child("ports").Index(d.PortIndex).Child("hostPort")
}

// Pod lists the ports a pod takes on the host, in spec order: every hostPort of
// its sidecars (init containers that keep running) and app containers, and with
// hostNetwork every containerPort. Other init containers are left out: each runs
// alone, between the pod's start and its app containers'. The spec may be as
// written or with Kubernetes defaults applied.
func Pod(spec *corev1.PodSpec) []Declared {
	var out []Declared
	add := func(init bool, i int, c *corev1.Container) {
		for j, cp := range c.Ports {
			port := cp.HostPort
			if port == 0 && spec.HostNetwork {
				port = cp.ContainerPort
			}
			if port == 0 {
				continue
			}
			out = append(out, Declared{Port: Port{
				Container:     c.Name,
				HostIP:        cp.HostIP,
				HostPort:      port,
				ContainerPort: cp.ContainerPort,
				Protocol:      proto(cp.Protocol),
			}, Init: init, Index: i, PortIndex: j})
		}
	}
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(true, i, c)
		}
	}
	for i := range spec.Containers {
		add(false, i, &spec.Containers[i])
	}
	return out
}

// Ports are the ports of the declarations.
func Ports(ds []Declared) []Port {
	var out []Port
	for _, d := range ds {
		out = append(out, d.Port)
	}
	return out
}
