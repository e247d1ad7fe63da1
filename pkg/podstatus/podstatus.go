// Package podstatus is kubectl's and the kubelet's words for a pod's state: its
// phase, its STATUS column, the reasons of container exits.
package podstatus

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// OOMKilled is the kubelet's reason for a container the kernel killed for memory.
const OOMKilled = "OOMKilled"

// StatusColumn is the STATUS column of `kubectl get pods` for the pod, computed as
// kubectl's printPod does: the first init container not done, else the last app
// container's waiting or terminated reason, else the phase.
func StatusColumn(pod *corev1.Pod) string {
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for i, cs := range pod.Status.InitContainerStatuses {
		switch t, w := cs.State.Terminated, cs.State.Waiting; {
		case t != nil && t.ExitCode == 0:
			continue
		case t != nil:
			return "Init:" + terminatedWord(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			return "Init:" + w.Reason
		default:
			return fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
	}
	running := false
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		cs := pod.Status.ContainerStatuses[i]
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			reason = cs.State.Waiting.Reason
		case cs.State.Terminated != nil:
			reason = terminatedWord(cs.State.Terminated)
		case cs.Ready && cs.State.Running != nil:
			running = true
		}
	}
	if reason == "Completed" && running {
		reason = "NotReady"
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				reason = "Running"
			}
		}
	}
	return reason
}

// terminatedWord is a terminated container's reason, or kubectl's words for an exit without one.
func terminatedWord(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	}
	return fmt.Sprintf("ExitCode:%d", t.ExitCode)
}

// Sandbox is the state of a pod's infra container.
type Sandbox int

const (
	// SandboxPending has no task yet (or no infra container).
	SandboxPending Sandbox = iota
	SandboxRunning
	// SandboxDead has a task that is not running: the pod's namespaces are gone.
	SandboxDead
)

// Phase follows the API server's rules for a pod's phase.
func Phase(sandbox Sandbox, statuses []corev1.ContainerStatus, policy corev1.RestartPolicy) corev1.PodPhase {
	switch sandbox {
	case SandboxPending:
		return corev1.PodPending
	case SandboxDead:
		return corev1.PodFailed
	}
	// As the kubelet's getPhase: a container waiting to be restarted counts as stopped.
	running, stopped, succeeded, waiting := 0, 0, 0, 0
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil || cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff":
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped == 0:
		return corev1.PodPending
	case policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	case stopped == succeeded:
		return corev1.PodSucceeded
	case policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	}
	// OnFailure: restarting, or failed for good where the daemon cannot restart.
	for _, cs := range statuses {
		if cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodRunning
}

// ExitReason is the kubelet's reason for an exit. As containerd's CRI, a kill for
// memory during the run makes it OOMKilled whatever the exit code.
func ExitReason(code int32, oomKilled bool) string {
	if oomKilled {
		return OOMKilled
	}
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// Exited says how a container ended, for an error: "exited with code 137 (OOMKilled)".
func Exited(code int32, reason string) string {
	if reason == OOMKilled {
		return fmt.Sprintf("exited with code %d (%s)", code, reason)
	}
	return fmt.Sprintf("exited with code %d", code)
}
