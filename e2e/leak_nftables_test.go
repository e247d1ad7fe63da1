package e2e

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
)

// nftablesObjects lists kplay's nftables tables (the Services' rules) with every chain
// and set in them; the DNS records files are under the run root, which stateFiles
// covers, and ClusterIP and NodePort allocations are stored objects.
func nftablesObjects() ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("listing nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("listing nftables tables: %w", err)
	}
	var out []string
	for _, t := range tables {
		if !strings.HasPrefix(t.Name, "kplay") {
			continue
		}
		out = append(out, "table ip "+t.Name)
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, err
		}
		for _, s := range sets {
			out = append(out, fmt.Sprintf("table ip %s set %s", t.Name, s.Name))
		}
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("listing nftables chains: %w", err)
	}
	for _, ch := range chains {
		if strings.HasPrefix(ch.Table.Name, "kplay") {
			out = append(out, fmt.Sprintf("table ip %s chain %s", ch.Table.Name, ch.Name))
		}
	}
	return out, nil
}
