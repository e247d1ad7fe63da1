package manifest

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// serviceChecks are kplay's limits on a Service, on top of the API server's
// validation: the support table, no SCTP, IPv4 cluster IPs, and nodePorts in the
// API server's default --service-node-port-range, which kplay allocates from.
func serviceChecks(s *corev1.Service) ([]string, field.ErrorList) {
	warnings, errs := checkFields(objectMetaRules, &s.ObjectMeta, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	w, e := checkFields(serviceSpecRules, &s.Spec, spec)
	warnings, errs = append(warnings, w...), append(errs, e...)
	if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if a, err := netip.ParseAddr(ip); err == nil && !a.Is4() {
			errs = append(errs, field.Invalid(spec.Child("clusterIP"), ip, "kplay's service network is IPv4"))
		}
	}
	for i, p := range s.Spec.Ports {
		at := spec.Child("ports").Index(i)
		if p.Protocol == corev1.ProtocolSCTP {
			errs = append(errs, field.NotSupported(at.Child("protocol"), p.Protocol, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}))
		}
		if p.NodePort != 0 && (p.NodePort < 30000 || p.NodePort > 32767) {
			errs = append(errs, field.Invalid(at.Child("nodePort"), p.NodePort, "provided port is not in the valid range. The range of valid ports is 30000-32767"))
		}
	}
	return warnings, errs
}
