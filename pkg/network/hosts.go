package network

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ClusterDomain completes the FQDN of a pod with spec.subdomain. kplay has no
// cluster DNS; it uses the kubelet's usual domain so the name reads as it
// would in a cluster.
const ClusterDomain = "cluster.local"

// HostsFile is the pod's /etc/hosts, written as the kubelet writes it: its
// header, the localhost lines, "<podIP>\t<hostname>" (or
// "<podIP>\t<hostname>.<subdomain>.<namespace>.svc.cluster.local\t<hostname>"
// with a subdomain), then the hostAliases block. A hostNetwork pod gets the
// node's /etc/hosts under a host-network header, plus its hostAliases.
func HostsFile(podIP, hostname, subdomain, namespace string, aliases []corev1.HostAlias, hostNetwork bool) ([]byte, error) {
	if hostNetwork {
		node, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return nil, fmt.Errorf("reading the node's hosts file: %w", err)
		}
		return nodeHostsFile(node, aliases), nil
	}
	return managedHostsFile(podIP, hostname, subdomain, namespace, aliases), nil
}

func managedHostsFile(podIP, hostname, subdomain, namespace string, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if podIP != "" {
		if subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", podIP, hostname, subdomain, namespace, ClusterDomain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
		}
	}
	b.Write(hostAliasLines(aliases))
	return b.Bytes()
}

func nodeHostsFile(node []byte, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(node)
	b.Write(hostAliasLines(aliases))
	return b.Bytes()
}

func hostAliasLines(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}
