package plan

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// These are the values the API server fills in when a field is left out, so the
// dry run shows what `kubectl get pod -o yaml` would and the hash covers them.
const (
	defaultGracePeriod            = int64(30)
	defaultFileMode               = int32(0o644)
	defaultServiceAccount         = "default"
	defaultSchedulerName          = "default-scheduler"
	defaultTerminationMessagePath = "/dev/termination-log"
)

// applyPodDefaults defaults spec in place, as the API server's defaulting and the
// ServiceAccount admission plugin would, and binds it to this node.
func applyPodDefaults(spec *corev1.PodSpec, nodeName string) {
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.TerminationGracePeriodSeconds == nil {
		g := defaultGracePeriod
		spec.TerminationGracePeriodSeconds = &g
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = defaultSchedulerName
	}
	if spec.EnableServiceLinks == nil {
		t := true
		spec.EnableServiceLinks = &t
	}
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
	for i := range spec.InitContainers {
		applyContainerDefaults(&spec.InitContainers[i], spec.HostNetwork)
	}
	for i := range spec.Containers {
		applyContainerDefaults(&spec.Containers[i], spec.HostNetwork)
	}
	for i := range spec.Volumes {
		applyVolumeDefaults(&spec.Volumes[i])
	}
}

func applyContainerDefaults(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = defaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		// With the host's network a container port is a host port; the API
		// server writes that down so the scheduler can see the conflict.
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	// A limit without a request means the request equals the limit.
	for name, limit := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; ok {
			continue
		}
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[name] = limit.DeepCopy()
	}
	for i := range c.Env {
		if f := c.Env[i].ValueFrom; f != nil && f.FieldRef != nil && f.FieldRef.APIVersion == "" {
			f.FieldRef.APIVersion = "v1"
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		applyProbeDefaults(p)
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil {
				applyHTTPGetDefaults(h.HTTPGet)
			}
		}
	}
}

func applyProbeDefaults(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	applyHTTPGetDefaults(p.HTTPGet)
}

func applyHTTPGetDefaults(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func applyVolumeDefaults(v *corev1.Volume) {
	s := &v.VolumeSource
	switch {
	case s.HostPath != nil:
		if s.HostPath.Type == nil {
			t := corev1.HostPathUnset
			s.HostPath.Type = &t
		}
	case s.ConfigMap != nil:
		if s.ConfigMap.DefaultMode == nil {
			m := defaultFileMode
			s.ConfigMap.DefaultMode = &m
		}
	case s.Secret != nil:
		if s.Secret.DefaultMode == nil {
			m := defaultFileMode
			s.Secret.DefaultMode = &m
		}
	case *s == corev1.VolumeSource{}:
		// A volume that names no source is an emptyDir.
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
}

// defaultPullPolicy is Always for `:latest` or no tag, IfNotPresent for any
// other tag or a digest, as Kubernetes decides it.
func defaultPullPolicy(image string) corev1.PullPolicy {
	name, _, hasDigest := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		tag = name[i+1:]
	}
	if tag == "latest" || (tag == "" && !hasDigest) {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
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
