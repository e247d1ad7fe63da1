package network

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/google/nftables/xt"
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
// rule of its own unless it has hostPorts (portmap). The chains of an older
// hostRulesVersion for the same subnet are removed when the current ones are
// installed: version 1 accepted the subnet from anywhere, and a chain that
// FORWARD still jumps to keeps doing so whatever the new chain says.
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
	failed := false // a read that fails (a dump cut short by a change) tells nothing
	rules := func(table, chain string) []*nftables.Rule {
		r, err := c.GetRules(&nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}, &nftables.Chain{Name: chain})
		if err != nil {
			failed = true
			return nil
		}
		return r
	}
	// FORWARD and POSTROUTING are read once: for the jumps to this version's
	// chains, and for jumps to an older version's chains for this subnet, which
	// install must remove. Only chains they jump to are read: one without a jump
	// does nothing, and install removes it anyway.
	forward, postrouting := rules("filter", "FORWARD"), rules("nat", "POSTROUTING")
	jumpsTo := func(rs []*nftables.Rule, target string) bool {
		for _, r := range rs {
			for _, e := range r.Exprs {
				if v, ok := e.(*expr.Verdict); ok && v.Kind == expr.VerdictJump && v.Chain == target {
					return true
				}
			}
		}
		return false
	}
	staleJump := func(table string, rs []*nftables.Rule) bool {
		for _, r := range rs {
			for _, e := range r.Exprs {
				v, ok := e.(*expr.Verdict)
				if ok && (v.Kind == expr.VerdictJump || v.Kind == expr.VerdictGoto) && h.isOther(v.Chain) {
					for _, sr := range rules(table, v.Chain) {
						if h.nftRuleOfSubnet(sr) {
							return true
						}
					}
				}
			}
		}
		return false
	}
	ok := jumpsTo(forward, h.forward) && len(rules("filter", h.forward)) == h.count(h.forward) &&
		jumpsTo(postrouting, h.masq) && len(rules("nat", h.masq)) == h.count(h.masq) &&
		!staleJump("filter", forward) && !staleJump("nat", postrouting)
	return ok && !failed
}

// isOther reports whether chain is named like kplay's shared chains but is not
// one of this version's for this network.
func (h hostRules) isOther(chain string) bool {
	return (strings.HasPrefix(chain, "KPLAY-FWD-") || strings.HasPrefix(chain, "KPLAY-MASQ-")) &&
		chain != h.forward && chain != h.masq
}

// comment is the comment every rule of the chains carries; older versions
// used the same one.
func (h hostRules) comment() string { return "kplay pods of " + h.subnet.String() }

// nftRuleOfSubnet reports whether a rule, as iptables-nft stores it, is for
// this subnet: it matches the subnet as source or destination, or its comment
// names the subnet. The address match is what the rules of every version have
// but the masquerade one; iptables-nft expresses -s/-d as a load of the IPv4
// header's source (offset 12) or destination (16), as many bytes as the
// prefix covers, a mask when the prefix does not end on a byte, and an
// equality with the network address. The comment (for the masquerade rule)
// is iptables' xt comment match here, in the rule's userdata with iptables
// versions that translate it: both are read.
func (h hostRules) nftRuleOfSubnet(r *nftables.Rule) bool {
	if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && strings.TrimRight(c, "\x00") == h.comment() {
		return true
	}
	net := h.subnet.Masked().Addr().As4()
	var mask []byte // of the loaded address; nil when no address is loaded
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Payload:
			mask = nil
			if e.OperationType == expr.PayloadLoad && e.Base == expr.PayloadBaseNetworkHeader &&
				(e.Offset == 12 || e.Offset == 16) && e.Len >= 1 && e.Len <= 4 {
				mask = bytes.Repeat([]byte{0xff}, int(e.Len))
			}
		case *expr.Bitwise:
			if mask != nil && len(e.Mask) == len(mask) && bytes.Equal(e.Xor, make([]byte, len(mask))) {
				mask = e.Mask
			} else {
				mask = nil
			}
		case *expr.Cmp:
			if mask != nil && e.Op == expr.CmpOpEq && bytes.Equal(e.Data, net[:len(mask)]) && prefixBits(mask) == h.subnet.Bits() {
				return true
			}
			mask = nil
		case *expr.Match:
			if c, ok := e.Info.(*xt.Comment); ok && string(*c) == h.comment() {
				return true
			}
			mask = nil
		default:
			mask = nil
		}
	}
	return false
}

// prefixBits is the length of the prefix a mask selects, or -1 when its ones
// are not contiguous from the start.
func prefixBits(mask []byte) int {
	n := 0
	for n < 8*len(mask) && mask[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	for i := n; i < 8*len(mask); i++ {
		if mask[i/8]&(0x80>>(i%8)) != 0 {
			return -1
		}
	}
	return n
}

// staleRules finds, in a table's listing by `iptables -S`, the chains of an
// older version for this subnet (kplay's names, not the current ones, with a
// rule that carries this subnet's comment or matches it with -s or -d) and
// returns the iptables arguments, after "-t table", that remove them: first
// every rule that jumps to them, then the chains' flush and deletion. The
// chains of other networks (another subnet) are not touched.
func (h hostRules) staleRules(listing string) [][]string {
	s := h.subnet.String()
	stale := map[string]bool{}
	var order []string
	var lines [][]string
	for _, l := range strings.Split(listing, "\n") {
		args := splitRule(l)
		if len(args) < 2 || args[0] != "-A" {
			continue
		}
		lines = append(lines, args)
		chain := args[1]
		if !h.isOther(chain) || stale[chain] {
			continue
		}
		for i := 2; i+1 < len(args); i++ {
			if (args[i] == "--comment" && args[i+1] == h.comment()) ||
				((args[i] == "-s" || args[i] == "-d") && args[i+1] == s) {
				stale[chain] = true
				order = append(order, chain)
				break
			}
		}
	}
	var cmds [][]string
	for _, args := range lines {
		for i := 2; i+1 < len(args); i++ {
			if (args[i] == "-j" || args[i] == "-g") && stale[args[i+1]] && !stale[args[1]] {
				cmds = append(cmds, append([]string{"-D"}, args[1:]...))
				break
			}
		}
	}
	for _, c := range order {
		cmds = append(cmds, []string{"-F", c})
	}
	for _, c := range order { // after every flush: one may have jumped to another
		cmds = append(cmds, []string{"-X", c})
	}
	return cmds
}

// count is how many rules restoreInput puts in the chain.
func (h hostRules) count(chain string) int {
	return strings.Count(h.restoreInput(), "\n-A "+chain+" ")
}

// install creates the rules, or completes and corrects them, and removes the
// chains of an older version for the subnet. Run it under the network's
// exclusive lock: two installs at once could each add a jump.
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
	// The old jumps go after the new ones are in: in between, the pods of a
	// machine whose FORWARD drops would be cut off.
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("iptables", "--wait", "-t", table, "-S").Output()
		if err != nil {
			return fmt.Errorf("iptables -t %s -S: %v", table, err)
		}
		for _, c := range h.staleRules(string(out)) {
			if err := iptables(append([]string{"-t", table}, c...)...); err != nil {
				return fmt.Errorf("removing an older version's chain of the pod network: %w", err)
			}
		}
	}
	return nil
}
