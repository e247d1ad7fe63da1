package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// serviceEnv is the kubelet's service links: for every Service of the pod's namespace
// with a cluster IP, <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT (and _<PORT NAME>), and the
// Docker link variables <NAME>_PORT, <NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
// Services are taken in name order.
func serviceEnv(services map[string]*corev1.Service, namespace string) []envStep {
	var names []string
	for k, s := range services {
		if namespaceOf(s.Namespace) == namespace {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var out []envStep
	set := func(name, value string) {
		out = append(out, envStep{EnvVar: EnvVar{Name: name, Value: value, Source: EnvResolved}})
	}
	for _, k := range names {
		s := services[k]
		ip := s.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || s.Spec.Type == corev1.ServiceTypeExternalName || len(s.Spec.Ports) == 0 {
			continue
		}
		prefix := envName(s.Name)
		set(prefix+"_SERVICE_HOST", ip)
		set(prefix+"_SERVICE_PORT", strconv.Itoa(int(s.Spec.Ports[0].Port)))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				set(prefix+"_SERVICE_PORT_"+envName(p.Name), strconv.Itoa(int(p.Port)))
			}
		}
		first := s.Spec.Ports[0]
		set(prefix+"_PORT", fmt.Sprintf("%s://%s:%d", strings.ToLower(string(proto(first.Protocol))), ip, first.Port))
		for _, p := range s.Spec.Ports {
			pr := proto(p.Protocol)
			link := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(string(pr)))
			set(link, fmt.Sprintf("%s://%s:%d", strings.ToLower(string(pr)), ip, p.Port))
			set(link+"_PROTO", strings.ToLower(string(pr)))
			set(link+"_PORT", strconv.Itoa(int(p.Port)))
			set(link+"_ADDR", ip)
		}
	}
	return out
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

func proto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
