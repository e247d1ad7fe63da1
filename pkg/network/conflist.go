package network

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

const (
	// NetworkName names kplay's CNI network. It is part of the iptables chain
	// names and comments the plugins write, and the IPAM state directory name.
	NetworkName = "kplay"
	// DefaultBridge is the host bridge every pod's veth is attached to.
	DefaultBridge = "kplay0"
	// DefaultSubnet collides with none of podman (10.88.0.0/16), docker
	// (172.17.0.0/16), nerdctl (10.4.0.0/24), flannel (10.244.0.0/16) or
	// k3s (10.42.0.0/16): 1022 pod addresses.
	DefaultSubnet = "10.213.0.0/22"

	// loopbackNetworkName is the network kplay up to 0f21c7f attached every pod to
	// for its lo. Pods of those versions still have it in the CNI cache, and are
	// torn down with it.
	loopbackNetworkName = "kplay-loopback"
	// Plugins 1.1.1 (Debian 12) accept cniVersion up to 1.0.0.
	cniVersion = "1.0.0"
	podIfName  = "eth0"
)

// pluginTypes are the plugin binaries the pod conflists run.
var pluginTypes = []string{"bridge", "host-local", "portmap"}

// parseSubnet accepts an IPv4 prefix with room for a gateway and at least one pod.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("subnet %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
	}
	if !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("subnet %q: must be an IPv4 prefix of /30 or larger: %w", s, errdefs.ErrInvalidArgument)
	}
	return p.Masked(), nil
}

// podConfList is the pod network: a veth on a bridge with an address from
// host-local, and for a pod with hostPorts, portmap. Masquerading and
// forwarding are the subnet's shared rules (hostRules), not per-pod rules of
// the plugins, and lo is brought up with the namespace: each plugin and each
// iptables call is a process per pod. Both lists have one name, so libcni's
// cache of a pod (and every reader of it) does not depend on which one it got.
func podConfList(bridge string, subnet netip.Prefix, ipamDir string, hostPorts bool) []byte {
	type obj = map[string]any
	plugins := []obj{
		{
			"type":        "bridge",
			"bridge":      bridge,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": obj{
				"type":    "host-local",
				"dataDir": ipamDir,
				"ranges":  [][]obj{{{"subnet": subnet.String()}}},
				"routes":  []obj{{"dst": "0.0.0.0/0"}},
			},
		},
	}
	if hostPorts {
		plugins = append(plugins, obj{"type": "portmap", "capabilities": obj{"portMappings": true}})
	}
	b, err := json.Marshal(obj{"cniVersion": cniVersion, "name": NetworkName, "plugins": plugins})
	if err != nil {
		panic(err) // only maps, slices and strings: cannot fail
	}
	return b
}
