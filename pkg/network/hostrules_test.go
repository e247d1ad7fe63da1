package network

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The forward chain stays when no pod runs: it must accept only what enters or
// leaves by the pods' bridge, or a LAN machine that spoofs a pod address is
// forwarded anywhere the host routes.
func TestHostRulesForwardOnlyThroughTheBridge(t *testing.T) {
	h := newHostRules("kplay7", netip.MustParsePrefix("10.213.4.0/22"))
	var forward []string
	for _, l := range strings.Split(h.restoreInput(), "\n") {
		if strings.HasPrefix(l, "-A "+h.forward+" ") {
			forward = append(forward, l)
		}
	}
	want := []string{
		"-A " + h.forward + " -i kplay7 -s 10.213.4.0/22 ",
		"-A " + h.forward + " -o kplay7 -d 10.213.4.0/22 ",
	}
	if len(forward) != len(want) {
		t.Fatalf("forward chain rules:\n  %s\nwant %d", strings.Join(forward, "\n  "), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(forward[i], w) {
			t.Errorf("forward rule %d = %q, want it to start with %q", i, forward[i], w)
		}
	}
	if !strings.Contains(forward[1], "--ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT") {
		t.Errorf("the rule to the pods accepts more than replies and hostPorts: %q", forward[1])
	}
	// present() compares the rules it finds with these counts.
	if got := h.count(h.forward); got != 2 {
		t.Errorf("count(forward) = %d, want 2", got)
	}
	if got := h.count(h.masq); got != 3 {
		t.Errorf("count(masq) = %d, want 3", got)
	}
}

// A machine that ran an older kplay keeps that version's chains, and FORWARD's
// jump to a version-1 chain accepts a spoofed pod address whatever the current
// chain says: install removes the chains of the same subnet, and only those.
func TestHostRulesStaleChainsOfTheSameSubnet(t *testing.T) {
	h := newHostRules("kplay-e2e0", netip.MustParsePrefix("10.213.128.0/22"))
	filter := strings.Join([]string{
		"-P FORWARD DROP",
		"-N KPLAY-FWD-034a8300",
		"-N KPLAY-FWD-a3412f1d",
		"-N KPLAY-FWD-00000001",
		"-N " + h.forward,
		"-A FORWARD -j KPLAY-FWD-a3412f1d",
		"-A FORWARD -j " + h.forward,
		"-A FORWARD -j KPLAY-FWD-00000001",
		// another network's version-1 chain, without a jump: not ours to remove
		`-A KPLAY-FWD-034a8300 -s 10.213.0.0/22 -m comment --comment "kplay pods of 10.213.0.0/22" -j ACCEPT`,
		// this network's version-1 chain
		`-A KPLAY-FWD-a3412f1d -s 10.213.128.0/22 -m comment --comment "kplay pods of 10.213.128.0/22" -j ACCEPT`,
		`-A KPLAY-FWD-a3412f1d -d 10.213.128.0/22 -m comment --comment "kplay pods of 10.213.128.0/22" -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`,
		// a chain of this subnet without the comment: known by its match
		"-A KPLAY-FWD-00000001 -s 10.213.128.0/22 -j ACCEPT",
		// the current chain
		`-A ` + h.forward + ` -s 10.213.128.0/22 -i kplay-e2e0 -m comment --comment "kplay pods of 10.213.128.0/22" -j ACCEPT`,
		"",
	}, "\n")
	want := [][]string{
		{"-D", "FORWARD", "-j", "KPLAY-FWD-a3412f1d"},
		{"-D", "FORWARD", "-j", "KPLAY-FWD-00000001"},
		{"-F", "KPLAY-FWD-a3412f1d"},
		{"-F", "KPLAY-FWD-00000001"},
		{"-X", "KPLAY-FWD-a3412f1d"},
		{"-X", "KPLAY-FWD-00000001"},
	}
	if got := h.staleRules(filter); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("staleRules(filter) = %q, want %q", got, want)
	}

	nat := strings.Join([]string{
		"-N KPLAY-MASQ-034a8300",
		"-N KPLAY-MASQ-a3412f1d",
		"-N " + h.masq,
		"-A POSTROUTING -s 10.213.128.0/22 -j KPLAY-MASQ-a3412f1d",
		"-A POSTROUTING -s 10.213.0.0/22 -j KPLAY-MASQ-034a8300",
		"-A POSTROUTING -s 10.213.128.0/22 -j " + h.masq,
		`-A KPLAY-MASQ-034a8300 -d 10.213.0.0/22 -m comment --comment "kplay pods of 10.213.0.0/22" -j RETURN`,
		`-A KPLAY-MASQ-034a8300 -m comment --comment "kplay pods of 10.213.0.0/22" -j MASQUERADE`,
		`-A KPLAY-MASQ-a3412f1d -d 224.0.0.0/4 -m comment --comment "kplay pods of 10.213.128.0/22" -j RETURN`,
		`-A KPLAY-MASQ-a3412f1d -m comment --comment "kplay pods of 10.213.128.0/22" -j MASQUERADE`,
		`-A ` + h.masq + ` -m comment --comment "kplay pods of 10.213.128.0/22" -j MASQUERADE`,
	}, "\n")
	want = [][]string{
		{"-D", "POSTROUTING", "-s", "10.213.128.0/22", "-j", "KPLAY-MASQ-a3412f1d"},
		{"-F", "KPLAY-MASQ-a3412f1d"},
		{"-X", "KPLAY-MASQ-a3412f1d"},
	}
	if got := h.staleRules(nat); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("staleRules(nat) = %q, want %q", got, want)
	}

	// A subnet that shares the network address but not the length is another
	// network.
	other := newHostRules("kplay-e2e0", netip.MustParsePrefix("10.213.128.0/24"))
	if got := other.staleRules(filter + nat); len(got) != 0 {
		t.Errorf("staleRules of 10.213.128.0/24 = %q, want none", got)
	}
}

// present() compares the prefix of iptables-nft's -s/-d mask with the subnet's.
func TestPrefixBits(t *testing.T) {
	for _, c := range []struct {
		mask []byte
		want int
	}{
		{[]byte{255, 255, 252, 0}, 22},
		{[]byte{255, 255, 255}, 24}, // a byte-aligned prefix loads fewer bytes, unmasked
		{[]byte{255, 255, 255, 255}, 32},
		{[]byte{255, 0, 255, 0}, -1},
	} {
		if got := prefixBits(c.mask); got != c.want {
			t.Errorf("prefixBits(%v) = %d, want %d", c.mask, got, c.want)
		}
	}
}
