package runtime

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// hostNetworkPorts are the ports that hostNetwork pods of every containerd
// namespace hold, from their infra containers' labels, but those of the pod with
// infra container self in this namespace. Call it under the exclusive ports lock,
// under which every pod with host ports has its infra container created. Only a
// pod with host ports needs it: it lists containers in every containerd namespace.
func (r *Runtime) hostNetworkPorts(ctx context.Context, self string) ([]network.Holder, error) {
	nss, err := r.client.NamespaceService().List(ctx)
	if err != nil {
		return nil, err
	}
	filter := podstate.HostNetworkInfraFilter()
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
			l := podstate.Labels(c.Labels)
			ports := l.Ports()
			if len(ports) == 0 {
				continue
			}
			name := l.Key()
			if ns != r.cfg.Namespace {
				name += fmt.Sprintf(" (containerd namespace %s)", ns)
			}
			out = append(out, network.Holder{Pod: name, Ports: ports})
		}
	}
	return out, nil
}
