package plan

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

var updateCorpus = flag.Bool("update", false, "rewrite testdata/corpus.tsv from what kplay does with the corpus")

// corpusDir is the shared corpus of public manifests, beside the repository.
const corpusDir = "../../../shared/corpus"

// corpusTable is the expected outcome for every file of the corpus.
const corpusTable = "../../testdata/corpus.tsv"

// refusalReasons are the reasons a corpus file may be refused for: errors of the
// API server's own code (decoding, kinds, validation) and kplay's documented limits.
var refusalReasons = []struct {
	name string
	re   *regexp.Regexp
}{
	{"API server: invalid YAML", regexp.MustCompile(`(^|: )invalid YAML: `)},
	{"API server: strict decoding", regexp.MustCompile(`(^|: )(unknown field|duplicate field|json: |[^:]+: expected |[^:]+: invalid base64)`)},
	{"API server: no matches for kind", regexp.MustCompile(`(^|: )no matches for kind `)},
	{"API server: invalid object", regexp.MustCompile(`(^|: )The [A-Za-z]+ "[^"]*" is invalid:`)},
	{"kplay: unsupported field or volume", regexp.MustCompile(`(^|: )kplay cannot run [A-Za-z]+ "[^"]*":`)},
	{"kplay: missing reference", regexp.MustCompile(`(not found: declare it in the files|is neither declared in the files nor present on this machine)`)},
	{"kplay: defined twice", regexp.MustCompile(`(is already defined in|is declared twice)`)},
	{"kplay: hostPath", regexp.MustCompile(`hostPath`)},
	{"kubectl: apiVersion or kind not set", regexp.MustCompile(`missing "(apiVersion|kind)"`)},
}

// TestCorpus dry-runs every manifest of the shared corpus (load, validate, plan)
// and compares the outcome with testdata/corpus.tsv, so that any change in what
// kplay accepts is seen and reviewed (go test ./pkg/plan -run TestCorpus -update).
func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("no corpus beside the repository: %v", err)
	}
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)

	var (
		table   bytes.Buffer
		counts  = map[string]int{}
		reasons = map[string]int{}
	)
	table.WriteString("# file\toutcome\twarnings or refusal reasons (go test ./pkg/plan -run TestCorpus -update)\n")
	for _, f := range files {
		rel, _ := filepath.Rel(corpusDir, f)
		outcome, details := dryRun(f)
		counts[outcome]++
		if outcome == "refused" {
			for _, d := range details {
				r := refusalReason(d)
				if r == "" {
					t.Errorf("%s is refused for a reason that is neither the API server's nor a kplay limit: %s", rel, d)
				}
				reasons[r]++
			}
		}
		fmt.Fprintf(&table, "%s\t%s\t%s\n", rel, outcome, strings.Join(details, " | "))
	}
	t.Logf("%d files: %d accepted, %d accepted with warnings, %d refused", len(files), counts["accepted"], counts["warned"], counts["refused"])
	for _, r := range sortedKeys(reasons) {
		t.Logf("  refusal reason %q: %d", r, reasons[r])
	}

	if *updateCorpus {
		if err := os.WriteFile(corpusTable, table.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(corpusTable)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	wantLines, gotLines := strings.Split(string(want), "\n"), strings.Split(table.String(), "\n")
	wantSet := map[string]bool{}
	for _, l := range wantLines {
		wantSet[l] = true
	}
	gotSet := map[string]bool{}
	for _, l := range gotLines {
		gotSet[l] = true
		if !wantSet[l] {
			t.Errorf("now:  %s", l)
		}
	}
	for _, l := range wantLines {
		if !gotSet[l] {
			t.Errorf("was:  %s", l)
		}
	}
}

// dryRun is `kplay up --dry-run -f file` without the machine: it returns
// accepted, warned (with the warnings) or refused (with the reasons), each with
// the file name and document numbers cut off.
func dryRun(file string) (string, []string) {
	objs, loadWarnings, loadErr := manifest.Load([]string{file}, nil)
	validWarnings, validErr := manifest.Validate(objs)
	opts := Options{NodeName: "node", HostIP: "192.0.2.10", NodeCPUMillis: 2000, NodeMemoryBytes: 1 << 30}
	var lines []string
	for _, err := range []error{loadErr, validErr} {
		if err != nil {
			lines = append(lines, topLines(err.Error())...)
		}
	}
	lines = append(lines, MissingReferences(objs, opts)...)
	var warnings []string
	if len(lines) == 0 {
		p, err := Build(objs, opts)
		if err != nil {
			lines = append(lines, topLines(err.Error())...)
		} else {
			warnings = p.Warnings
		}
	}
	if len(lines) > 0 {
		return "refused", shortLines(file, lines)
	}
	warnings = append(append(loadWarnings, validWarnings...), warnings...)
	if len(warnings) > 0 {
		return "warned", shortLines(file, warnings)
	}
	return "accepted", nil
}

// topLines drops the "* " detail lines of a multi-line API server error, keeping
// the line that names the object, with the first detail.
func topLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if d, ok := strings.CutPrefix(l, "* "); ok {
			if n := len(out) - 1; n >= 0 && strings.HasSuffix(out[n], ":") {
				out[n] += " " + d
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

var documentPrefix = regexp.MustCompile(`^.*?: document \d+(, items\[\d+\])?( \([^)]*\))?: `)

// shortLines cuts the file name off each line and keeps each line once.
func shortLines(file string, lines []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		l = strings.TrimPrefix(l, file+": ")
		l = documentPrefix.ReplaceAllString(l, "")
		l = strings.ReplaceAll(l, "\t", " ")
		if len(l) > 300 {
			l = l[:300] + "..."
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func refusalReason(line string) string {
	for _, r := range refusalReasons {
		if r.re.MatchString(line) {
			return r.name
		}
	}
	return ""
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
