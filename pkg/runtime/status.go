package runtime

import (
	"context"
	"time"

	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/runtime/restart"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kplay-dev/kplay/pkg/hook"
	"github.com/kplay-dev/kplay/pkg/podstatus"
)

// List reports every kplay pod as the API server would: a corev1.Pod with status
// filled from containerd; kplay's own facts (owner, source file, spec hash, ports)
// are annotations.
func (r *Runtime) List(ctx context.Context) ([]corev1.Pod, error) {
	pods, err := r.pods(r.context(ctx))
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range sortedPods(pods) {
		out = append(out, r.pod(ctx, p))
	}
	return out, nil
}

func (r *Runtime) pod(ctx context.Context, p *podState) corev1.Pod {
	var pod corev1.Pod
	pod.APIVersion, pod.Kind = "v1", "Pod"
	pod.Name, pod.Namespace = p.Name, p.Namespace
	l := p.labels()
	pod.UID = types.UID(l.UID())
	pod.CreationTimestamp = metav1.NewTime(l.Created())
	pod.Labels = l.PodLabels()
	pod.Annotations = l.Annotations()
	pod.Spec.RestartPolicy = l.RestartPolicy()
	pod.Spec.HostNetwork = l.HostNetwork()
	pod.Status.PodIP = l.PodIP()
	if pod.Status.PodIP != "" {
		pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
	}
	if p.Infra != nil {
		pod.Status.StartTime = &pod.CreationTimestamp
	}
	oom := r.oomKilled(ctx, p)
	for _, c := range p.Containers {
		starts := hook.Starts(r.dirs(l.UID()).Starts(c.labels().Container()))
		cs := c.status(starts, oom[c.ID])
		cs.RestartCount = hook.Restarts(starts)
		spec := corev1.Container{Name: cs.Name, Image: cs.Image}
		if c.labels().IsInit() {
			pod.Spec.InitContainers = append(pod.Spec.InitContainers, spec)
			pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, cs)
		} else {
			pod.Spec.Containers = append(pod.Spec.Containers, spec)
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, cs)
		}
	}
	// App containers not created yet (init containers still run, or kplay refused
	// them) wait, as the kubelet shows.
	refused := p.configErrors()
	if names := l.AppContainers(); len(names) > 0 {
		have := map[string]bool{}
		for _, cs := range pod.Status.ContainerStatuses {
			have[cs.Name] = true
		}
		for _, name := range names {
			if !have[name] {
				waiting := &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
				if msg, ok := refused[name]; ok {
					waiting = &corev1.ContainerStateWaiting{Reason: reasonConfigError, Message: msg}
				}
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: name})
				pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
					Name: name, State: corev1.ContainerState{Waiting: waiting}})
			}
			delete(refused, name)
		}
	}
	// What is left is the init container the pod is stuck at.
	for name, msg := range refused {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: name})
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{
			Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonConfigError, Message: msg}}})
	}
	pod.Status.Phase = p.phase(pod.Status.ContainerStatuses, pod.Spec.RestartPolicy)
	ready := pod.Status.Phase == corev1.PodRunning
	for _, cs := range pod.Status.ContainerStatuses {
		ready = ready && cs.Ready
	}
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: cond},
		{Type: corev1.ContainersReady, Status: cond},
	}
	return pod
}

// phase follows the API server's rules for a pod's phase.
func (p *podState) phase(statuses []corev1.ContainerStatus, policy corev1.RestartPolicy) corev1.PodPhase {
	sandbox := podstatus.SandboxRunning
	switch {
	case p.Infra == nil || p.Infra.Task == nil:
		sandbox = podstatus.SandboxPending
	case !p.Infra.running():
		sandbox = podstatus.SandboxDead
	}
	return podstatus.Phase(sandbox, statuses, policy)
}

// status is the container's state in the kubelet's words. starts are its starts as the
// hook recorded them; oomKilled says the kernel killed its exited task for memory.
func (c *ctrState) status(starts []time.Time, oomKilled bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:        c.labels().Container(),
		Image:       c.Image,
		ContainerID: "containerd://" + c.ID,
	}
	// The current run, or the last one when none runs; the creation time for a
	// container whose starts have no time (made by an older kplay).
	started := metav1.NewTime(c.CreatedAt)
	if n := len(starts); n > 0 && !starts[n-1].IsZero() {
		started = metav1.NewTime(starts[n-1])
	}
	exit, hasExit := c.labels().Exit()
	switch {
	case c.Task == nil && hasExit:
		reason := exit.Reason
		if reason == "" {
			reason = podstatus.ExitReason(exit.Code, false)
		}
		t := &corev1.ContainerStateTerminated{ExitCode: exit.Code, Reason: reason, StartedAt: started}
		if !exit.FinishedAt.IsZero() {
			t.FinishedAt = metav1.NewTime(exit.FinishedAt)
		}
		cs.State.Terminated = t
	case c.Task != nil && (c.Task.Status == task.Status_RUNNING || c.Task.Status == task.Status_PAUSED):
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
		cs.Ready, cs.Started = c.labels().Ready(), ptr(true)
	case c.Task != nil && c.Task.Status == task.Status_STOPPED:
		code := int32(c.Task.ExitStatus)
		t := &corev1.ContainerStateTerminated{ExitCode: code, Reason: podstatus.ExitReason(code, oomKilled), StartedAt: started}
		if c.Task.ExitedAt != nil {
			t.FinishedAt = metav1.NewTime(c.Task.ExitedAt.AsTime())
		}
		if restarting(c.Labels, code) {
			// The restart monitor will start it again: kubectl calls that a back-off.
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
			cs.LastTerminationState.Terminated = t
		} else {
			cs.State.Terminated = t
		}
	case c.Labels[restart.StatusLabel] == "running":
		// kplay hands a container to the restart monitor after its first start, so
		// this one ran, and the monitor is between deleting its task and starting
		// the next one.
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return cs
}

// restarting reports whether containerd's restart monitor will start an exited
// container again: it watches it, and its policy is not on-failure after a clean exit.
func restarting(l map[string]string, code int32) bool {
	return l[restart.StatusLabel] == "running" && !(l[restart.PolicyLabel] == "on-failure" && code == 0)
}

func ptr[T any](v T) *T { return &v }
