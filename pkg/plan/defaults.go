package plan

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	k8sv1 "k8s.io/kubernetes/pkg/apis/core/v1"
)

const defaultServiceAccount = "default"

// applyPodDefaults defaults spec in place with the API server's own v1 defaulting
// of a Pod (restartPolicy, dnsPolicy, terminationGracePeriodSeconds, imagePullPolicy,
// protocol, probes, a volume with no source as an emptyDir, ...), so the dry run
// shows what `kubectl get pod -o yaml` would and the hash covers it. A Deployment's
// replicas are Pods to the API server too. Then it does what the ServiceAccount
// admission plugin and the scheduler would: the default service account, this node.
func applyPodDefaults(spec *corev1.PodSpec, nodeName string) {
	pod := &corev1.Pod{Spec: *spec}
	k8sv1.SetObjectDefaults_Pod(pod)
	*spec = pod.Spec
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = defaultServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
	if spec.NodeName == "" {
		spec.NodeName = nodeName
	}
}

// podHostname is spec.hostname or the pod name, cut to the 63 characters a
// hostname may have, without a trailing '-' or '.', as the kubelet makes it.
func podHostname(spec *corev1.PodSpec, podName, nodeName string) string {
	if spec.HostNetwork && nodeName != "" {
		return nodeName
	}
	h := podName
	if spec.Hostname != "" {
		h = spec.Hostname
	}
	const maxLen = 63
	if len(h) <= maxLen {
		return h
	}
	return strings.TrimRight(h[:maxLen], "-.")
}
