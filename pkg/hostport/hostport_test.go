package hostport

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestOverlaps(t *testing.T) {
	tcp := func(ip string) Port { return Port{HostIP: ip, HostPort: 8080, Protocol: corev1.ProtocolTCP} }
	tests := []struct {
		name string
		a, b Port
		want bool
	}{
		{"empty and empty", tcp(""), tcp(""), true},
		{"empty and 0.0.0.0", tcp(""), tcp("0.0.0.0"), true},
		{"empty and ::", tcp(""), tcp("::"), true},
		{"0.0.0.0 and :: (a :: listener takes IPv4 too)", tcp("0.0.0.0"), tcp("::"), true},
		{"0.0.0.0 and a specific IPv4 address", tcp("0.0.0.0"), tcp("127.0.0.1"), true},
		{"0.0.0.0 and a specific IPv6 address", tcp("0.0.0.0"), tcp("::1"), true},
		{"empty and a specific address", tcp(""), tcp("10.1.2.3"), true},
		{":: and a specific IPv4 address", tcp("::"), tcp("127.0.0.1"), true},
		{"the same address", tcp("127.0.0.1"), tcp("127.0.0.1"), true},
		{"the same IPv6 address, written differently", tcp("::1"), tcp("0:0:0:0:0:0:0:1"), true},
		{"an IPv4-mapped address and its IPv4 address", tcp("::ffff:127.0.0.1"), tcp("127.0.0.1"), true},
		{"two IPv4 addresses", tcp("127.0.0.1"), tcp("127.0.0.2"), false},
		{"IPv4 and IPv6 loopback", tcp("127.0.0.1"), tcp("::1"), false},
		{"other port", tcp(""), Port{HostPort: 8081, Protocol: corev1.ProtocolTCP}, false},
		{"TCP and UDP", tcp(""), Port{HostPort: 8080, Protocol: corev1.ProtocolUDP}, false},
		{"UDP and SCTP", Port{HostPort: 8080, Protocol: corev1.ProtocolUDP}, Port{HostPort: 8080, Protocol: corev1.ProtocolSCTP}, false},
		{"no protocol is TCP", Port{HostPort: 8080}, tcp("0.0.0.0"), true},
		{"protocol in lower case (CNI's cache)", Port{HostPort: 8080, Protocol: "udp"}, Port{HostPort: 8080, Protocol: corev1.ProtocolUDP}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Overlaps(tt.b); got != tt.want {
				t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := tt.b.Overlaps(tt.a); got != tt.want {
				t.Errorf("%s overlaps %s = %v, want %v (the rule is symmetric)", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tt := range []struct {
		port Port
		want string
	}{
		{Port{HostPort: 80}, "80/TCP"},
		{Port{HostIP: "0.0.0.0", HostPort: 80, Protocol: corev1.ProtocolUDP}, "0.0.0.0:80/UDP"},
		{Port{HostIP: "::1", HostPort: 80, Protocol: "sctp"}, "[::1]:80/SCTP"},
	} {
		if got := tt.port.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.port, got, tt.want)
		}
	}
}

func TestPod(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "setup", Ports: []corev1.ContainerPort{{ContainerPort: 1, HostPort: 1}}},
			{Name: "proxy", RestartPolicy: &always, Ports: []corev1.ContainerPort{{ContainerPort: 2, HostPort: 2002, HostIP: "::"}}},
		},
		Containers: []corev1.Container{
			{Name: "web", Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, HostPort: 5353, Protocol: corev1.ProtocolUDP}}},
		},
	}
	got := Pod(&spec)
	want := []Declared{
		{Port: Port{Container: "proxy", HostIP: "::", HostPort: 2002, ContainerPort: 2, Protocol: corev1.ProtocolTCP}, Init: true, Index: 1, PortIndex: 0},
		{Port: Port{Container: "web", HostPort: 5353, ContainerPort: 53, Protocol: corev1.ProtocolUDP}, Index: 0, PortIndex: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pod() = %+v\nwant %+v", got, want)
	}
	if p := got[0].Path(field.NewPath("spec")).String(); p != "spec.initContainers[1].ports[0].hostPort" {
		t.Errorf("path = %s", p)
	}

	spec.HostNetwork = true
	got = Pod(&spec)
	if len(got) != 3 || got[1].HostPort != 80 || got[1].ContainerPort != 80 {
		t.Errorf("with hostNetwork every containerPort is a host port: %+v", got)
	}
}
