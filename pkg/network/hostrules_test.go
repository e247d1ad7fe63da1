package network

import (
	"net/netip"
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
