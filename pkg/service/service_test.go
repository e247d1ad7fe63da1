package service

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svc(name string, mutate ...func(*corev1.Service)) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}
	for _, m := range mutate {
		m(&s)
	}
	return s
}

var cidr = netip.MustParsePrefix(DefaultCIDR)

func TestAllocateIsStableAndHonoursRequests(t *testing.T) {
	a, b := svc("a"), svc("b", func(s *corev1.Service) { s.Spec.ClusterIP = "10.213.16.10" })
	if err := Allocate([]*corev1.Service{&a, &b}, nil, cidr); err != nil {
		t.Fatal(err)
	}
	if b.Spec.ClusterIP != "10.213.16.10" || !cidr.Contains(netip.MustParseAddr(a.Spec.ClusterIP)) || a.Spec.ClusterIP == b.Spec.ClusterIP {
		t.Fatalf("got a=%s b=%s", a.Spec.ClusterIP, b.Spec.ClusterIP)
	}
	// The same Service again, from the store or from scratch, gets the same address.
	again, fresh := svc("a"), svc("a")
	if err := Allocate([]*corev1.Service{&again}, []corev1.Service{a, b}, cidr); err != nil || again.Spec.ClusterIP != a.Spec.ClusterIP {
		t.Errorf("re-up: %s, %v; want %s", again.Spec.ClusterIP, err, a.Spec.ClusterIP)
	}
	if err := Allocate([]*corev1.Service{&fresh}, nil, cidr); err != nil || fresh.Spec.ClusterIP != a.Spec.ClusterIP {
		t.Errorf("after down: %s, %v; want %s", fresh.Spec.ClusterIP, err, a.Spec.ClusterIP)
	}
	// Taken, out of range.
	c := svc("c", func(s *corev1.Service) { s.Spec.ClusterIP = "10.213.16.10" })
	if err := Allocate([]*corev1.Service{&c}, []corev1.Service{b}, cidr); err == nil || !strings.Contains(err.Error(), "already allocated to service default/b") {
		t.Errorf("taken clusterIP: %v", err)
	}
	d := svc("d", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" })
	if err := Allocate([]*corev1.Service{&d}, nil, cidr); err == nil || !strings.Contains(err.Error(), "not in the service range") {
		t.Errorf("clusterIP out of range: %v", err)
	}
	h := svc("h", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
	if err := Allocate([]*corev1.Service{&h}, nil, cidr); err != nil || h.Spec.ClusterIP != "None" {
		t.Errorf("headless: %s, %v", h.Spec.ClusterIP, err)
	}
}

func TestAllocateNodePorts(t *testing.T) {
	np := func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }
	a, b := svc("a", np), svc("b", np, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 })
	if err := Allocate([]*corev1.Service{&a, &b}, nil, cidr); err != nil {
		t.Fatal(err)
	}
	p := a.Spec.Ports[0].NodePort
	if p < NodePortMin || p > NodePortMax || p == 30080 || b.Spec.Ports[0].NodePort != 30080 {
		t.Fatalf("nodePorts a=%d b=%d", p, b.Spec.Ports[0].NodePort)
	}
	again := svc("a", np)
	if err := Allocate([]*corev1.Service{&again}, []corev1.Service{a, b}, cidr); err != nil || again.Spec.Ports[0].NodePort != p {
		t.Errorf("re-up nodePort %d, %v; want %d", again.Spec.Ports[0].NodePort, err, p)
	}
	c := svc("c", np, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 })
	if err := Allocate([]*corev1.Service{&c}, []corev1.Service{b}, cidr); err == nil {
		t.Error("a nodePort held by another Service was given again")
	}
	plain := svc("plain")
	Allocate([]*corev1.Service{&plain}, nil, cidr)
	if plain.Spec.Ports[0].NodePort != 0 {
		t.Errorf("a ClusterIP Service got nodePort %d", plain.Spec.Ports[0].NodePort)
	}
}

func TestParseCIDR(t *testing.T) {
	if _, err := ParseCIDR(DefaultCIDR, "10.213.0.0/22"); err != nil {
		t.Errorf("default: %v", err)
	}
	if _, err := ParseCIDR("10.213.0.0/16", "10.213.0.0/22"); err == nil {
		t.Error("overlap with the pod subnet accepted")
	}
	if _, err := ParseCIDR("fd00::/108", ""); err == nil {
		t.Error("IPv6 accepted")
	}
}

func pod(name, ip string, ready bool, l map[string]string) Pod {
	return Pod{Namespace: "default", Name: name, IP: ip, Labels: l, Running: true, Ready: ready,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
}

func TestEndpoints(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "x"}
	pods := []Pod{
		pod("web-1", "10.0.0.3", true, web),
		pod("web-0", "10.0.0.2", true, web),
		pod("web-2", "10.0.0.4", false, web),
		pod("other", "10.0.0.5", true, map[string]string{"app": "other"}),
		{Namespace: "prod", Name: "web-9", IP: "10.0.0.6", Labels: web, Running: true, Ready: true},
		{Namespace: "default", Name: "stopped", IP: "10.0.0.7", Labels: web, Ready: true},
		{Namespace: "default", Name: "noport", IP: "10.0.0.8", Labels: web, Running: true, Ready: true},
	}
	s := svc("web")
	ep := Endpoints(&s, pods)
	if len(ep.Subsets) != 1 {
		t.Fatalf("subsets: %+v", ep.Subsets)
	}
	var ready, notReady []string
	for _, a := range ep.Subsets[0].Addresses {
		ready = append(ready, a.IP)
	}
	for _, a := range ep.Subsets[0].NotReadyAddresses {
		notReady = append(notReady, a.IP)
	}
	if !reflect.DeepEqual(ready, []string{"10.0.0.2", "10.0.0.3"}) || !reflect.DeepEqual(notReady, []string{"10.0.0.4"}) {
		t.Errorf("ready %v not ready %v", ready, notReady)
	}
	if got := Ready(ep, ""); !reflect.DeepEqual(got, []Target{{"10.0.0.2", 8080}, {"10.0.0.3", 8080}}) {
		t.Errorf("targets of the named port: %v", got)
	}
	numeric := svc("web", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(0) })
	if got := Ready(Endpoints(&numeric, pods), ""); len(got) != 3 || got[0].Port != 80 {
		t.Errorf("unset targetPort is the port, every ready pod serves it: %v", got)
	}
	noSel := svc("web", func(s *corev1.Service) { s.Spec.Selector = nil })
	if ep := Endpoints(&noSel, pods); len(ep.Subsets) != 0 {
		t.Errorf("a Service without selector got endpoints %v", ep.Subsets)
	}
}

func TestRules(t *testing.T) {
	services := []corev1.Service{
		svc("web", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.Type = "10.213.16.5", corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		}),
		svc("empty", func(s *corev1.Service) { s.Spec.ClusterIP = "10.213.16.6" }),
		svc("headless", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
		svc("ext", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.org"
		}),
	}
	eps := map[string]corev1.Endpoints{"default/web": {Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.3"}, {IP: "10.0.0.2"}},
		Ports:     []corev1.EndpointPort{{Port: 8080}},
	}}}}
	got := Rules(services, eps)
	want := []Rule{
		{Service: "default/empty", Protocol: "TCP", ClusterIP: "10.213.16.6", Port: 80},
		{Service: "default/web", Protocol: "TCP", ClusterIP: "10.213.16.5", Port: 80, NodePort: 30080, HostPort: 80,
			Endpoints: []Target{{"10.0.0.2", 8080}, {"10.0.0.3", 8080}}, AffinitySeconds: 10800},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\ngot  %+v\nwant %+v", got, want)
	}
	if c := got[1].EndpointChain(1); c != "ep-default/web/TCP/80/10.0.0.3:8080" {
		t.Errorf("endpoint chain %q", c)
	}
	if r := Rules(nil, nil); len(r) != 0 {
		t.Errorf("no services: %v", r)
	}
}

func TestTableName(t *testing.T) {
	for in, want := range map[string]string{"kplay": "kplay", "kplay-e2e-x": "kplay-e2e-x", "k8s.io": "kplay-k8s-io"} {
		if got := TableName(in); got != want {
			t.Errorf("TableName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnswer(t *testing.T) {
	services := []corev1.Service{
		svc("web", func(s *corev1.Service) { s.Spec.ClusterIP = "10.213.16.5" }),
		svc("db", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
		svc("ext", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "Example.org"
		}),
	}
	eps := map[string]corev1.Endpoints{"default/db": {Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.3", Hostname: "db-b"}, {IP: "10.0.0.2", Hostname: "db-a"}},
	}}}}
	rec := BuildRecords(services, eps, []string{"192.0.2.53:53"})
	ask := func(name string, qtype dnsmessage.Type) (*dnsmessage.Message, bool) {
		q := &dnsmessage.Message{Header: dnsmessage.Header{ID: 7, RecursionDesired: true},
			Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: qtype, Class: dnsmessage.ClassINET}}}
		return rec.Answer(q)
	}
	answers := func(m *dnsmessage.Message) []string {
		var out []string
		for _, rr := range m.Answers {
			switch v := rr.Body.(type) {
			case *dnsmessage.AResource:
				out = append(out, netip.AddrFrom4(v.A).String())
			case *dnsmessage.CNAMEResource:
				out = append(out, "CNAME "+v.CNAME.String())
			}
		}
		return out
	}
	for _, c := range []struct {
		name  string
		qtype dnsmessage.Type
		want  []string
		rcode dnsmessage.RCode
	}{
		{"web.default.svc.cluster.local.", dnsmessage.TypeA, []string{"10.213.16.5"}, dnsmessage.RCodeSuccess},
		{"WEB.Default.svc.cluster.local.", dnsmessage.TypeA, []string{"10.213.16.5"}, dnsmessage.RCodeSuccess},
		{"web.default.svc.cluster.local.", dnsmessage.TypeAAAA, nil, dnsmessage.RCodeSuccess},
		{"db.default.svc.cluster.local.", dnsmessage.TypeA, []string{"10.0.0.2", "10.0.0.3"}, dnsmessage.RCodeSuccess},
		{"db-b.db.default.svc.cluster.local.", dnsmessage.TypeA, []string{"10.0.0.3"}, dnsmessage.RCodeSuccess},
		{"ext.default.svc.cluster.local.", dnsmessage.TypeA, []string{"CNAME example.org."}, dnsmessage.RCodeSuccess},
		{"web.default.svc.cluster.local.default.svc.cluster.local.", dnsmessage.TypeA, nil, dnsmessage.RCodeNameError},
		{"default.svc.cluster.local.", dnsmessage.TypeA, nil, dnsmessage.RCodeSuccess},
		{"nothing.prod.svc.cluster.local.", dnsmessage.TypeA, nil, dnsmessage.RCodeNameError},
	} {
		m, fwd := ask(c.name, c.qtype)
		if fwd {
			t.Errorf("%s: forwarded", c.name)
			continue
		}
		if got := answers(m); !reflect.DeepEqual(got, c.want) || m.RCode != c.rcode || m.ID != 7 || !m.Response || !m.Authoritative {
			t.Errorf("%s %s: %v rcode %d aa %v; want %v rcode %d", c.name, c.qtype, got, m.RCode, m.Authoritative, c.want, c.rcode)
		}
	}
	if _, fwd := ask("example.org.", dnsmessage.TypeA); !fwd {
		t.Error("a name outside the cluster domain was not forwarded")
	}
}
