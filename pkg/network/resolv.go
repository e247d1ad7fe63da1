package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
)

// Limits the kubelet applies to a pod's resolv.conf (Kubernetes validation's
// MaxDNSNameservers and the expanded DNS config limits).
const (
	maxNameservers     = 3
	maxSearches        = 32
	maxSearchLineChars = 2048
	maxSearchChars     = 253
)

// systemdResolvConf is the upstream configuration behind systemd-resolved's
// 127.0.0.53 stub, which pods cannot reach from their own namespace.
const systemdResolvConf = "/run/systemd/resolve/resolv.conf"

// HostResolvConf reads the resolv.conf pods start from: /etc/resolv.conf, or,
// for a pod with its own network namespace when /etc/resolv.conf names only
// loopback nameservers (a local stub resolver), systemd-resolved's upstream
// file if it exists.
func HostResolvConf(hostNetwork bool) ([]byte, error) {
	etc, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("reading the host's resolv.conf: %w", err)
	}
	return chooseResolvConf(etc, hostNetwork, func() ([]byte, error) { return os.ReadFile(systemdResolvConf) }), nil
}

func chooseResolvConf(etc []byte, hostNetwork bool, upstream func() ([]byte, error)) []byte {
	if hostNetwork {
		return etc
	}
	if servers, _, _, _ := parseResolvConf(etc); len(servers) > 0 && len(withoutLoopback(servers)) == 0 {
		if u, err := upstream(); err == nil {
			return u
		}
	}
	return etc
}

// ResolvConf is the pod's /etc/resolv.conf, decided as the kubelet decides it
// for a node without cluster DNS: dnsPolicy None starts empty; Default,
// ClusterFirst and ClusterFirstWithHostNet start from host (there is no
// cluster DNS, so ClusterFirst falls back to Default, as the kubelet does when
// it has no --cluster-dns). Loopback nameservers of the host are dropped for
// pods with their own network namespace, where they answer nothing. dnsConfig
// is then appended (nameservers and searches de-duplicated, options by name,
// pod values winning) and the kubelet's limits applied. Warnings say what was
// dropped or that the pod is left without a nameserver.
func ResolvConf(host []byte, policy corev1.DNSPolicy, cfg *corev1.PodDNSConfig, hostNetwork bool) ([]byte, []string, error) {
	var servers, searches, options, warnings []string
	switch policy {
	case corev1.DNSNone:
	case corev1.DNSDefault, corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, "":
		var bad []string
		servers, searches, options, bad = parseResolvConf(host)
		for _, l := range bad {
			warnings = append(warnings, fmt.Sprintf("ignoring host resolv.conf line %q", l))
		}
		if !hostNetwork {
			if kept := withoutLoopback(servers); len(kept) < len(servers) {
				if len(kept) == 0 {
					warnings = append(warnings, fmt.Sprintf(
						"the host's resolv.conf names only loopback nameservers (%s), which pods cannot reach from their network namespace; pods get no nameserver (set dnsConfig.nameservers with dnsPolicy: None)",
						strings.Join(servers, ", ")))
				}
				servers = kept
			}
		}
	default:
		return nil, nil, fmt.Errorf("dnsPolicy %q is not supported: %w", policy, errdefs.ErrInvalidArgument)
	}

	if cfg != nil {
		servers = omitDuplicates(append(servers, cfg.Nameservers...))
		searches = omitDuplicates(append(searches, cfg.Searches...))
		options = mergeOptions(options, cfg.Options)
	}
	if len(servers) > maxNameservers {
		servers = servers[:maxNameservers]
		warnings = append(warnings, "nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: "+strings.Join(servers, " "))
	}
	var limited bool
	if searches, limited = limitSearches(searches); limited {
		warnings = append(warnings, "search line limits were exceeded, some search paths have been omitted, the applied search line is: "+strings.Join(searches, " "))
	}

	// The layout containerd's CRI plugin writes for the kubelet.
	var b bytes.Buffer
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes(), warnings, nil
}

// parseResolvConf reads nameservers (accumulating), the last search line
// (trailing dots removed, "." dropped) and the last options line, as the
// kubelet does. Lines it cannot read are returned as bad.
func parseResolvConf(b []byte) (servers, searches, options, bad []string) {
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				bad = append(bad, line)
				continue
			}
			servers = append(servers, f[1])
		case "search":
			searches = nil
			for _, s := range f[1:] {
				if s != "." {
					searches = append(searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			options = f[1:]
		}
	}
	return servers, searches, options, bad
}

func withoutLoopback(servers []string) []string {
	var out []string
	for _, s := range servers {
		// A zone suffix (fe80::1%eth0) is legal in resolv.conf.
		addr, err := netip.ParseAddr(strings.SplitN(s, "%", 2)[0])
		if err == nil && addr.Unmap().IsLoopback() {
			continue
		}
		out = append(out, s)
	}
	return out
}

func omitDuplicates(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions overrides host options with the pod's of the same name. Unlike
// the kubelet, which goes through a map, it keeps the order stable: host
// options in their order, then new pod options in theirs.
func mergeOptions(host []string, pod []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, o := range host {
		name, value, _ := strings.Cut(o, ":")
		set(name, value)
	}
	for _, o := range pod {
		value := ""
		if o.Value != nil {
			value = *o.Value
		}
		set(o.Name, value)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if values[n] != "" {
			out = append(out, n+":"+values[n])
		} else {
			out = append(out, n)
		}
	}
	return out
}

// limitSearches applies the kubelet's limits in the kubelet's order: the first
// 32 paths, minus those longer than 253 characters, then drop from the end
// until the line has at most 2048 characters.
func limitSearches(in []string) ([]string, bool) {
	limited := false
	if len(in) > maxSearches {
		in, limited = in[:maxSearches], true
	}
	var out []string
	for _, s := range in {
		if len(s) > maxSearchChars {
			limited = true
			continue
		}
		out = append(out, s)
	}
	for len(out) > 0 && len(strings.Join(out, " ")) > maxSearchLineChars {
		out, limited = out[:len(out)-1], true
	}
	return out, limited
}
