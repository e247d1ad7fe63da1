// Package service turns Services and the pods that run into what makes them work on one
// machine: ClusterIP and NodePort allocations, Endpoints, the nftables ruleset that
// kube-proxy's nftables mode would program, and the DNS records CoreDNS's kubernetes
// plugin would answer. Everything here except the netlink apply is pure.
package service

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is what endpoint selection needs to know about one running kplay pod.
type Pod struct {
	Namespace, Name string
	IP              string
	Labels          map[string]string
	// Running and Ready are the pod's phase Running and its Ready condition.
	Running, Ready bool
	// Ports are the containers' declared ports, for named targetPorts.
	Ports     []corev1.ContainerPort
	Hostname  string // spec.hostname, when set
	Subdomain string // spec.subdomain, when set
	HostNet   bool
}

// Headless reports whether a Service has no virtual IP (clusterIP: None).
func Headless(s *corev1.Service) bool { return s.Spec.ClusterIP == corev1.ClusterIPNone }

// Endpoints are the v1 Endpoints the endpoints controller would make for s: the pods
// of s's namespace whose labels match its selector, ready ones under addresses and
// running but unready ones under notReadyAddresses, grouped into subsets by the ports
// they resolve. A Service without a selector has no managed endpoints.
func Endpoints(s *corev1.Service, pods []Pod) corev1.Endpoints {
	ep := corev1.Endpoints{}
	ep.APIVersion, ep.Kind = "v1", "Endpoints"
	ep.Name, ep.Namespace = s.Name, s.Namespace
	ep.Labels = s.Labels
	ep.CreationTimestamp = s.CreationTimestamp
	if len(s.Spec.Selector) == 0 || s.Spec.Type == corev1.ServiceTypeExternalName {
		return ep
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	type member struct {
		addr  corev1.EndpointAddress
		ready bool
		ports []corev1.EndpointPort
	}
	var members []member
	for _, p := range pods {
		if p.Namespace != s.Namespace || p.IP == "" || !p.Running || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		m := member{addr: corev1.EndpointAddress{IP: p.IP, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}}, ready: p.Ready}
		if p.Hostname != "" && p.Subdomain == s.Name {
			m.addr.Hostname = p.Hostname
		}
		for _, sp := range s.Spec.Ports {
			port, ok := TargetPort(sp, p.Ports)
			if !ok {
				continue // as the endpoints controller: a pod without the named port serves none
			}
			m.ports = append(m.ports, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: protocol(sp.Protocol)})
		}
		if len(s.Spec.Ports) > 0 && len(m.ports) == 0 {
			continue
		}
		members = append(members, m)
	}
	sort.Slice(members, func(i, j int) bool { return members[i].addr.IP < members[j].addr.IP })
	bySet := map[string]int{}
	for _, m := range members {
		key := fmt.Sprint(m.ports)
		i, ok := bySet[key]
		if !ok {
			i = len(ep.Subsets)
			bySet[key] = i
			ep.Subsets = append(ep.Subsets, corev1.EndpointSubset{Ports: m.ports})
		}
		if m.ready {
			ep.Subsets[i].Addresses = append(ep.Subsets[i].Addresses, m.addr)
		} else {
			ep.Subsets[i].NotReadyAddresses = append(ep.Subsets[i].NotReadyAddresses, m.addr)
		}
	}
	return ep
}

// TargetPort resolves a Service port's targetPort on a pod: a number as is (the port
// itself when unset), a name through the containers' ports of that name and protocol.
func TargetPort(sp corev1.ServicePort, ports []corev1.ContainerPort) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, cp := range ports {
			if cp.Name == sp.TargetPort.StrVal && protocol(cp.Protocol) == protocol(sp.Protocol) {
				return cp.ContainerPort, true
			}
		}
		return 0, false
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	}
	return sp.Port, true
}

func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// Ready lists the ready addresses of endpoints for one Service port name, with the
// port each serves it on, sorted by IP.
func Ready(ep corev1.Endpoints, portName string) []Target {
	var out []Target
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			if p.Name != portName {
				continue
			}
			for _, a := range ss.Addresses {
				out = append(out, Target{IP: a.IP, Port: p.Port})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].IP < out[j].IP || out[i].IP == out[j].IP && out[i].Port < out[j].Port
	})
	return out
}

// Target is one endpoint of one Service port.
type Target struct {
	IP   string
	Port int32
}

func (t Target) String() string { return fmt.Sprintf("%s:%d", t.IP, t.Port) }

// PortsColumn is kubectl's PORT(S): "80/TCP", "80:30080/TCP", comma separated.
func PortsColumn(s *corev1.Service) string {
	if len(s.Spec.Ports) == 0 {
		return "<none>"
	}
	var out []string
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, protocol(p.Protocol)))
		} else {
			out = append(out, fmt.Sprintf("%d/%s", p.Port, protocol(p.Protocol)))
		}
	}
	return strings.Join(out, ",")
}
