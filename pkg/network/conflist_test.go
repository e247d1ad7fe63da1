package network

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"

	"github.com/kplay-dev/kplay/pkg/podstate"
)

func TestPodConfList(t *testing.T) {
	for hostPorts, want := range map[bool]string{false: "bridge", true: "bridge,portmap"} {
		b := podConfList("kplay0", netip.MustParsePrefix("10.213.0.0/22"), "/run/kplay/network/ipam", hostPorts)
		list, err := libcni.ConfListFromBytes(b)
		if err != nil {
			t.Fatalf("libcni rejects the conflist: %v\n%s", err, b)
		}
		// One name for both: libcni's cache of a pod is found without knowing which.
		if list.Name != "kplay" || list.CNIVersion != "1.0.0" {
			t.Errorf("name %q version %q", list.Name, list.CNIVersion)
		}
		var types []string
		for _, p := range list.Plugins {
			types = append(types, p.Network.Type)
		}
		if strings.Join(types, ",") != want {
			t.Errorf("hostPorts %v: plugins %v, want %s", hostPorts, types, want)
		}
		if hostPorts && !list.Plugins[1].Network.Capabilities["portMappings"] {
			t.Errorf("portmap lacks the portMappings capability")
		}
		checkBridgeConf(t, list)
	}
}

func checkBridgeConf(t *testing.T, list *libcni.NetworkConfigList) {
	t.Helper()

	var bridge struct {
		Bridge      string `json:"bridge"`
		IsGateway   bool   `json:"isGateway"`
		IPMasq      bool   `json:"ipMasq"`
		HairpinMode bool   `json:"hairpinMode"`
		IPAM        struct {
			Type    string                `json:"type"`
			DataDir string                `json:"dataDir"`
			Ranges  [][]map[string]string `json:"ranges"`
			Routes  []map[string]string   `json:"routes"`
		} `json:"ipam"`
	}
	if err := json.Unmarshal(list.Plugins[0].Bytes, &bridge); err != nil {
		t.Fatal(err)
	}
	// ipMasq would add a chain per pod: the subnet's shared rule masquerades.
	if bridge.Bridge != "kplay0" || !bridge.IsGateway || bridge.IPMasq || !bridge.HairpinMode {
		t.Errorf("bridge plugin config %+v", bridge)
	}
	if bridge.IPAM.Type != "host-local" || bridge.IPAM.DataDir != "/run/kplay/network/ipam" ||
		len(bridge.IPAM.Ranges) != 1 || bridge.IPAM.Ranges[0][0]["subnet"] != "10.213.0.0/22" ||
		len(bridge.IPAM.Routes) != 1 || bridge.IPAM.Routes[0]["dst"] != "0.0.0.0/0" {
		t.Errorf("ipam config %+v", bridge.IPAM)
	}
}

func TestNewChecksPluginsAndSubnet(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"bridge", "host-local"} { // no portmap
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	other := t.TempDir()
	_, err := New(Config{PluginDirs: []string{other, dir}, Dirs: podstate.Layout{RunRoot: t.TempDir()}.Network()})
	if err == nil || !strings.Contains(err.Error(), `"portmap"`) || !strings.Contains(err.Error(), other+", "+dir) {
		t.Errorf("missing plugin error = %v, want it to name portmap and both directories", err)
	}

	if err := os.WriteFile(filepath.Join(dir, "portmap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{PluginDirs: []string{dir}, Dirs: podstate.Layout{RunRoot: t.TempDir()}.Network()}); err != nil {
		t.Errorf("all plugins present: %v", err)
	}
	for _, bad := range []string{"10.213.0.0", "fd00::/64", "10.213.0.0/31", "banana"} {
		_, err := New(Config{PluginDirs: []string{dir}, Dirs: podstate.Layout{RunRoot: t.TempDir()}.Network(), Subnet: bad})
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("subnet %q: err = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestCachedID(t *testing.T) {
	tests := map[string]string{
		"kplay-abc-def-eth0":        "abc-def",
		"kplay-loopback-abc-def-lo": "abc-def",
		"kplay-eth0":                "",
		"other-abc-eth0":            "",
	}
	for name, want := range tests {
		if got := cachedID(name); got != want {
			t.Errorf("cachedID(%q) = %q, want %q", name, got, want)
		}
	}
}

// Tearing down a pod that never had a network runs no plugin (these fail if
// run) and succeeds, as does tearing it down again.
func TestTeardownWithoutNetwork(t *testing.T) {
	dir := t.TempDir()
	for _, p := range pluginTypes {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(Config{PluginDirs: []string{dir}, Dirs: podstate.Layout{RunRoot: t.TempDir()}.Network()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := m.Teardown(context.Background(), Pod{ID: "never-set-up"}); err != nil {
			t.Errorf("teardown %d: %v", i+1, err)
		}
	}
}
