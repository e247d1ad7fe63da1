package service

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Rule is what the kernel does with one Service port: traffic to ClusterIP:Port (and to
// every host address at NodePort, and at HostPort for a LoadBalancer) goes to one of
// the Endpoints, picked at random, or, with AffinitySeconds, to the one the client used
// last. A port without endpoints rejects at once.
type Rule struct {
	Service   string // "namespace/name"
	PortName  string
	Protocol  corev1.Protocol
	ClusterIP string
	Port      int32
	NodePort  int32 // 0: none
	HostPort  int32 // a LoadBalancer's port on the host; 0: none
	Endpoints []Target
	// AffinitySeconds is sessionAffinity ClientIP's timeout; 0 is no affinity.
	AffinitySeconds int32
}

// Chain is the name of the rule's service chain.
func (r Rule) Chain() string {
	return fmt.Sprintf("svc-%s/%s/%d", r.Service, r.Protocol, r.Port)
}

// EndpointChain is the name of the chain that DNATs to endpoint i.
func (r Rule) EndpointChain(i int) string {
	return fmt.Sprintf("ep-%s/%s/%d/%s", r.Service, r.Protocol, r.Port, r.Endpoints[i])
}

// AffinitySet is the name of the set of clients that last used endpoint i.
func (r Rule) AffinitySet(i int) string {
	return fmt.Sprintf("aff-%s/%s/%d/%s", r.Service, r.Protocol, r.Port, r.Endpoints[i])
}

// Rules is the whole ruleset for services and their endpoints (by namespace/name):
// one Rule per port of every Service with a ClusterIP, sorted. Headless and
// ExternalName Services have no rules; DNS answers them.
func Rules(services []corev1.Service, endpoints map[string]corev1.Endpoints) []Rule {
	var out []Rule
	for i := range services {
		s := &services[i]
		if s.Spec.Type == corev1.ServiceTypeExternalName || s.Spec.ClusterIP == "" || Headless(s) {
			continue
		}
		ep := endpoints[key(s)]
		var affinity int32
		if s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = corev1.DefaultClientIPServiceAffinitySeconds
			if c := s.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = *c.ClientIP.TimeoutSeconds
			}
		}
		for _, p := range s.Spec.Ports {
			r := Rule{
				Service: key(s), PortName: p.Name, Protocol: protocol(p.Protocol),
				ClusterIP: s.Spec.ClusterIP, Port: p.Port, NodePort: p.NodePort,
				Endpoints: Ready(ep, p.Name), AffinitySeconds: affinity,
			}
			if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
				r.HostPort = p.Port
			}
			if s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
				r.NodePort = 0
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Chain() < out[j].Chain() })
	return out
}
