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

// removeLeftoverRules deletes what plugins cut short left of a pod: nat rules commented
// with its ID (portmap's DNAT jump, the bridge's masquerade jump), the per-pod chains
// they jump to, and the firewall plugin's CNI-FORWARD rules for its addresses. A DEL
// removes these itself only with the ADD result, which libcni has not cached when
// kplay was killed during the ADD.
func removeLeftoverRules(id string, ips []string) error {
	out, err := exec.Command("iptables", "--wait", "-t", "nat", "-S").Output()
	if err != nil {
		return fmt.Errorf("listing nat rules: %w", err)
	}
	comment := `id: \"` + id + `\"`
	chains := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, comment) {
			continue
		}
		args := splitRule(line[len("-A "):])
		if target := valueOf(args, "-j"); strings.HasPrefix(target, "CNI-") && !strings.HasPrefix(target, "CNI-HOSTPORT-") {
			chains[target] = true
		}
		if err := iptables(append([]string{"-t", "nat", "-D"}, args...)...); err != nil {
			return err
		}
	}
	for chain := range chains {
		if err := iptables("-t", "nat", "-F", chain); err != nil {
			return err
		}
		if err := iptables("-t", "nat", "-X", chain); err != nil {
			return err
		}
	}
	out, err = exec.Command("iptables", "--wait", "-t", "filter", "-S", "CNI-FORWARD").Output()
	if err != nil {
		return nil // no firewall chain: nothing of the pod in it
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") {
			continue
		}
		args := splitRule(line[len("-A "):])
		for _, ip := range ips {
			if valueOf(args, "-s") == ip+"/32" || valueOf(args, "-d") == ip+"/32" {
				if err := iptables(append([]string{"-t", "filter", "-D"}, args...)...); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// splitRule splits a rule as `iptables -S` prints it into arguments: words, with
// double-quoted words (comments) unquoted.
func splitRule(s string) []string {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			quoted, inWord = !quoted, true
		case c == ' ' && !quoted:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args
}
