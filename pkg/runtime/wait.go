package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/podstatus"
	"github.com/kplay-dev/kplay/pkg/probe"
)

// probeState tracks one container's startup and readiness probes as the kubelet does.
type probeState struct {
	container string
	startup   *corev1.Probe
	readiness *corev1.Probe
	started   bool // the startup probe passed (or there is none)
	ready     bool
	fails     int
	next      time.Time
	lastErr   error
}

func (s *probeState) current() *corev1.Probe {
	if !s.started {
		return s.startup
	}
	return s.readiness
}

// Wait returns when every pod of the plan is running and ready (or, with restartPolicy
// Never or OnFailure, completed), evaluating startup and readiness probes on the way.
// It fails with the pod, container, state and last log lines of a pod that fails, or,
// at the timeout, with what it was still waiting for.
func (r *Runtime) Wait(ctx context.Context, p *plan.Plan, timeout time.Duration) error {
	ctx = r.context(ctx)
	deadline := time.Now().Add(timeout)
	probes := map[string][]*probeState{}
	for i := range p.Pods {
		pp := &p.Pods[i]
		for _, c := range pp.Containers {
			s := &probeState{container: c.Name, startup: c.Spec.StartupProbe, readiness: c.Spec.ReadinessProbe}
			s.started = s.startup == nil
			s.ready = s.readiness == nil && s.startup == nil
			if pr := s.current(); pr != nil {
				s.next = time.Now().Add(time.Duration(pr.InitialDelaySeconds) * time.Second)
			}
			probes[pp.Namespace+"/"+pp.Name] = append(probes[pp.Namespace+"/"+pp.Name], s)
		}
	}
	for {
		pods, err := r.pods(ctx)
		if err != nil {
			return err
		}
		var waiting []string
		for i := range p.Pods {
			pp := &p.Pods[i]
			st := pods[pp.Namespace+"/"+pp.Name]
			done, why, err := r.check(ctx, pp, st, probes[pp.Namespace+"/"+pp.Name])
			if err != nil {
				return err
			}
			if !done {
				waiting = append(waiting, fmt.Sprintf("pod %s/%s: %s", pp.Namespace, pp.Name, why))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for pods to be ready:\n  %s", timeout, strings.Join(waiting, "\n  "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// check looks at one pod: done, or why not yet, or an error when it failed for good.
func (r *Runtime) check(ctx context.Context, pp *plan.PodPlan, st *podState, probes []*probeState) (bool, string, error) {
	if st == nil || st.Infra == nil {
		return false, "", fmt.Errorf("pod %s/%s is gone", pp.Namespace, pp.Name)
	}
	pod := r.pod(ctx, st)
	policy := pp.Spec.RestartPolicy
	if pod.Status.Phase == corev1.PodSucceeded {
		return true, "", nil
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && !r.restarts(policy) {
			return false, "", r.failure(ctx, st, cs.Name, podstatus.Exited(t.ExitCode, t.Reason))
		}
	}
	podIP := st.labels().PodIP()
	var why []string
	for _, cs := range pod.Status.ContainerStatuses {
		var s *probeState
		for _, ps := range probes {
			if ps.container == cs.Name {
				s = ps
			}
		}
		switch {
		case cs.State.Running == nil && cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 && policy != corev1.RestartPolicyAlways:
			continue // completed
		case cs.State.Running == nil:
			why = append(why, fmt.Sprintf("container %q is %s", cs.Name, stateWord(cs)))
			continue
		}
		if s == nil {
			continue
		}
		r.probe(ctx, st, podIP, containerPorts(pp, cs.Name), s)
		if !s.started {
			why = append(why, fmt.Sprintf("container %q startup probe has not passed: %v", cs.Name, s.lastErr))
		} else if !s.ready {
			why = append(why, fmt.Sprintf("container %q is not ready: readiness probe: %v", cs.Name, s.lastErr))
		}
	}
	if len(why) > 0 {
		return false, strings.Join(why, "; "), nil
	}
	return true, "", nil
}

func stateWord(cs corev1.ContainerStatus) string {
	switch {
	case cs.State.Waiting != nil:
		return cs.State.Waiting.Reason
	case cs.State.Terminated != nil:
		return fmt.Sprintf("terminated with exit code %d", cs.State.Terminated.ExitCode)
	}
	return "running"
}

// failure is the error for a container that failed, with its last log lines.
func (r *Runtime) failure(ctx context.Context, st *podState, container, what string) error {
	var tail bytes.Buffer
	_ = logs.Read(ctx, r.dirs(st.labels().UID()).Log(container), logs.ReadOptions{Tail: 10}, &tail, nil)
	msg := strings.TrimRight(tail.String(), "\n")
	if msg != "" {
		msg = ", last log lines:\n" + msg
	}
	return fmt.Errorf("pod %s: container %q %s%s", st.key(), container, what, msg)
}

// probe runs the container's current probe when it is due and records the result,
// also as a label so ps shows the readiness kplay last saw.
func (r *Runtime) probe(ctx context.Context, st *podState, podIP string, ports []corev1.ContainerPort, s *probeState) {
	pr := s.current()
	if pr == nil || time.Now().Before(s.next) {
		return
	}
	period := time.Duration(pr.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	s.next = time.Now().Add(period)
	err := r.runProbe(ctx, st, podIP, s.container, ports, pr)
	s.lastErr = err
	if err != nil {
		s.fails++
		threshold := int(pr.FailureThreshold)
		if threshold <= 0 {
			threshold = 3
		}
		if s.started && s.ready && s.fails >= threshold {
			s.ready = false
			r.setReady(ctx, st, s.container, false)
		}
		return
	}
	s.fails = 0
	if !s.started {
		s.started = true
		if s.readiness != nil {
			s.next = time.Now().Add(time.Duration(s.readiness.InitialDelaySeconds) * time.Second)
			return
		}
	}
	if !s.ready {
		s.ready = true
		r.setReady(ctx, st, s.container, true)
	}
}

func (r *Runtime) setReady(ctx context.Context, st *podState, container string, ready bool) {
	for _, c := range st.Containers {
		if c.labels().Container() == container {
			r.client.ContainerService().Update(ctx, c.Container, podstate.SetReady(&c.Container, ready)...)
		}
	}
}

// runProbe runs one exec, httpGet or tcpSocket probe.
func (r *Runtime) runProbe(ctx context.Context, st *podState, podIP, container string, ports []corev1.ContainerPort, pr *corev1.Probe) error {
	timeout := time.Duration(pr.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case pr.Exec != nil:
		var out bytes.Buffer
		code, err := r.Exec(ctx, ExecOptions{Namespace: st.Namespace, Pod: st.Name, Container: container, Args: pr.Exec.Command, Stdout: &out, Stderr: &out})
		if err != nil {
			return err
		}
		if code != 0 {
			msg := fmt.Sprintf("command %q exited with code %d", strings.Join(pr.Exec.Command, " "), code)
			if o := strings.TrimSpace(out.String()); o != "" {
				msg += ": " + o
			}
			return errors.New(msg)
		}
		return nil
	case pr.HTTPGet != nil, pr.TCPSocket != nil, pr.GRPC != nil:
		return probe.Network(ctx, pr.ProbeHandler, podIP, ports)
	}
	return errors.New("probe has no handler")
}

func containerPorts(pp *plan.PodPlan, name string) []corev1.ContainerPort {
	for _, c := range pp.Containers {
		if c.Name == name {
			return c.Spec.Ports
		}
	}
	return nil
}
