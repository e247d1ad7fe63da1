package plan

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Pod is the planned pod as the API server would show it: defaults filled in,
// each container's env the final list with envFrom flattened into it and values
// resolved and $(VAR)-expanded, command and args expanded. Secret values and the
// pod IP, unknown before the pod runs, appear as valueFrom references and count
// as undefined in every expansion, so no secret value can show.
func (p PodPlan) Pod() *corev1.Pod {
	pod := &corev1.Pod{}
	pod.APIVersion, pod.Kind = "v1", "Pod"
	pod.Name, pod.Namespace = p.Name, p.Namespace
	pod.UID = types.UID(p.UID)
	pod.Labels, pod.Annotations = copyMap(p.Labels), copyMap(p.Annotations)
	pod.Spec = *p.Spec.DeepCopy()
	pod.Spec.InitContainers = displayContainers(p.InitContainers, pod.Spec.InitContainers)
	pod.Spec.Containers = displayContainers(p.Containers, pod.Spec.Containers)
	pod.Status.Phase = corev1.PodPending
	return pod
}

func displayContainers(planned []Container, fallback []corev1.Container) []corev1.Container {
	if len(planned) == 0 {
		return fallback
	}
	out := make([]corev1.Container, len(planned))
	for i, c := range planned {
		cs := *c.Spec.DeepCopy()
		env, lookup := c.displayEnv()
		cs.Env, cs.EnvFrom = env, nil
		cs.Command = expandAll(c.Spec.Command, lookup)
		cs.Args = expandAll(c.Spec.Args, lookup)
		out[i] = cs
	}
	return out
}

// String is the pod's "namespace/name".
func (p PodPlan) String() string { return p.Namespace + "/" + p.Name }
