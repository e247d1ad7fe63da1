//go:build hostnet

package service

import (
	"testing"

	"github.com/google/nftables"
)

// TestApplyReplacesAndDeletes programs a table of its own: the rules of one
// transaction, a smaller set replacing them, and none deleting the table.
func TestApplyReplacesAndDeletes(t *testing.T) {
	const table = "kplay-unit-test"
	t.Cleanup(func() { Apply(table, nil) })
	rules := []Rule{
		{Service: "default/web", Protocol: "TCP", ClusterIP: "10.213.16.5", Port: 80, NodePort: 30080,
			Endpoints: []Target{{"10.213.0.2", 8080}, {"10.213.0.3", 8080}}, AffinitySeconds: 60},
		{Service: "default/dns", Protocol: "UDP", ClusterIP: "10.213.16.6", Port: 53},
	}
	if err := Apply(table, rules); err != nil {
		t.Fatal(err)
	}
	chains := chainsOf(t, table)
	for _, want := range []string{"nat-prerouting", "nat-output", "nat-postrouting", "filter-forward", "filter-output",
		"services", "reject-services", rules[0].Chain(), rules[0].EndpointChain(0), rules[0].EndpointChain(1)} {
		if !chains[want] {
			t.Errorf("chain %q missing; have %v", want, chains)
		}
	}
	if err := Apply(table, rules[1:]); err != nil {
		t.Fatal(err)
	}
	if chains := chainsOf(t, table); chains[rules[0].Chain()] {
		t.Errorf("the second apply kept %s", rules[0].Chain())
	}
	if err := Apply(table, nil); err != nil {
		t.Fatal(err)
	}
	if Exists(table) {
		t.Error("no rules left the table")
	}
}

func chainsOf(t *testing.T, table string) map[string]bool {
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, ch := range all {
		if ch.Table.Name == table {
			out[ch.Name] = true
		}
	}
	return out
}
