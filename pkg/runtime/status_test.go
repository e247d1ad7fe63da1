package runtime

import (
	"testing"
	"time"

	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/labels"
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
		cs := c.status(nil, false)
		if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" {
			t.Errorf("%s: state %+v, want waiting CrashLoopBackOff", name, cs.State)
		}
	}
	fresh := &ctrState{}
	if cs := fresh.status(nil, false); cs.State.Waiting == nil || cs.State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("a container kplay is creating: state %+v, want waiting ContainerCreating", cs.State)
	}
}

func TestStartedAtIsTheCurrentRunsStart(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	first, second := created.Add(time.Second), created.Add(time.Minute)
	exitedAt := second.Add(5 * time.Second)
	watched := map[string]string{"containerd.io/restart.status": "running"}
	for _, tt := range []struct {
		name        string
		task        *task.Process
		labels      map[string]string
		starts      []time.Time
		wantStarted time.Time // of the current state, or of lastState when waiting
		wantEnded   time.Time
	}{
		{"running after a restart", &task.Process{Status: task.Status_RUNNING}, nil, []time.Time{first, second}, second, time.Time{}},
		{"exited for good", &task.Process{Status: task.Status_STOPPED, ExitStatus: 1, ExitedAt: timestamppb.New(exitedAt)}, nil, []time.Time{first, second}, second, exitedAt},
		{"exited, to be restarted", &task.Process{Status: task.Status_STOPPED, ExitStatus: 1, ExitedAt: timestamppb.New(exitedAt)}, watched, []time.Time{first, second}, second, exitedAt},
		{"started by an older kplay", &task.Process{Status: task.Status_RUNNING}, nil, []time.Time{{}}, created, time.Time{}},
		{"finished init container", nil, map[string]string{labels.ExitCode: "0", labels.FinishedAt: exitedAt.Format(time.RFC3339Nano)}, []time.Time{first}, first, exitedAt},
	} {
		c := &ctrState{Task: tt.task}
		c.CreatedAt, c.Labels = created, tt.labels
		cs := c.status(tt.starts, false)
		var started, ended time.Time
		switch st := cs.State; {
		case st.Running != nil:
			started = st.Running.StartedAt.Time
		case st.Terminated != nil:
			started, ended = st.Terminated.StartedAt.Time, st.Terminated.FinishedAt.Time
		case cs.LastTerminationState.Terminated != nil:
			started, ended = cs.LastTerminationState.Terminated.StartedAt.Time, cs.LastTerminationState.Terminated.FinishedAt.Time
		}
		if !started.Equal(tt.wantStarted) || !ended.Equal(tt.wantEnded) {
			t.Errorf("%s: started %s, finished %s; want %s, %s", tt.name, started, ended, tt.wantStarted, tt.wantEnded)
		}
	}
}

func TestKilledForMemoryIsOOMKilled(t *testing.T) {
	killed := &task.Process{Status: task.Status_STOPPED, ExitStatus: 137}
	c := &ctrState{Task: killed}
	if cs := c.status(nil, true); cs.State.Terminated == nil || cs.State.Terminated.Reason != "OOMKilled" || cs.State.Terminated.ExitCode != 137 {
		t.Errorf("exited task with an OOM kill: state %+v, want terminated OOMKilled, exit code 137", cs.State)
	}
	if cs := c.status(nil, false); cs.State.Terminated == nil || cs.State.Terminated.Reason != "Error" {
		t.Errorf("exited task with code 137, no OOM kill: state %+v, want terminated Error", cs.State)
	}
	c.Labels = map[string]string{"containerd.io/restart.status": "running"}
	cs := c.status(nil, true)
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" ||
		cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.Reason != "OOMKilled" {
		t.Errorf("OOM-killed task to be restarted: state %+v, last state %+v; want CrashLoopBackOff after OOMKilled", cs.State, cs.LastTerminationState)
	}
	init := &ctrState{}
	init.Labels = map[string]string{labels.ExitCode: "137", labels.ExitReason: "OOMKilled"}
	if cs := init.status(nil, false); cs.State.Terminated == nil || cs.State.Terminated.Reason != "OOMKilled" {
		t.Errorf("init container kplay saw killed for memory: state %+v, want terminated OOMKilled", cs.State)
	}
}
