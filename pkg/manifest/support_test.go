package manifest

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/kubernetes-support.md's generated tables, the fixtures' expected messages and the corpus table")

// TestSupportTablesCoverEveryField makes a Kubernetes upgrade that adds a field
// fail here until someone decides what kplay does with it.
func TestSupportTablesCoverEveryField(t *testing.T) {
	for _, rs := range supportTables {
		covered := map[string]bool{}
		for _, r := range rs.rules {
			top, _, _ := strings.Cut(r.field, ".")
			covered[top] = true
			fieldValue(reflect.New(rs.typ), r.field) // panics on a misspelt field
		}
		for i := 0; i < rs.typ.NumField(); i++ {
			f := rs.typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous || name == "metadata" {
				continue
			}
			if !covered[name] {
				t.Errorf("%s: field %q of %s is in no rule", rs.title, name, rs.typ)
			}
		}
	}
}

const (
	docPath  = "../../docs/kubernetes-support.md"
	docBegin = "<!-- BEGIN field tables: generated from pkg/manifest/support.go by `go test ./pkg/manifest -run TestSupportDoc -update` -->\n"
	docEnd   = "<!-- END field tables -->\n"
)

// TestSupportDoc checks that the docs show exactly the tables Validate uses.
func TestSupportDoc(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	begin, end := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no generated section between %q and %q", docPath, docBegin, docEnd)
	}
	want := doc[:begin] + docBegin + renderTables() + doc[end:]
	if doc == want {
		return
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with support.go; run go test ./pkg/manifest -run TestSupportDoc -update", docPath)
}

func renderTables() string {
	var b strings.Builder
	for _, rs := range supportTables {
		fmt.Fprintf(&b, "\n### %s\n\n| Field | kplay | Note |\n|---|---|---|\n", rs.title)
		for _, r := range rs.rules {
			what := r.support.String()
			if len(r.unless) > 0 && r.support >= ignored {
				what += fmt.Sprintf(" (except `%s`)", strings.Join(r.unless, "`, `"))
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.field, what, strings.ReplaceAll(r.note, "|", "\\|"))
		}
	}
	b.WriteString("\n")
	return b.String()
}
