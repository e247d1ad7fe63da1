package manifest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// The generated table must hold what client-go's scheme holds: a newer client-go
// with new kinds fails here until `go generate ./pkg/manifest` is run.
func TestBuiltinKindsAreClientGosKinds(t *testing.T) {
	want := map[schema.GroupVersionKind]bool{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if !strings.HasSuffix(gvk.Kind, "Options") && gvk.Kind != "WatchEvent" {
			want[gvk] = true
		}
	}
	got := map[schema.GroupVersionKind]bool{}
	for _, gvk := range clientGoKinds {
		got[gvk] = true
		if !want[gvk] {
			t.Errorf("kinds_builtin.go has %v, which client-go's scheme does not: run go generate ./pkg/manifest", gvk)
		}
	}
	for gvk := range want {
		if !got[gvk] {
			t.Errorf("kinds_builtin.go lacks %v: run go generate ./pkg/manifest", gvk)
		}
	}
}
