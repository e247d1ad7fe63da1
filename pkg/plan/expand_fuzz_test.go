package plan

import (
	"strings"
	"testing"
)

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$(A)", "$(A", "$", "a$(B)c$$$(A)", "$($($(", "$(A$(B))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		none := expand(s, func(string) (string, bool) { return "", false })
		if len(none) > len(s) {
			t.Errorf("expand(%q) with no variables grew to %q", s, none)
		}
		if !strings.Contains(s, "$") && none != s {
			t.Errorf("expand(%q) changed a string without $ to %q", s, none)
		}
		// An undefined reference stays as written, so defining every name as
		// its own reference changes nothing.
		self := expand(s, func(n string) (string, bool) { return "$(" + n + ")", true })
		if self != none {
			t.Errorf("expand(%q): undefined gives %q, self-references give %q", s, none, self)
		}
	})
}
