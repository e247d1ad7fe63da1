package plan

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// hostPorts lists the ports the pod publishes on the host (see hostport.Pod).
// With hostNetwork the defaults made every containerPort a hostPort: those are
// listed too, as claims on the host's ports to check conflicts against, though
// nothing needs to map them.
func hostPorts(spec *corev1.PodSpec) []HostPort {
	return hostport.Ports(hostport.Pod(spec))
}
