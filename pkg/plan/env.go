package plan

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// envStep is one assignment of the kubelet's environment build, in the order the
// kubelet makes them: every envFrom key, then every env entry. A literal value is
// expanded against the variables assigned before it, so Resolve replays the steps
// rather than reading the final list.
type envStep struct {
	EnvVar
	// uid marks a metadata.uid fieldRef: the UID comes from the hash, which is
	// computed over the steps, so its value is filled in afterwards.
	uid bool
}

// podFacts are what a fieldRef can read.
type podFacts struct {
	namespace   string
	name        string
	labels      map[string]string
	annotations map[string]string
	spec        *corev1.PodSpec
}

// envResolver resolves the environment of the containers of one pod.
type envResolver struct {
	objs *objectStore
	opts Options
	pod  podFacts
	// warn records a warning about the declaring object (not each replica).
	warn func(string)
}

// steps resolves c's envFrom and env into the kubelet's sequence of assignments.
func (r *envResolver) steps(c *corev1.Container) ([]envStep, error) {
	var steps []envStep
	for i, from := range c.EnvFrom {
		s, err := r.envFrom(c, from)
		if err != nil {
			return nil, fmt.Errorf("envFrom[%d]: %w", i, err)
		}
		steps = append(steps, s...)
	}
	for _, e := range c.Env {
		s, ok, err := r.env(c, e)
		if err != nil {
			return nil, fmt.Errorf("env %q: %w", e.Name, err)
		}
		if ok {
			steps = append(steps, s)
		}
	}
	return steps, nil
}

func (r *envResolver) envFrom(c *corev1.Container, from corev1.EnvFromSource) ([]envStep, error) {
	var (
		kind, name string
		data       map[string]string
		secret     bool
	)
	switch {
	case from.ConfigMapRef != nil:
		kind, name = "configmap", from.ConfigMapRef.Name
		cm := r.objs.configMap(r.pod.namespace, name)
		if cm == nil {
			if isTrue(from.ConfigMapRef.Optional) {
				return nil, nil
			}
			return nil, notFound("configmap", name)
		}
		// The kubelet reads only data: binaryData never becomes environment.
		data = cm.Data
	case from.SecretRef != nil:
		kind, name, secret = "secret", from.SecretRef.Name, true
		s := r.objs.secret(r.pod.namespace, name)
		if s == nil {
			if isTrue(from.SecretRef.Optional) {
				return nil, nil
			}
			return nil, notFound("secret", name)
		}
		data = make(map[string]string, len(s))
		for k, v := range s {
			data[k] = string(v)
		}
	default:
		return nil, invalidf("neither configMapRef nor secretRef is set")
	}

	// Keys in the order the API server lists them; the kubelet itself uses a map.
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	steps := make([]envStep, 0, len(keys))
	var skipped []string
	for _, k := range keys {
		envName := from.Prefix + k
		if len(validation.IsRelaxedEnvVarName(envName)) != 0 {
			skipped = append(skipped, envName)
			continue
		}
		v := EnvVar{Name: envName, Value: data[k], Source: EnvResolved}
		if secret {
			v.Source = EnvSecret
			v.Ref = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: k,
			}}
		}
		steps = append(steps, envStep{EnvVar: v})
	}
	if len(skipped) > 0 {
		r.warn(fmt.Sprintf("container %q: keys [%s] from the envFrom %s %q were skipped: they are not valid environment variable names",
			c.Name, strings.Join(skipped, ", "), kind, name))
	}
	return steps, nil
}

// env resolves one env entry. ok is false when an optional reference is missing:
// the kubelet then leaves the variable out (an earlier envFrom value stays).
func (r *envResolver) env(c *corev1.Container, e corev1.EnvVar) (envStep, bool, error) {
	s := envStep{EnvVar: EnvVar{Name: e.Name, Value: e.Value, Source: EnvLiteral}}
	if e.Value != "" || e.ValueFrom == nil {
		return s, true, nil
	}
	from := e.ValueFrom
	s.Source = EnvResolved
	switch {
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm := r.objs.configMap(r.pod.namespace, ref.Name)
		if cm == nil {
			if isTrue(ref.Optional) {
				return s, false, nil
			}
			return s, false, notFound("configmap", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return s, false, nil
			}
			if _, bin := cm.BinaryData[ref.Key]; bin {
				return s, false, invalidf("key %q of configmap %q is binaryData, which cannot be used in env", ref.Key, ref.Name)
			}
			return s, false, invalidf("key %q not found in configmap %q", ref.Key, ref.Name)
		}
		s.Value = v
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		data := r.objs.secret(r.pod.namespace, ref.Name)
		if data == nil {
			if isTrue(ref.Optional) {
				return s, false, nil
			}
			return s, false, notFound("secret", ref.Name)
		}
		v, ok := data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return s, false, nil
			}
			return s, false, invalidf("key %q not found in secret %q", ref.Key, ref.Name)
		}
		s.Value, s.Source = string(v), EnvSecret
		s.Ref = &corev1.EnvVarSource{SecretKeyRef: ref.DeepCopy()}
	case from.FieldRef != nil:
		return r.fieldRef(s, from.FieldRef)
	case from.ResourceFieldRef != nil:
		v, err := r.resourceFieldRef(c, from.ResourceFieldRef)
		if err != nil {
			return s, false, err
		}
		s.Value = v
	default:
		return s, false, invalidf("valueFrom names no source kplay supports")
	}
	return s, true, nil
}

func (r *envResolver) fieldRef(s envStep, ref *corev1.ObjectFieldSelector) (envStep, bool, error) {
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return s, false, invalidf("fieldRef apiVersion %q is not supported: use v1", ref.APIVersion)
	}
	path := ref.FieldPath
	if m, key, ok := subscript(path); ok {
		switch m {
		case "metadata.labels":
			s.Value = r.pod.labels[key]
			return s, true, nil
		case "metadata.annotations":
			s.Value = r.pod.annotations[key]
			return s, true, nil
		}
		return s, false, invalidf("fieldRef %q is not supported", path)
	}
	switch path {
	case "metadata.name":
		s.Value = r.pod.name
	case "metadata.namespace":
		s.Value = r.pod.namespace
	case "metadata.uid":
		s.uid = true
	case "metadata.labels":
		s.Value = formatMap(r.pod.labels)
	case "metadata.annotations":
		s.Value = formatMap(r.pod.annotations)
	case "spec.nodeName":
		s.Value = r.pod.spec.NodeName
	case "spec.serviceAccountName":
		s.Value = r.pod.spec.ServiceAccountName
	case "status.hostIP", "status.hostIPs":
		s.Value = r.opts.HostIP
	case "status.podIP", "status.podIPs":
		s.Value, s.Source = "", EnvPodIP
		s.Ref = &corev1.EnvVarSource{FieldRef: ref.DeepCopy()}
		s.Ref.FieldRef.APIVersion = "v1"
	default:
		return s, false, invalidf("fieldRef %q is not supported", path)
	}
	return s, true, nil
}

// subscript splits `metadata.labels['key']` into its map path and key.
func subscript(path string) (string, string, bool) {
	if !strings.HasSuffix(path, "']") {
		return "", "", false
	}
	m, key, ok := strings.Cut(strings.TrimSuffix(path, "']"), "['")
	return m, key, ok
}

// formatMap renders a whole label or annotation map as the downward API does:
// sorted `key="value"` lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(lines, "\n")
}

// resourceFieldRef is ceil(quantity / divisor), with the node's allocatable
// resources standing in for a limit the container does not set, as the kubelet
// computes it for the downward API.
func (r *envResolver) resourceFieldRef(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		target = findContainer(r.pod.spec, ref.ContainerName)
		if target == nil {
			return "", invalidf("resourceFieldRef: container %q not found", ref.ContainerName)
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	var list corev1.ResourceList
	switch kind {
	case "limits":
		list = target.Resources.Limits
	case "requests":
		list = target.Resources.Requests
	default:
		return "", invalidf("resourceFieldRef %q is not supported", ref.Resource)
	}
	q, set := list[corev1.ResourceName(name)]
	switch corev1.ResourceName(name) {
	case corev1.ResourceCPU:
		if !set && kind == "limits" {
			q = *resource.NewMilliQuantity(r.opts.NodeCPUMillis, resource.DecimalSI)
		}
		return ceilDiv(q.MilliValue(), divisor.MilliValue()), nil
	case corev1.ResourceMemory:
		if !set && kind == "limits" {
			q = *resource.NewQuantity(r.opts.NodeMemoryBytes, resource.BinarySI)
		}
		return ceilDiv(q.Value(), divisor.Value()), nil
	case corev1.ResourceEphemeralStorage:
		if !set && kind == "limits" {
			q = *resource.NewQuantity(r.opts.NodeEphemeralStorageBytes, resource.BinarySI)
		}
		return ceilDiv(q.Value(), divisor.Value()), nil
	}
	return "", invalidf("resourceFieldRef %q is not supported", ref.Resource)
}

func ceilDiv(a, b int64) string {
	if b <= 0 {
		b = 1
	}
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return strconv.FormatInt(q, 10)
}

func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		if i := slices.IndexFunc(list, func(c corev1.Container) bool { return c.Name == name }); i >= 0 {
			return &list[i]
		}
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// finalEnv is the environment the steps leave behind: one entry per name, at the
// position where the name was first assigned, with the value of its last
// assignment. Literal values are not expanded.
func finalEnv(steps []envStep) []EnvVar {
	out := make([]EnvVar, 0, len(steps))
	at := make(map[string]int, len(steps))
	for _, s := range steps {
		if i, ok := at[s.Name]; ok {
			out[i] = s.EnvVar
			continue
		}
		at[s.Name] = len(out)
		out = append(out, s.EnvVar)
	}
	return out
}
