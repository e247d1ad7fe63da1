package plan

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// hostPorts lists the ports the pod publishes on the host: every port with a
// hostPort, from app containers and from sidecars (init containers that keep
// running). With hostNetwork the defaults made every containerPort a hostPort:
// those are listed too, as claims on the host's ports to check conflicts
// against, though nothing needs to map them.
func hostPorts(spec *corev1.PodSpec) []HostPort {
	var out []HostPort
	add := func(c corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			out = append(out, HostPort{
				Container:     c.Name,
				HostIP:        p.HostIP,
				HostPort:      p.HostPort,
				ContainerPort: p.ContainerPort,
				Protocol:      p.Protocol,
			})
		}
	}
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for _, c := range spec.Containers {
		add(c)
	}
	return out
}

// checkHostPorts fails when two pods of one plan claim the same host port and
// protocol on overlapping addresses; an empty or unspecified hostIP means every
// address.
func checkHostPorts(pods []PodPlan) error {
	type claim struct {
		pod  string
		port HostPort
	}
	byPort := map[string][]claim{}
	for _, p := range pods {
		for _, hp := range p.HostPorts {
			key := fmt.Sprintf("%d/%s", hp.HostPort, hp.Protocol)
			for _, c := range byPort[key] {
				if !overlap(c.port.HostIP, hp.HostIP) {
					continue
				}
				port := key
				if c.port.HostIP == hp.HostIP && !wildcard(hp.HostIP) {
					port = hp.HostIP + ":" + key
				}
				if c.pod == p.String() {
					return invalidf("pod %q: containers %q and %q both use hostPort %s", c.pod, c.port.Container, hp.Container, port)
				}
				return invalidf("pods %s and %s both use hostPort %s", c.pod, p.String(), port)
			}
			byPort[key] = append(byPort[key], claim{p.String(), hp})
		}
	}
	return nil
}

func wildcard(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

func overlap(a, b string) bool { return wildcard(a) || wildcard(b) || a == b }
