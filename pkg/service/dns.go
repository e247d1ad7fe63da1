package service

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// ClusterDomain is the kubelet's default --cluster-domain.
const ClusterDomain = "cluster.local"

// DNSAddress is where each pod's pause process answers names, inside the pod's own
// network namespace: systemd-resolved's stub address, which no pod uses otherwise.
const DNSAddress = "127.0.0.53"

// Records are the names the pods' responders answer, written by kplay after every
// change and re-read by each responder when the file changes.
type Records struct {
	Domain string `json:"domain"`
	// A maps a lower-case FQDN with its trailing dot to IPv4 addresses.
	A map[string][]string `json:"a,omitempty"`
	// CNAME maps an ExternalName Service's FQDN to its externalName.
	CNAME map[string]string `json:"cname,omitempty"`
	// Upstream are the host's nameservers ("ip:53"), for every other name.
	Upstream []string `json:"upstream,omitempty"`
}

// BuildRecords is what CoreDNS's kubernetes plugin would answer for the Services:
// <svc>.<ns>.svc.<domain> is the ClusterIP, a headless Service's ready pod IPs, or an
// ExternalName's CNAME; <hostname>.<svc>.<ns>.svc.<domain> is a pod whose hostname and
// subdomain name a headless Service.
func BuildRecords(services []corev1.Service, endpoints map[string]corev1.Endpoints, upstream []string) Records {
	r := Records{Domain: ClusterDomain, A: map[string][]string{}, CNAME: map[string]string{}, Upstream: upstream}
	for i := range services {
		s := &services[i]
		ns := s.Namespace
		if ns == "" {
			ns = corev1.NamespaceDefault
		}
		name := strings.ToLower(fmt.Sprintf("%s.%s.svc.%s.", s.Name, ns, ClusterDomain))
		switch {
		case s.Spec.Type == corev1.ServiceTypeExternalName:
			r.CNAME[name] = dns.Fqdn(strings.ToLower(s.Spec.ExternalName))
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

// ttl is short: records change with every up and down.
const ttl = 5

// Answer answers a query from the records. forward says the name is not the
// cluster's and the query should go to an upstream nameserver instead. A CNAME answer
// names its target, which the caller resolves upstream. Names under the cluster
// domain that do not exist are NXDOMAIN.
func (r *Records) Answer(q *dns.Msg) (resp *dns.Msg, forward bool) {
	resp = new(dns.Msg)
	resp.SetReply(q)
	if len(q.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp, false
	}
	qs := q.Question[0]
	name := strings.ToLower(qs.Name)
	domain := "." + strings.ToLower(r.Domain) + "."
	if !strings.HasSuffix(name, domain) && name != domain[1:] {
		return nil, true
	}
	resp.Authoritative = true
	ips, isA := r.A[name]
	target, isCNAME := r.CNAME[name]
	switch {
	case isCNAME:
		resp.Answer = append(resp.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: qs.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl}, Target: target})
	case isA:
		if qs.Qtype == dns.TypeA || qs.Qtype == dns.TypeANY {
			for _, ip := range ips {
				rr, err := dns.NewRR(fmt.Sprintf("%s %d IN A %s", qs.Name, ttl, ip))
				if err == nil {
					resp.Answer = append(resp.Answer, rr)
				}
			}
		}
		// Any other type of an existing name: NOERROR with no answer (NODATA).
	case r.hasChildren(name):
		// An empty non-terminal such as default.svc.cluster.local: NODATA.
	default:
		resp.Rcode = dns.RcodeNameError
	}
	if len(resp.Answer) == 0 {
		resp.Ns = append(resp.Ns, r.soa())
	}
	return resp, false
}

func (r *Records) hasChildren(name string) bool {
	for n := range r.A {
		if strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	for n := range r.CNAME {
		if strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return name == strings.ToLower(r.Domain)+"."
}

func (r *Records) soa() dns.RR {
	zone := dns.Fqdn(r.Domain)
	return &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns.dns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl}
}

// RecordsFile is the file name under the records directory.
const RecordsFile = "records.json"

// WriteRecords replaces the records file atomically (a new file renamed over the old),
// so a responder reads either the old or the new records.
func WriteRecords(dir string, r Records) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".records-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, RecordsFile))
}

// ReadRecords reads a records file.
func ReadRecords(path string) (*Records, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Records
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &r, nil
}
