package podstate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/containers"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/labels"
	"github.com/kplay-dev/kplay/pkg/plan"
)

// PodLabels are the labels every container of a pod carries.
func PodLabels(pp *plan.PodPlan) map[string]string {
	return map[string]string{
		labels.PodNamespace:  pp.Namespace,
		labels.PodName:       pp.Name,
		labels.PodUID:        pp.UID,
		labels.Owner:         pp.Owner.String(),
		labels.Source:        pp.Source,
		labels.SpecHash:      pp.Hash,
		labels.RestartPolicy: string(pp.Spec.RestartPolicy),
		labels.GracePeriod:   strconv.FormatInt(gracePeriod(pp), 10),
	}
}

func gracePeriod(pp *plan.PodPlan) int64 {
	if g := pp.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return 30
}

// InfraLabels are the labels of a pod's infra container, which holds the pod-wide
// facts. binary is the program the pod's shim runs (kplay-helper).
func InfraLabels(pp *plan.PodPlan, created time.Time, binary string) map[string]string {
	return with(PodLabels(pp),
		labels.Role, labels.RoleInfra,
		labels.Created, created.UTC().Format(time.RFC3339),
		labels.Ports, portsLabel(pp.HostPorts),
		labels.HostNetwork, strconv.FormatBool(pp.Spec.HostNetwork),
		labels.Claims, claimsLabel(pp),
		labels.VolumeDataHash, pp.VolumeDataHash,
		labels.PodLabels, podLabelsJSON(pp.Labels),
		labels.Binary, binary,
		labels.Containers, appNames(pp),
		labels.DefaultContainer, pp.Annotations[DefaultContainerAnnotation],
	)
}

// DefaultContainerAnnotation names the container kubectl logs and exec use without -c.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// ContainerLabels are the labels of the pod's container c, number index in the pod
// (init containers first).
func ContainerLabels(pp *plan.PodPlan, c *plan.Container, index int) map[string]string {
	role := labels.RoleApp
	if c.Init {
		role = labels.RoleInit
	}
	return with(PodLabels(pp),
		labels.Role, role,
		labels.Container, c.Name,
		labels.Index, strconv.Itoa(index),
		labels.Ready, strconv.FormatBool(c.Spec.ReadinessProbe == nil && c.Spec.StartupProbe == nil),
	)
}

// PodIPLabel records the address CNI gave the pod, on its infra container.
func PodIPLabel(ip string) map[string]string { return map[string]string{labels.PodIP: ip} }

// CompleteLabel marks a pod whose every container was created and started. A pod
// without it is one an interrupted up left half-made.
func CompleteLabel() map[string]string { return map[string]string{labels.Complete: "true"} }

// Exit is how a container that kplay deleted the task of ended.
type Exit struct {
	Code       int32
	Reason     string // the kubelet's reason when it is not the exit code's (OOMKilled)
	FinishedAt time.Time
}

// ExitLabels keep an exit after its task is deleted.
func ExitLabels(e Exit) map[string]string {
	l := map[string]string{
		labels.ExitCode:   strconv.Itoa(int(e.Code)),
		labels.FinishedAt: e.FinishedAt.UTC().Format(time.RFC3339Nano),
	}
	if e.Reason != "" {
		l[labels.ExitReason] = e.Reason
	}
	return l
}

// ConfigErrorLabel records on the infra container why kplay refused to create
// container (CreateContainerConfigError), cut to containerd's limit on a label.
func ConfigErrorLabel(container, msg string) map[string]string {
	key := labels.ConfigError + container
	if max := labels.MaxSize - 96 - len(key); len(msg) > max {
		msg = msg[:max]
	}
	return map[string]string{key: msg}
}

// SetVolumeDataHash records new configMap and secret volume contents on an infra
// container and returns the field paths to update.
func SetVolumeDataHash(c *containers.Container, hash string) []string {
	c.Labels = with(c.Labels, labels.VolumeDataHash, hash)
	return []string{"labels." + labels.VolumeDataHash}
}

// SetReady records whether kplay saw a container's readiness pass and returns the
// field paths to update.
func SetReady(c *containers.Container, ready bool) []string {
	c.Labels = with(c.Labels, labels.Ready, strconv.FormatBool(ready))
	return []string{"labels." + labels.Ready}
}

// PodFilter selects the containers of one pod.
func PodFilter(namespace, name string) string {
	return fmt.Sprintf("labels.%q==%q,labels.%q==%q", labels.PodNamespace, namespace, labels.PodName, name)
}

// HostNetworkInfraFilter selects the infra containers of hostNetwork pods.
func HostNetworkInfraFilter() string {
	return fmt.Sprintf("labels.%q==%s,labels.%q==true", labels.Role, labels.RoleInfra, labels.HostNetwork)
}

// LeaseLabels name the kplay process that holds a containerd lease: its ID and, when
// known, its identity (see package lease).
func LeaseLabels(pid, identity string) map[string]string {
	l := map[string]string{labels.LeasePID: pid}
	if identity != "" {
		l[labels.LeaseProcess] = identity
	}
	return l
}

// LeaseHolder reads LeaseLabels back; ok is false for a lease kplay did not take.
func LeaseHolder(l map[string]string) (pid, identity string, ok bool) {
	pid, ok = l[labels.LeasePID]
	return pid, l[labels.LeaseProcess], ok
}

// Labels are one container's labels, read through the codec. Pod-wide facts are read
// from the infra container's.
type Labels map[string]string

// Managed reports whether kplay created the container.
func (l Labels) Managed() bool { return l[labels.Role] != "" }

func (l Labels) Namespace() string { return l[labels.PodNamespace] }
func (l Labels) Name() string      { return l[labels.PodName] }
func (l Labels) UID() string       { return l[labels.PodUID] }

// Key is the pod's "namespace/name".
func (l Labels) Key() string { return l.Namespace() + "/" + l.Name() }

func (l Labels) IsInfra() bool { return l[labels.Role] == labels.RoleInfra }
func (l Labels) IsInit() bool  { return l[labels.Role] == labels.RoleInit }

// Container is the Kubernetes container name; empty on the infra container.
func (l Labels) Container() string { return l[labels.Container] }

// Index is a container's position in the pod, init containers first.
func (l Labels) Index() int {
	n, _ := strconv.Atoi(l[labels.Index])
	return n
}

// Owner is the object that declared the pod, "Deployment/web".
func (l Labels) Owner() string          { return l[labels.Owner] }
func (l Labels) Source() string         { return l[labels.Source] }
func (l Labels) SpecHash() string       { return l[labels.SpecHash] }
func (l Labels) VolumeDataHash() string { return l[labels.VolumeDataHash] }
func (l Labels) PodIP() string          { return l[labels.PodIP] }
func (l Labels) HostNetwork() bool      { return l[labels.HostNetwork] == "true" }
func (l Labels) Complete() bool         { return l[labels.Complete] == "true" }
func (l Labels) Binary() string         { return l[labels.Binary] }

func (l Labels) RestartPolicy() corev1.RestartPolicy {
	return corev1.RestartPolicy(l[labels.RestartPolicy])
}

// Created is when kplay created the pod; zero when unknown.
func (l Labels) Created() time.Time {
	t, _ := time.Parse(time.RFC3339, l[labels.Created])
	return t
}

// GracePeriod is the pod's terminationGracePeriodSeconds; ok is false when unknown.
func (l Labels) GracePeriod() (seconds int64, ok bool) {
	g, err := strconv.ParseInt(l[labels.GracePeriod], 10, 64)
	return g, err == nil
}

// Ready is false for a container whose readiness kplay has not seen pass.
func (l Labels) Ready() bool { return l[labels.Ready] != "false" }

// Ports are the pod's published host ports.
func (l Labels) Ports() []hostport.Port { return parsePorts(l[labels.Ports]) }

// Claims are the PersistentVolumeClaims the pod uses, "namespace/name".
func (l Labels) Claims() []string { return list(l[labels.Claims]) }

// AppContainers are the names of the pod's app containers, created or not.
func (l Labels) AppContainers() []string { return list(l[labels.Containers]) }

// DefaultContainer is the pod's default-container annotation, "" when it has none.
func (l Labels) DefaultContainer() string { return l[labels.DefaultContainer] }

// PodLabels are the pod's own metadata.labels; nil when there were none or too many.
func (l Labels) PodLabels() map[string]string {
	var out map[string]string
	if s := l[labels.PodLabels]; s != "" {
		json.Unmarshal([]byte(s), &out)
	}
	return out
}

// Exit is how a container whose task kplay deleted ended; ok is false when it did not.
func (l Labels) Exit() (e Exit, ok bool) {
	s := l[labels.ExitCode]
	if s == "" {
		return Exit{}, false
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	e.Code, e.Reason = int32(n), l[labels.ExitReason]
	e.FinishedAt, _ = time.Parse(time.RFC3339Nano, l[labels.FinishedAt])
	return e, true
}

// ConfigErrors are the containers up refused to create, with why.
func (l Labels) ConfigErrors() map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if name, ok := strings.CutPrefix(k, labels.ConfigError); ok {
			out[name] = v
		}
	}
	return out
}

// Annotations are kplay's facts about a pod as List shows them on a corev1.Pod.
func (l Labels) Annotations() map[string]string {
	out := map[string]string{}
	for _, k := range []string{labels.Owner, labels.Source, labels.SpecHash, labels.Ports} {
		if v := l[k]; v != "" {
			out[k] = v
		}
	}
	return out
}

// PublishedPorts are the host ports of a pod as List returned it (Annotations).
func PublishedPorts(pod corev1.Pod) []hostport.Port { return parsePorts(pod.Annotations[labels.Ports]) }

func with(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func appNames(pp *plan.PodPlan) string {
	var names []string
	for _, c := range pp.Containers {
		names = append(names, c.Name)
	}
	return labels.List(names)
}

// podLabelsJSON keeps the pod's labels for ps. containerd caps a label at 4 KiB; a
// pod with more labels than that shows none rather than failing.
func podLabelsJSON(l map[string]string) string {
	b, err := json.Marshal(l)
	if err != nil || len(l) == 0 || len(b) > 4000 {
		return ""
	}
	return string(b)
}

func claimsLabel(pp *plan.PodPlan) string {
	var claims []string
	for _, v := range pp.Volumes {
		if v.Claim != nil {
			claims = append(claims, v.Claim.Namespace+"/"+v.Claim.ClaimName)
		}
	}
	return labels.List(claims)
}

// portsLabel is a pod's published ports as kept on its infra container:
// "hostIP:hostPort:containerPort/proto,...", hostIP empty for every address and
// IPv6 addresses unbracketed.
func portsLabel(ports []hostport.Port) string {
	var parts []string
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s:%d:%d/%s", p.HostIP, p.HostPort, p.ContainerPort, strings.ToLower(string(p.Proto()))))
	}
	return strings.Join(parts, ",")
}

// parsePorts reads portsLabel back. The ports are the last two fields: an IPv6
// hostIP holds colons of its own.
func parsePorts(s string) []hostport.Port {
	var out []hostport.Port
	for _, part := range strings.Split(s, ",") {
		hp, proto, ok := strings.Cut(part, "/")
		if !ok {
			continue
		}
		rest, container, ok1 := cutLast(hp)
		ip, host, ok2 := cutLast(rest)
		h, err1 := strconv.ParseUint(host, 10, 16)
		c, err2 := strconv.ParseUint(container, 10, 16)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, hostport.Port{HostIP: ip, HostPort: int32(h), ContainerPort: int32(c), Protocol: corev1.Protocol(strings.ToUpper(proto))})
	}
	return out
}

// cutLast splits s around its last ':'.
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// ShimGroup is the OCI annotation that makes one containerd-shim-runc-v2 serve every
// container of the pod whose infra container is group.
func ShimGroup(group string) map[string]string { return map[string]string{labels.ShimGroup: group} }
