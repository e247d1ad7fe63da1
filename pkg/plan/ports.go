package plan

import (
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
