package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/runtime"
	"github.com/kplay-dev/kplay/pkg/store"
)

// kindEndpoints is `kplay get endpoints`: not stored, but made from the stored Services
// and the pods that run.
const kindEndpoints store.Kind = "endpoints"

// withEndpoints replaces the Services read for an endpoints list by their Endpoints,
// which need containerd.
func withEndpoints(cmd *cobra.Command, g *globalOptions, lists []storedList) error {
	need := false
	for _, l := range lists {
		need = need || l.kind == kindEndpoints && len(l.items) > 0
	}
	if !need {
		return nil
	}
	return withRuntime(cmd, g, nil, func(ctx context.Context, rt *runtime.Runtime) error {
		for i, l := range lists {
			if l.kind != kindEndpoints {
				continue
			}
			var svcs []corev1.Service
			for _, o := range l.items {
				svcs = append(svcs, *o.(*corev1.Service))
			}
			eps, err := rt.Endpoints(ctx, svcs)
			if err != nil {
				return err
			}
			lists[i].items = make([]k8sruntime.Object, len(eps))
			for j := range eps {
				lists[i].items[j] = &eps[j]
			}
		}
		return nil
	})
}

func serviceType(s *corev1.Service) string {
	if s.Spec.Type == "" {
		return string(corev1.ServiceTypeClusterIP)
	}
	return string(s.Spec.Type)
}

func clusterIP(s *corev1.Service) string {
	if s.Spec.ClusterIP == "" {
		return "<none>"
	}
	return s.Spec.ClusterIP
}

// externalIP is kubectl's EXTERNAL-IP: the externalName, a LoadBalancer's ingress, or
// <none>.
func externalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	}
	return "<none>"
}

func selector(sel map[string]string) string {
	if len(sel) == 0 {
		return "<none>"
	}
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// endpointsColumn is kubectl's ENDPOINTS: up to three ready ip:port, then "+ N more...".
func endpointsColumn(ep *corev1.Endpoints) string {
	var all []string
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if len(ss.Ports) == 0 {
				all = append(all, a.IP)
			}
			for _, p := range ss.Ports {
				all = append(all, fmt.Sprintf("%s:%d", a.IP, p.Port))
			}
		}
	}
	if len(all) == 0 {
		return "<none>"
	}
	if len(all) > 3 {
		return strings.Join(all[:3], ",") + fmt.Sprintf(" + %d more...", len(all)-3)
	}
	return strings.Join(all, ",")
}
