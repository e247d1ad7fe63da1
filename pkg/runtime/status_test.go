package runtime

import (
	"testing"

	"github.com/containerd/containerd/api/types/task"
	corev1 "k8s.io/api/core/v1"
)

func TestPhaseFollowsTheKubelet(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	exited := func(code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
	}
	backOff := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	pod := &podState{Infra: &ctrState{Task: &task.Process{Status: task.Status_RUNNING}}}
	for _, tt := range []struct {
		name     string
		statuses []corev1.ContainerStatus
		policy   corev1.RestartPolicy
		want     corev1.PodPhase
	}{
		{"all running", []corev1.ContainerStatus{running, running}, corev1.RestartPolicyAlways, corev1.PodRunning},
		{"one being created", []corev1.ContainerStatus{running, creating}, corev1.RestartPolicyAlways, corev1.PodPending},
		{"crash looping", []corev1.ContainerStatus{backOff}, corev1.RestartPolicyAlways, corev1.PodRunning},
		{"exited, Always restarts", []corev1.ContainerStatus{exited(1)}, corev1.RestartPolicyAlways, corev1.PodRunning},
		{"all succeeded", []corev1.ContainerStatus{exited(0), exited(0)}, corev1.RestartPolicyNever, corev1.PodSucceeded},
		{"one failed, Never", []corev1.ContainerStatus{exited(0), exited(2)}, corev1.RestartPolicyNever, corev1.PodFailed},
		{"failed, OnFailure restarting", []corev1.ContainerStatus{backOff}, corev1.RestartPolicyOnFailure, corev1.PodRunning},
		{"failed, OnFailure not restarted", []corev1.ContainerStatus{exited(1)}, corev1.RestartPolicyOnFailure, corev1.PodFailed},
	} {
		if got := pod.phase(tt.statuses, tt.policy); got != tt.want {
			t.Errorf("%s: phase = %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := (&podState{}).phase(nil, corev1.RestartPolicyAlways); got != corev1.PodPending {
		t.Errorf("pod without infra container: phase = %s, want Pending", got)
	}
}

func TestStatusBetweenTwoRunsOfTheRestartMonitor(t *testing.T) {
	watched := map[string]string{"containerd.io/restart.status": "running"}
	for name, tk := range map[string]*task.Process{
		"task deleted":          nil,
		"new task not started":  {Status: task.Status_CREATED},
		"exited, to be started": {Status: task.Status_STOPPED, ExitStatus: 1},
	} {
		c := &ctrState{Task: tk}
		c.Labels = watched
		cs := c.status()
		if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" {
			t.Errorf("%s: state %+v, want waiting CrashLoopBackOff", name, cs.State)
		}
	}
	fresh := &ctrState{}
	if cs := fresh.status(); cs.State.Waiting == nil || cs.State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("a container kplay is creating: state %+v, want waiting ContainerCreating", cs.State)
	}
}
