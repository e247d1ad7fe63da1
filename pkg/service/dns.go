package service

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/clusterdns"
)

// BuildRecords is what CoreDNS's kubernetes plugin would answer for the Services:
// <svc>.<ns>.svc.<domain> is the ClusterIP, a headless Service's ready pod IPs, or an
// ExternalName's CNAME; <hostname>.<svc>.<ns>.svc.<domain> is a pod whose hostname and
// subdomain name a headless Service.
func BuildRecords(services []corev1.Service, endpoints map[string]corev1.Endpoints, upstream []string) clusterdns.Records {
	r := clusterdns.Records{Domain: clusterdns.ClusterDomain, A: map[string][]string{}, CNAME: map[string]string{}, Upstream: upstream}
	for i := range services {
		s := &services[i]
		ns := s.Namespace
		if ns == "" {
			ns = corev1.NamespaceDefault
		}
		name := strings.ToLower(fmt.Sprintf("%s.%s.svc.%s.", s.Name, ns, clusterdns.ClusterDomain))
		switch {
		case s.Spec.Type == corev1.ServiceTypeExternalName:
			r.CNAME[name] = clusterdns.Fqdn(strings.ToLower(s.Spec.ExternalName))
		case Headless(s):
			var ips []string
			for _, ss := range endpoints[key(s)].Subsets {
				for _, a := range ss.Addresses {
					ips = append(ips, a.IP)
					if a.Hostname != "" {
						host := strings.ToLower(a.Hostname) + "." + name
						r.A[host] = appendUnique(r.A[host], a.IP)
					}
				}
			}
			sort.Strings(ips)
			r.A[name] = uniq(ips)
		case s.Spec.ClusterIP != "":
			r.A[name] = []string{s.Spec.ClusterIP}
		}
	}
	return r
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func uniq(in []string) []string {
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
