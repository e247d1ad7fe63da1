package runtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/labels"
	"github.com/kplay-dev/kplay/pkg/network"
)

// portsLabel is a pod's published ports as kept on its infra container:
// "hostIP:hostPort:containerPort/proto,...", hostIP empty for every address and
// IPv6 addresses unbracketed.
func portsLabel(ports []hostport.Port) string {
	var parts []string
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s:%d:%d/%s", p.HostIP, p.HostPort, p.ContainerPort, strings.ToLower(string(p.Proto()))))
	}
	return strings.Join(parts, ",")
}

// PublishedPorts are the host ports of a pod that List returned.
func PublishedPorts(pod corev1.Pod) []hostport.Port {
	return parsePorts(pod.Annotations[labels.Ports])
}

// parsePorts reads portsLabel back. The ports are the last two fields: an IPv6
// hostIP holds colons of its own.
func parsePorts(s string) []hostport.Port {
	var out []hostport.Port
	for _, part := range strings.Split(s, ",") {
		hp, proto, ok := strings.Cut(part, "/")
		if !ok {
			continue
		}
		rest, container, ok1 := cut(hp)
		ip, host, ok2 := cut(rest)
		h, err1 := strconv.ParseUint(host, 10, 16)
		c, err2 := strconv.ParseUint(container, 10, 16)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, hostport.Port{HostIP: ip, HostPort: int32(h), ContainerPort: int32(c), Protocol: corev1.Protocol(strings.ToUpper(proto))})
	}
	return out
}

// cut splits s around its last ':'.
func cut(s string) (before, after string, ok bool) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// hostNetworkPorts are the ports that hostNetwork pods of every containerd
// namespace hold, from their infra containers' labels, but those of the pod with
// infra container self in this namespace. Call it under the ports lock, under
// which every pod's infra container is created.
func (r *Runtime) hostNetworkPorts(ctx context.Context, self string) ([]network.Holder, error) {
	nss, err := r.client.NamespaceService().List(ctx)
	if err != nil {
		return nil, err
	}
	filter := fmt.Sprintf("labels.%q==%s,labels.%q==true", labels.Role, labels.RoleInfra, labels.HostNetwork)
	var out []network.Holder
	for _, ns := range nss {
		ctrs, err := r.client.ContainerService().List(namespaces.WithNamespace(ctx, ns), filter)
		if err != nil {
			return nil, err
		}
		for _, c := range ctrs {
			if ns == r.cfg.Namespace && c.ID == self {
				continue
			}
			ports := parsePorts(c.Labels[labels.Ports])
			if len(ports) == 0 {
				continue
			}
			name := c.Labels[labels.PodNamespace] + "/" + c.Labels[labels.PodName]
			if ns != r.cfg.Namespace {
				name += fmt.Sprintf(" (containerd namespace %s)", ns)
			}
			out = append(out, network.Holder{Pod: name, Ports: ports})
		}
	}
	return out, nil
}
