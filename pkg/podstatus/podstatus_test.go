package podstatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestStatusColumnFollowsKubectl(t *testing.T) {
	running := corev1.ContainerStatus{Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	notReady := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
	}
	ended := func(code int32, reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}
	}
	backOffAfter := func(reason string) corev1.ContainerStatus {
		cs := waiting("CrashLoopBackOff")
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: reason}
		return cs
	}
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	for _, tt := range []struct {
		name       string
		phase      corev1.PodPhase
		init, apps []corev1.ContainerStatus
		conditions []corev1.PodCondition
		want       string
	}{
		{"running", corev1.PodRunning, nil, []corev1.ContainerStatus{running}, ready, "Running"},
		{"running, not ready", corev1.PodRunning, nil, []corev1.ContainerStatus{notReady}, nil, "Running"},
		{"being created", corev1.PodPending, nil, []corev1.ContainerStatus{waiting("ContainerCreating")}, nil, "ContainerCreating"},
		{"killed for memory", corev1.PodFailed, nil, []corev1.ContainerStatus{ended(137, "OOMKilled")}, nil, "OOMKilled"},
		{"failed", corev1.PodFailed, nil, []corev1.ContainerStatus{ended(1, "Error")}, nil, "Error"},
		{"crash looping after OOM", corev1.PodRunning, nil, []corev1.ContainerStatus{backOffAfter("OOMKilled")}, nil, "CrashLoopBackOff"},
		{"completed", corev1.PodSucceeded, nil, []corev1.ContainerStatus{ended(0, "Completed")}, nil, "Completed"},
		{"one completed, one running, pod ready", corev1.PodRunning, nil, []corev1.ContainerStatus{ended(0, "Completed"), running}, ready, "Running"},
		{"one completed, one running, pod not ready", corev1.PodRunning, nil, []corev1.ContainerStatus{ended(0, "Completed"), running}, nil, "NotReady"},
		{"the first container's reason wins", corev1.PodRunning, nil, []corev1.ContainerStatus{ended(1, "Error"), waiting("CreateContainerConfigError")}, nil, "Error"},
		{"exit without reason", corev1.PodFailed, nil, []corev1.ContainerStatus{ended(3, "")}, nil, "ExitCode:3"},
		{"first init running", corev1.PodPending, []corev1.ContainerStatus{running, waiting("PodInitializing")}, []corev1.ContainerStatus{waiting("PodInitializing")}, nil, "Init:0/2"},
		{"second init running", corev1.PodPending, []corev1.ContainerStatus{ended(0, "Completed"), running}, []corev1.ContainerStatus{waiting("PodInitializing")}, nil, "Init:1/2"},
		{"init failed", corev1.PodFailed, []corev1.ContainerStatus{ended(7, "Error")}, []corev1.ContainerStatus{waiting("PodInitializing")}, nil, "Init:Error"},
		{"init killed for memory", corev1.PodFailed, []corev1.ContainerStatus{ended(137, "OOMKilled")}, []corev1.ContainerStatus{waiting("PodInitializing")}, nil, "Init:OOMKilled"},
		{"init refused", corev1.PodPending, []corev1.ContainerStatus{waiting("CreateContainerConfigError")}, []corev1.ContainerStatus{waiting("PodInitializing")}, nil, "Init:CreateContainerConfigError"},
		{"inits done", corev1.PodRunning, []corev1.ContainerStatus{ended(0, "Completed")}, []corev1.ContainerStatus{running}, ready, "Running"},
	} {
		pod := &corev1.Pod{}
		pod.Status.Phase, pod.Status.Conditions = tt.phase, tt.conditions
		pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses = tt.init, tt.apps
		pod.Spec.InitContainers = make([]corev1.Container, len(tt.init))
		pod.Spec.Containers = make([]corev1.Container, len(tt.apps))
		if got := StatusColumn(pod); got != tt.want {
			t.Errorf("%s: STATUS %q, want %q", tt.name, got, tt.want)
		}
	}
}
