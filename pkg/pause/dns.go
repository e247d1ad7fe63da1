package pause

import (
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/kplay-dev/kplay/pkg/service"
)

// DNSFlag passes the records file to the pause process: with it, the pause process
// answers the pod's DNS queries at service.DNSAddress:53 in the pod's network namespace.
const DNSFlag = "--dns="

// responder answers from a records file that kplay rewrites atomically; it re-reads the
// file when its modification time or size changes, so new Services resolve in running
// pods.
type responder struct {
	path    string
	mu      sync.Mutex
	mtime   time.Time
	size    int64
	records *service.Records
	client  *dns.Client
}

func (r *responder) current() *service.Records {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.path)
	if err != nil {
		if r.records == nil {
			r.records = &service.Records{Domain: service.ClusterDomain}
		}
		return r.records
	}
	if r.records == nil || !fi.ModTime().Equal(r.mtime) || fi.Size() != r.size {
		if rec, err := service.ReadRecords(r.path); err == nil {
			r.records, r.mtime, r.size = rec, fi.ModTime(), fi.Size()
		} else if r.records == nil {
			r.records = &service.Records{Domain: service.ClusterDomain}
		}
	}
	return r.records
}

func (r *responder) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	rec := r.current()
	resp, forward := rec.Answer(q)
	if forward {
		resp = r.forward(rec, q, w.LocalAddr().Network())
	} else if len(resp.Answer) == 1 {
		if c, ok := resp.Answer[0].(*dns.CNAME); ok && len(q.Question) == 1 {
			// Resolve an ExternalName's target, as CoreDNS does, so stub resolvers that do
			// not chase CNAMEs get an address too.
			m := new(dns.Msg)
			m.SetQuestion(c.Target, q.Question[0].Qtype)
			m.RecursionDesired = true
			target, forward := rec.Answer(m)
			if forward {
				target = r.forward(rec, m, "udp")
			}
			if target != nil && target.Rcode == dns.RcodeSuccess {
				resp.Answer = append(resp.Answer, target.Answer...)
			}
		}
	}
	if resp == nil {
		resp = new(dns.Msg)
		resp.SetRcode(q, dns.RcodeServerFailure)
	}
	resp.RecursionAvailable = true
	w.WriteMsg(resp)
}

func (r *responder) forward(rec *service.Records, q *dns.Msg, network string) *dns.Msg {
	c := *r.client
	if strings.HasPrefix(network, "tcp") {
		c.Net = "tcp"
	}
	for _, up := range rec.Upstream {
		resp, _, err := c.Exchange(q, up)
		if err == nil {
			return resp
		}
	}
	return nil
}

// serveDNS starts the responder on UDP and TCP; failures leave the pod without cluster
// names but alive.
func serveDNS(path string) {
	r := &responder{path: path, client: &dns.Client{Timeout: 2 * time.Second}}
	addr := net.JoinHostPort(service.DNSAddress, "53")
	for _, network := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: addr, Net: network, Handler: r}
		go srv.ListenAndServe()
	}
}

// dnsPath returns the records file named in the arguments.
func dnsPath(args []string) string {
	for _, a := range args {
		if strings.HasPrefix(a, DNSFlag) {
			return strings.TrimPrefix(a, DNSFlag)
		}
	}
	return ""
}
