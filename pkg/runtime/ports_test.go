package runtime

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
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
