package podstate

import (
	"reflect"
	"testing"

	"github.com/containerd/containerd/v2/pkg/filters"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/labels"
	"github.com/kplay-dev/kplay/pkg/plan"
	"time"
)

func TestPortsLabel(t *testing.T) {
	ports := []hostport.Port{
		{HostPort: 8080, ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{HostIP: "0.0.0.0", HostPort: 8081, ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		{HostIP: "::1", HostPort: 9090, ContainerPort: 90, Protocol: corev1.ProtocolTCP},
		{HostIP: "::", HostPort: 9091, ContainerPort: 91, Protocol: corev1.ProtocolSCTP},
	}
	label := portsLabel(ports)
	if want := ":8080:80/tcp,0.0.0.0:8081:80/tcp,127.0.0.1:5353:53/udp,::1:9090:90/tcp,:::9091:91/sctp"; label != want {
		t.Errorf("portsLabel = %q, want %q (the format older kplays read)", label, want)
	}
	if got := parsePorts(label); !reflect.DeepEqual(got, ports) {
		t.Errorf("parsePorts(%q) =\n%+v, want\n%+v", label, got, ports)
	}
	// Labels that older kplays wrote, and the empty label of a pod without ports.
	for label, want := range map[string][]hostport.Port{
		"":                     nil,
		":45678:80/tcp":        {{HostPort: 45678, ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
		"::1:45678:80/tcp":     {{HostIP: "::1", HostPort: 45678, ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
		"x:1:2/tcp,:3:3/udp":   {{HostIP: "x", HostPort: 1, ContainerPort: 2, Protocol: corev1.ProtocolTCP}, {HostPort: 3, ContainerPort: 3, Protocol: corev1.ProtocolUDP}},
		"8080:80/tcp,:bad:1/x": nil,
	} {
		if got := parsePorts(label); !reflect.DeepEqual(got, want) {
			t.Errorf("parsePorts(%q) = %+v, want %+v", label, got, want)
		}
	}
}

func TestInfraLabelsRoundTrip(t *testing.T) {
	grace := int64(5)
	pp := &plan.PodPlan{Namespace: "ns", Name: "web-0", UID: "u1", Owner: plan.Owner{Kind: "Deployment", Name: "web"},
		Source: "/app.yaml", Hash: "h1", VolumeDataHash: "v1", Labels: map[string]string{"app": "web"},
		HostPorts:  []hostport.Port{{HostPort: 8080, ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
		Volumes:    []plan.Volume{{Name: "data", Claim: &plan.ClaimVolume{Namespace: "ns", ClaimName: "c1"}}},
		Containers: []plan.Container{{Name: "a"}, {Name: "b"}}}
	pp.Spec.RestartPolicy = corev1.RestartPolicyAlways
	pp.Spec.TerminationGracePeriodSeconds = &grace
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	l := Labels(InfraLabels(pp, created, "/bin/kplay"))
	for _, c := range []struct{ got, want any }{
		{l.Managed(), true}, {l.IsInfra(), true}, {l.Key(), "ns/web-0"}, {l.UID(), "u1"},
		{l.Owner(), "Deployment/web"}, {l.Source(), "/app.yaml"}, {l.SpecHash(), "h1"}, {l.VolumeDataHash(), "v1"},
		{l.Created(), created}, {l.RestartPolicy(), corev1.RestartPolicyAlways}, {l.Binary(), "/bin/kplay"},
		{l.HostNetwork(), false}, {l.Complete(), false}, {l.Ports(), pp.HostPorts},
		{l.Claims(), []string{"ns/c1"}}, {l.AppContainers(), []string{"a", "b"}},
		{l.PodLabels(), map[string]string{"app": "web"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("got %#v, want %#v", c.got, c.want)
		}
	}
	if g, ok := l.GracePeriod(); g != 5 || !ok {
		t.Errorf("GracePeriod = %d, %v", g, ok)
	}
	l = Labels(merge(l, CompleteLabel(), PodIPLabel("10.1.2.3"), ConfigErrorLabel("b", "refused")))
	if !l.Complete() || l.PodIP() != "10.1.2.3" || !reflect.DeepEqual(l.ConfigErrors(), map[string]string{"b": "refused"}) {
		t.Errorf("after updates: %v", l)
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestContainerLabelsRoundTrip(t *testing.T) {
	pp := &plan.PodPlan{Namespace: "default", Name: "p"}
	c := &plan.Container{Name: "init", Init: true}
	c.Spec.ReadinessProbe = &corev1.Probe{}
	l := Labels(ContainerLabels(pp, c, 2))
	if !l.IsInit() || l.Container() != "init" || l.Index() != 2 || l.Ready() {
		t.Errorf("container labels read back wrong: %v", l)
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	l = Labels(merge(l, ExitLabels(Exit{Code: 137, Reason: "OOMKilled", FinishedAt: at})))
	if e, ok := l.Exit(); !ok || e != (Exit{Code: 137, Reason: "OOMKilled", FinishedAt: at}) {
		t.Errorf("Exit = %+v, %v", e, ok)
	}
}

// Labels older kplays wrote: no ready, exit reason, finish time, grace period or pod
// labels; an exit code with spaces; an infra container without a containers list.
func TestOlderLabels(t *testing.T) {
	l := Labels{"io.kplay.role": "init", "io.kplay.exit-code": " 3", "io.kplay.container.index": "x"}
	if e, ok := l.Exit(); !ok || e.Code != 3 || e.Reason != "" || !e.FinishedAt.IsZero() {
		t.Errorf("Exit = %+v, %v", e, ok)
	}
	if !l.Ready() || l.Index() != 0 || l.PodLabels() != nil || l.AppContainers() != nil || l.Claims() != nil {
		t.Errorf("defaults of old labels wrong: %v", l)
	}
	if _, ok := l.GracePeriod(); ok {
		t.Error("GracePeriod known without its label")
	}
	if !l.Created().IsZero() {
		t.Error("Created without its label is not zero")
	}
	if Labels(map[string]string{}).Managed() {
		t.Error("a container without a role is kplay's")
	}
}

// PodFilter, as containerd parses it, selects the containers of that pod only.
func TestPodFilter(t *testing.T) {
	f, err := filters.Parse(PodFilter("team-a", "web-0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ns, name string
		want     bool
	}{
		{"team-a", "web-0", true},
		{"team-a", "web-01", false},
		{"team-b", "web-0", false},
		{"default", "web-0", false},
	} {
		l := map[string]string{labels.PodNamespace: tt.ns, labels.PodName: tt.name}
		got := f.Match(filters.AdapterFunc(func(fp []string) (string, bool) {
			if len(fp) == 2 && fp[0] == "labels" {
				v, ok := l[fp[1]]
				return v, ok
			}
			return "", false
		}))
		if got != tt.want {
			t.Errorf("pod %s/%s: matched %v, want %v", tt.ns, tt.name, got, tt.want)
		}
	}
}
