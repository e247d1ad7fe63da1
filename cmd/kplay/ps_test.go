package main

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/plan"
)

func TestPortsColumn(t *testing.T) {
	got := portsColumn([]plan.HostPort{
		{HostPort: 45678, ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: corev1.ProtocolUDP},
	})
	if want := "45678->80/tcp,127.0.0.1:5353->53/udp"; got != want {
		t.Errorf("portsColumn = %q, want %q", got, want)
	}
}

func TestEmptyListsHaveEmptyItems(t *testing.T) {
	for _, tt := range []struct {
		name string
		list any
	}{
		{"ps", podList(nil)},
		{"up --dry-run", dryRunList(&plan.Plan{})},
	} {
		for format, want := range map[string]string{"json": `"items": []`, "yaml": "items: []"} {
			var out bytes.Buffer
			if err := printObject(&out, format, tt.list); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s -o %s with no pods:\n%s\nwant %s", tt.name, format, out.String(), want)
			}
		}
	}
}
