package network

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const kubeletHeader = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func TestManagedHostsFile(t *testing.T) {
	aliases := []corev1.HostAlias{
		{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}},
		{IP: "10.1.2.3", Hostnames: []string{"foo.remote"}},
	}
	tests := []struct {
		name                         string
		ip, hostname, sub, namespace string
		aliases                      []corev1.HostAlias
		want                         string
	}{
		{
			name: "pod IP and hostname", ip: "10.213.0.4", hostname: "nginx", namespace: "default",
			want: kubeletHeader + "10.213.0.4\tnginx\n",
		},
		{
			name: "subdomain gives the FQDN first", ip: "10.213.0.5", hostname: "web-0", sub: "web", namespace: "shop",
			want: kubeletHeader + "10.213.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n",
		},
		{
			name: "host aliases, one line per IP", ip: "10.213.0.6", hostname: "hostaliases-pod", namespace: "default", aliases: aliases,
			want: kubeletHeader + "10.213.0.6\thostaliases-pod\n" +
				"\n# Entries added by HostAliases.\n" +
				"127.0.0.1\tfoo.local\tbar.local\n" +
				"10.1.2.3\tfoo.remote\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(managedHostsFile(tt.ip, tt.hostname, tt.sub, tt.namespace, tt.aliases))
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestNodeHostsFile(t *testing.T) {
	node := "127.0.0.1 localhost\n127.0.1.1 box\n"
	tests := []struct {
		name    string
		aliases []corev1.HostAlias
		want    string
	}{
		{"node file under the host-network header", nil, "# Kubernetes-managed hosts file (host network).\n" + node},
		{"plus host aliases", []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db"}}},
			"# Kubernetes-managed hosts file (host network).\n" + node + "\n# Entries added by HostAliases.\n10.1.2.3\tdb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(nodeHostsFile([]byte(node), tt.aliases)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
