package network

import (
	"crypto/sha512"
	"fmt"
	"os/exec"
	"strings"
)

// removeMasquerade deletes the per-pod NAT chain the bridge plugin made for
// ipMasq, if it is still there. The bridge plugin (1.1.1) finds the pod's
// addresses inside its namespace on DEL, so when the namespace or its eth0 is
// gone it leaves the chain and its POSTROUTING jump behind; kplay removes them
// by the names the plugin gives them.
func removeMasquerade(network, id string) error {
	chain := masqChain(network, id)
	comment := fmt.Sprintf("name: %q id: %q", network, id)
	out, err := exec.Command("iptables", "--wait", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		return fmt.Errorf("listing nat POSTROUTING: %w", err)
	}
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if !containsPair(f, "-j", chain) {
			continue
		}
		found = true
		src := valueOf(f, "-s")
		if src == "" {
			continue
		}
		if err := iptables("-t", "nat", "-D", "POSTROUTING", "-s", src, "-m", "comment", "--comment", comment, "-j", chain); err != nil {
			return err
		}
	}
	if !found {
		if err := exec.Command("iptables", "--wait", "-t", "nat", "-S", chain).Run(); err != nil {
			return nil // no such chain: nothing was left
		}
	}
	if err := iptables("-t", "nat", "-F", chain); err != nil {
		return err
	}
	return iptables("-t", "nat", "-X", chain)
}

// masqChain is the bridge plugin's chain name for a container: "CNI-" and
// the start of sha512(network name + container ID) in hex, 28 characters in all.
func masqChain(network, id string) string {
	return fmt.Sprintf("CNI-%x", sha512.Sum512([]byte(network+id)))[:28]
}

func containsPair(f []string, key, value string) bool {
	return valueOf(f, key) == value
}

func valueOf(f []string, key string) string {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == key {
			return f[i+1]
		}
	}
	return ""
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"--wait"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
