// Package clusterdns holds the cluster names a pod resolves: the records file kplay
// writes after every change to the Services, and the answers the pause process's
// responder gives from it. It is apart from package service so that the responder,
// which runs in every pod, links no Kubernetes API types.
package clusterdns

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
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

// ttl is short: records change with every up and down.
const ttl = 5

// Answer answers a query from the records. forward says the name is not the
// cluster's and the query should go to an upstream nameserver instead. A CNAME answer
// names its target, which the caller resolves upstream. Names under the cluster
// domain that do not exist are NXDOMAIN.
func (r *Records) Answer(q *dnsmessage.Message) (resp *dnsmessage.Message, forward bool) {
	resp = &dnsmessage.Message{Header: dnsmessage.Header{
		ID: q.ID, Response: true, OpCode: q.OpCode, RecursionDesired: q.RecursionDesired,
	}}
	if len(q.Questions) != 1 {
		resp.RCode = dnsmessage.RCodeFormatError
		return resp, false
	}
	resp.Questions = q.Questions
	qs := q.Questions[0]
	name := strings.ToLower(qs.Name.String())
	domain := "." + strings.ToLower(r.Domain) + "."
	if !strings.HasSuffix(name, domain) && name != domain[1:] {
		return nil, true
	}
	resp.Authoritative = true
	ips, isA := r.A[name]
	target, isCNAME := r.CNAME[name]
	hdr := func(t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: qs.Name, Type: t, Class: dnsmessage.ClassINET, TTL: ttl}
	}
	switch {
	case isCNAME:
		if t, err := dnsmessage.NewName(target); err == nil {
			resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: hdr(dnsmessage.TypeCNAME), Body: &dnsmessage.CNAMEResource{CNAME: t}})
		}
	case isA:
		if qs.Type == dnsmessage.TypeA || qs.Type == dnsmessage.TypeALL {
			for _, ip := range ips {
				if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
					resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: hdr(dnsmessage.TypeA), Body: &dnsmessage.AResource{A: a.As4()}})
				}
			}
		}
		// Any other type of an existing name: NOERROR with no answer (NODATA).
	case r.hasChildren(name):
		// An empty non-terminal such as default.svc.cluster.local: NODATA.
	default:
		resp.RCode = dnsmessage.RCodeNameError
	}
	if len(resp.Answers) == 0 {
		if soa, err := r.soa(); err == nil {
			resp.Authorities = append(resp.Authorities, soa)
		}
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

func (r *Records) soa() (dnsmessage.Resource, error) {
	zone := Fqdn(r.Domain)
	name, err1 := dnsmessage.NewName(zone)
	ns, err2 := dnsmessage.NewName("ns.dns." + zone)
	mbox, err3 := dnsmessage.NewName("hostmaster." + zone)
	if err := errors.Join(err1, err2, err3); err != nil {
		return dnsmessage.Resource{}, err
	}
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.SOAResource{NS: ns, MBox: mbox, Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, MinTTL: ttl},
	}, nil
}

// Fqdn returns name with the trailing dot of a fully qualified name.
func Fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
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
