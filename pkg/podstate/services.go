package podstate

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/labels"
	"github.com/kplay-dev/kplay/pkg/plan"
)

// ServiceLabels are what Services need of a pod, for its infra container: the
// containers' named ports (a Service's named targetPort) and spec.hostname and
// spec.subdomain (a pod's name behind a headless Service).
func ServiceLabels(pp *plan.PodPlan) map[string]string {
	out := map[string]string{}
	var ports []corev1.ContainerPort
	for _, c := range pp.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name != "" {
				ports = append(ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
			}
		}
	}
	if b, err := json.Marshal(ports); err == nil && len(ports) > 0 && len(b) < 4000 {
		out[labels.PodPorts] = string(b)
	}
	if pp.Spec.Hostname != "" {
		out[labels.PodHostname] = pp.Spec.Hostname
	}
	if pp.Spec.Subdomain != "" {
		out[labels.PodSubdomain] = pp.Spec.Subdomain
	}
	return out
}

// NamedPorts are the containers' named ports (see ServiceLabels).
func (l Labels) NamedPorts() []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	if v := l[labels.PodPorts]; v != "" {
		json.Unmarshal([]byte(v), &ports)
	}
	return ports
}

// Hostname and Subdomain are the pod's spec.hostname and spec.subdomain.
func (l Labels) Hostname() string  { return l[labels.PodHostname] }
func (l Labels) Subdomain() string { return l[labels.PodSubdomain] }
