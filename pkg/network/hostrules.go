package network

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// hostRules are the iptables rules that every pod of one network (bridge and
// subnet) shares, in place of the bridge plugin's per-pod masquerade chain and
// the firewall plugin's per-pod forward rules:
//
//   - nat POSTROUTING jumps to a masquerade chain for traffic from the subnet
//     that leaves it (multicast aside, as the bridge plugin does);
//   - filter FORWARD jumps first thing to a chain that accepts traffic from the
//     subnet, replies to it, and what a hostPort (portmap's DNAT) sends to it,
//     so pods reach out and hostPorts answer other machines also where
//     FORWARD's policy is DROP (as docker sets it). Both rules name the bridge:
//     the chain stays when no pod runs, and an address of the subnet alone
//     would let a machine of the LAN that spoofs one through FORWARD to any
//     network the host routes to (docker's, a VPN). Pod to pod across the
//     bridge (with br_netfilter) comes in and goes out on the bridge, a
//     hostPort's DNAT from outside goes out on it.
//
// They are created once and stay, like the bridge: a pod adds or removes no
// rule of its own unless it has hostPorts (portmap).
type hostRules struct {
	bridge        string
	subnet        netip.Prefix
	forward, masq string // chain names, per network
}

const hostRulesVersion = "2" // 2: the forward chain matches the bridge

func newHostRules(bridge string, subnet netip.Prefix) hostRules {
	// iptables allows 28 characters in a chain name: the prefixes and 8 hex
	// digits leave room, and the hash tells networks (tests use their own) apart.
	// present() counts rules rather than reading them: change hostRulesVersion
	// with the rules, so a machine with the old ones gets new chains.
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(hostRulesVersion+" "+bridge+" "+subnet.String())))[:8]
	return hostRules{bridge: bridge, subnet: subnet, forward: "KPLAY-FWD-" + sum, masq: "KPLAY-MASQ-" + sum}
}

// restoreInput (for iptables-restore --noflush) makes both chains hold exactly
// their rules, whatever they held before.
func (h hostRules) restoreInput() string {
	s := h.subnet.String()
	comment := fmt.Sprintf(`-m comment --comment "kplay pods of %s"`, s)
	return strings.Join([]string{
		"*filter",
		":" + h.forward + " - [0:0]",
		"-F " + h.forward,
		"-A " + h.forward + " -i " + h.bridge + " -s " + s + " " + comment + " -j ACCEPT",
		"-A " + h.forward + " -o " + h.bridge + " -d " + s + " " + comment + " -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
		"COMMIT",
		"*nat",
		":" + h.masq + " - [0:0]",
		"-F " + h.masq,
		"-A " + h.masq + " -d " + s + " " + comment + " -j RETURN",
		"-A " + h.masq + " -d 224.0.0.0/4 " + comment + " -j RETURN",
		"-A " + h.masq + " " + comment + " -j MASQUERADE",
		"COMMIT",
		"",
	}, "\n")
}

// jumps are the rules that send traffic to the chains: table, then the rule
// as iptables -C/-I/-A take it after the chain name.
func (h hostRules) jumps() [][]string {
	return [][]string{
		{"filter", "FORWARD", "-j", h.forward},
		{"nat", "POSTROUTING", "-s", h.subnet.String(), "-j", h.masq},
	}
}

// present reports whether the rules are in place, read through netlink from
// nf_tables (iptables' nft backend) without running iptables. It says false
// when it cannot tell, as with iptables' legacy backend: then install, which is
// idempotent, runs on every first pod of an up.
func (h hostRules) present() bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	rules := func(table, chain string) []*nftables.Rule {
		r, err := c.GetRules(&nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}, &nftables.Chain{Name: chain})
		if err != nil {
			return nil
		}
		return r
	}
	jumpsTo := func(table, chain, target string) bool {
		for _, r := range rules(table, chain) {
			for _, e := range r.Exprs {
				if v, ok := e.(*expr.Verdict); ok && v.Kind == expr.VerdictJump && v.Chain == target {
					return true
				}
			}
		}
		return false
	}
	return jumpsTo("filter", "FORWARD", h.forward) && len(rules("filter", h.forward)) == h.count(h.forward) &&
		jumpsTo("nat", "POSTROUTING", h.masq) && len(rules("nat", h.masq)) == h.count(h.masq)
}

// count is how many rules restoreInput puts in the chain.
func (h hostRules) count(chain string) int {
	return strings.Count(h.restoreInput(), "\n-A "+chain+" ")
}

// install creates the rules, or completes and corrects them. Run it under the
// network's exclusive lock: two installs at once could each add a jump.
func (h hostRules) install() error {
	cmd := exec.Command("iptables-restore", "--wait", "--noflush")
	cmd.Stdin = strings.NewReader(h.restoreInput())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore of the pod network's chains: %v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, j := range h.jumps() {
		table, chain, rule := j[0], j[1], j[2:]
		if exec.Command("iptables", append([]string{"--wait", "-t", table, "-C", chain}, rule...)...).Run() == nil {
			continue
		}
		add := "-A"
		if chain == "FORWARD" {
			add = "-I" // before any DROP of docker's
		}
		if err := iptables(append([]string{"-t", table, add, chain}, rule...)...); err != nil {
			return err
		}
	}
	return nil
}
