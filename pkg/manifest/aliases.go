package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// YAML aliases are copied out in full when a document turns into JSON, so a small
// file of aliases to one large anchored value (a "billion laughs") would grow past
// any byte or node cap. expandedSize measures what the documents become with every
// alias expanded, without expanding them, memoised per anchor.
type expansion struct {
	bytes, nodes int64
}

// checkAliases refuses data whose aliases expand past maxBytes or maxNodes. Only
// data with an anchor is parsed for it: most manifests have none.
func checkAliases(data []byte, maxBytes, maxNodes int64) error {
	if bytes.IndexByte(data, '&') < 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var total expansion
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // the decoder proper reports what does not parse
		}
		memo := map[*yaml.Node]expansion{}
		e := expandAlias(&doc, memo, 0)
		total.bytes += e.bytes
		total.nodes += e.nodes
		if total.bytes > maxBytes || total.nodes > maxNodes {
			return fmt.Errorf("YAML aliases expand to more than %s or %d nodes: kplay refuses such a manifest, as it refuses one that large (--max-manifest-size)",
				FormatBytes(maxBytes), maxNodes)
		}
	}
}

func expandAlias(n *yaml.Node, memo map[*yaml.Node]expansion, depth int) expansion {
	if n == nil || depth > 10000 {
		return expansion{}
	}
	if e, ok := memo[n]; ok {
		return e
	}
	var e expansion
	switch n.Kind {
	case yaml.AliasNode:
		e = expandAlias(n.Alias, memo, depth+1)
	case yaml.ScalarNode:
		e = expansion{bytes: int64(len(n.Value)) + 3, nodes: 1}
	default:
		e = expansion{bytes: 2, nodes: 1}
		for _, c := range n.Content {
			ce := expandAlias(c, memo, depth+1)
			e.bytes += ce.bytes + 1
			e.nodes += ce.nodes
		}
	}
	memo[n] = e
	return e
}
