package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/hostport"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// fakeNetwork is a Manager whose plugins and iptables are scripts that log each
// call, so a test sees which processes a teardown runs.
type fakeNetwork struct {
	*Manager
	log   string
	netns bool // the pod's pin is a real network namespace
}

func newFakeNetwork(t *testing.T) *fakeNetwork {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	script := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "firewall", "loopback"} {
		script(p, fmt.Sprintf(`echo "$CNI_COMMAND %s $CNI_IFNAME" >>%s
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;
ADD) echo '{"cniVersion":"1.0.0","ips":[{"address":"10.213.0.5/22"}]}' ;;
esac
`, p, log))
	}
	script("iptables", fmt.Sprintf("echo \"iptables $*\" >>%s\n", log))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	m, err := New(Config{PluginDirs: []string{bin}, Dirs: podstate.Layout{RunRoot: t.TempDir()}.Network()})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeNetwork{Manager: m, log: log}
}

// calls returns the calls logged since the last time, and forgets them.
func (f *fakeNetwork) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(f.log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (f *fakeNetwork) add(t *testing.T, list *libcni.NetworkConfigList, pod Pod, ifName string) {
	t.Helper()
	if _, err := f.cni.AddNetworkList(context.Background(), list, f.runtimeConf(pod, "/nonexistent", ifName)); err != nil {
		t.Fatal(err)
	}
}

// Teardown runs the chain each pod was made with, and iptables only for a pod
// of the old chain or one whose ADD was cut short after it got an address.
func TestTeardownRunsTheCachedChain(t *testing.T) {
	ports := []hostport.Port{{HostPort: 8080, ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
	legacy, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"kplay","plugins":[` +
		`{"type":"bridge","bridge":"kplay0","ipMasq":true,"ipam":{"type":"host-local"}},` +
		`{"type":"portmap","capabilities":{"portMappings":true}},{"type":"firewall"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	loopback, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"kplay-loopback","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(f *fakeNetwork, pod Pod)
		// The pod as Teardown is given it: reclaim knows only the ID.
		ports []hostport.Port
		want  []string
	}{
		{"pod without hostPorts", func(f *fakeNetwork, pod Pod) { f.add(t, f.podNet, pod, podIfName) }, nil,
			[]string{"DEL bridge eth0"}},
		{"pod with hostPorts, torn down by reclaim", func(f *fakeNetwork, pod Pod) {
			pod.Ports = ports
			f.add(t, f.podNetPorts, pod, podIfName)
		}, nil, []string{"DEL portmap eth0", "DEL bridge eth0"}},
		{"pod of kplay up to 0f21c7f", func(f *fakeNetwork, pod Pod) {
			f.add(t, loopback, pod, "lo")
			pod.Ports = ports
			f.add(t, legacy, pod, podIfName)
		}, nil, []string{"DEL firewall eth0", "DEL portmap eth0", "DEL bridge eth0", "DEL loopback lo",
			"iptables --wait -t nat -S POSTROUTING", "iptables --wait -t nat -S " + masqChain(NetworkName, "pod"),
			"iptables --wait -t nat -F " + masqChain(NetworkName, "pod"), "iptables --wait -t nat -X " + masqChain(NetworkName, "pod")}},
		// Killed before the pod had anything but its pin: no process runs.
		{"ADD cut short before an address", func(f *fakeNetwork, pod Pod) {}, ports, nil},
		// Killed between its namespace and its ADD: the bridge plugin finds the
		// namespace, portmap cannot have run (and would need the exclusive lock).
		{"hostPort pod killed before its ADD", func(f *fakeNetwork, pod Pod) { f.netns = true }, ports,
			[]string{"DEL bridge eth0"}},
		{"ADD cut short after an address", func(f *fakeNetwork, pod Pod) {
			dir := filepath.Join(f.ipamDir, NetworkName)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "10.213.0.5"), []byte("pod\r\neth0"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, []string{"DEL bridge eth0", "iptables --wait -t nat -S", "iptables --wait -t filter -S CNI-FORWARD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNetwork(t)
			pod := Pod{ID: "pod", Namespace: "default", Name: "web"}
			tt.setup(f, pod)
			if err := os.MkdirAll(f.netnsDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if f.netns {
				if err := createNetNS(f.NetNSPath(pod.ID)); err != nil {
					t.Skipf("cannot create a network namespace: %v", err)
				}
			} else if err := os.WriteFile(f.NetNSPath(pod.ID), nil, 0o444); err != nil {
				// A pin that is no namespace: Teardown runs DEL when the pod has state.
				t.Fatal(err)
			}
			f.calls(t)
			pod.Ports = tt.ports
			if err := f.Teardown(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			if got := f.calls(t); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if f.hasCache(pod.ID) {
				t.Error("a cache entry is left")
			}
		})
	}
}
