package runtime

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/podstatus"
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
	case pr.HTTPGet != nil:
		g := pr.HTTPGet
		host := g.Host
		if host == "" {
			host = podIP
		}
		port, err := probePort(g.Port, ports)
		if err != nil {
			return err
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), g.Path)
		return httpProbe(ctx, url, g.HTTPHeaders)
	case pr.TCPSocket != nil:
		host := pr.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := probePort(pr.TCPSocket.Port, ports)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case pr.GRPC != nil:
		return grpcProbe(ctx, net.JoinHostPort(podIP, strconv.Itoa(int(pr.GRPC.Port))), pr.GRPC.Service)
	}
	return errors.New("probe has no handler")
}

// probeClient probes as the kubelet's: certificates are not verified (a probe checks
// that the server answers, not who it is), no connection is kept, and a redirect to
// another host is not followed but counts as the answer.
var probeClient = &http.Client{
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
		Proxy:             nil,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Hostname() != via[0].URL.Hostname() {
			return http.ErrUseLastResponse
		}
		return nil
	},
}

// httpProbe GETs url with the probe's headers. A Host header sets the request's host,
// and the kubelet's User-Agent and Accept are sent unless the probe sets its own.
func httpProbe(ctx context.Context, url string, headers []corev1.HTTPHeader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	set := map[string]bool{}
	for _, h := range headers {
		name := http.CanonicalHeaderKey(h.Name)
		if name == "Host" {
			req.Host = h.Value
			continue
		}
		if !set[name] {
			req.Header.Del(name) // the probe's own value replaces the default
			set[name] = true
		}
		req.Header.Add(name, h.Value)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// probeUserAgent is what the kubelet sends, with the Kubernetes version kplay follows.
const probeUserAgent = "kube-probe/1.37"

// grpcProbe asks the gRPC health service, as the kubelet does: SERVING passes.
func grpcProbe(ctx context.Context, addr string, service *string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	req := &healthpb.HealthCheckRequest{}
	if service != nil {
		req.Service = *service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, req)
	if err != nil {
		return fmt.Errorf("gRPC health check of %s: %w", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("gRPC health check of %s: %s", addr, resp.GetStatus())
	}
	return nil
}

// probePort resolves a probe's port, by number or by the name of a container port.
func probePort(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("the container has no port named %q", p.StrVal)
}

func containerPorts(pp *plan.PodPlan, name string) []corev1.ContainerPort {
	for _, c := range pp.Containers {
		if c.Name == name {
			return c.Spec.Ports
		}
	}
	return nil
}
