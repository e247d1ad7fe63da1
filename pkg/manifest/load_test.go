package manifest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// expectations reads the "# error: " and "# warning: " lines a fixture starts
// with: the exact lines Load or Validate must report for it.
func expectations(t *testing.T, file string) (errs, warnings []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if s, ok := strings.CutPrefix(line, "# error: "); ok {
			errs = append(errs, s)
		}
		if s, ok := strings.CutPrefix(line, "# warning: "); ok {
			warnings = append(warnings, s)
		}
	}
	return errs, warnings
}

// rewriteExpectations replaces the "# error:" and "# warning:" lines at the top of
// a fixture with the ones given (go test -update).
func rewriteExpectations(t *testing.T, file string, errs, warnings []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var head, body []string
	for _, e := range errs {
		head = append(head, "# error: "+e)
	}
	for _, w := range warnings {
		head = append(head, "# warning: "+w)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "# error: ") && !strings.HasPrefix(line, "# warning: ") {
			body = append(body, line)
		}
	}
	if err := os.WriteFile(file, []byte(strings.Join(append(head, body...), "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// TestLoadFixtures loads every YAML fixture in testdata/load on its own and
// compares the errors and warnings with the ones the fixture declares.
func TestLoadFixtures(t *testing.T) {
	t.Chdir("../../testdata/load")
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 10 {
		t.Fatalf("found only %d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			wantErrs, wantWarnings := expectations(t, f)
			_, warnings, err := Load([]string{f}, nil)
			if *update {
				rewriteExpectations(t, f, errorLines(err), warnings)
				return
			}
			if got := errorLines(err); !reflect.DeepEqual(got, wantErrs) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, wantErrs)
			}
			if !reflect.DeepEqual(warnings, wantWarnings) {
				t.Errorf("warnings:\ngot  %q\nwant %q", warnings, wantWarnings)
			}
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Errorf("error does not wrap ErrInvalidArgument, so the CLI would not exit 2: %v", err)
			}
		})
	}
}

// loaded is what a test compares of a loaded object.
type loaded struct {
	where, kind, name string
}

func summarize(objs []Object) []loaded {
	var out []loaded
	for _, o := range objs {
		m := o.Object.(metav1.Object)
		out = append(out, loaded{o.Where(), o.Object.GetObjectKind().GroupVersionKind().Kind, m.GetName()})
	}
	return out
}

func TestLoad(t *testing.T) {
	t.Chdir("../../testdata/load")
	cwd, _ := os.Getwd()
	tests := []struct {
		name  string
		paths []string
		stdin string
		want  []loaded
	}{
		{
			name:  "documents are numbered without the empty ones",
			paths: []string{"multi.yaml"},
			want: []loaded{
				{"multi.yaml: document 1", "ConfigMap", "settings"},
				{"multi.yaml: document 2", "Secret", "creds"},
				{"multi.yaml: document 3", "Pod", "web"},
			},
		},
		{
			name:  "Lists are flattened and typed list items get their kind",
			paths: []string{"list.yaml"},
			want: []loaded{
				{"list.yaml: document 1, items[0]", "Pod", "a"},
				{"list.yaml: document 1, items[1]", "Service", "a"},
				{"list.yaml: document 2, items[0]", "ConfigMap", "from-typed-list"},
			},
		},
		{
			name:  "a directory gives its manifests sorted, JSON streams included",
			paths: []string{"dir"},
			want: []loaded{
				{"dir/a.yaml: document 1", "ConfigMap", "a"},
				{"dir/b.yml: document 1", "ConfigMap", "b"},
				{"dir/c.json: document 1", "ConfigMap", "c"},
				{"dir/c.json: document 2", "ConfigMap", "d"},
			},
		},
		{
			name:  "stdin mixes with files in the order given",
			paths: []string{"dir/b.yml", "-"},
			stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: piped\n",
			want: []loaded{
				{"dir/b.yml: document 1", "ConfigMap", "b"},
				{"stdin: document 1", "ConfigMap", "piped"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, _, err := Load(tt.paths, strings.NewReader(tt.stdin))
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(objs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
			for _, o := range objs {
				want := filepath.Join(cwd, filepath.Dir(o.Source))
				if o.Source == "-" {
					want = cwd
				}
				if o.Dir != want {
					t.Errorf("%s: Dir = %q, want %q", o.Where(), o.Dir, want)
				}
			}
		})
	}
}

func TestLoadMergesStringData(t *testing.T) {
	t.Chdir("../../testdata/load")
	objs, _, err := Load([]string{"multi.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := objs[1].Object.(*corev1.Secret)
	want := map[string][]byte{"user": []byte("admin"), "password": []byte("new")}
	if !reflect.DeepEqual(s.Data, want) || s.StringData != nil {
		t.Errorf("data = %q, stringData = %q; want data %q and no stringData", s.Data, s.StringData, want)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Chdir("../../testdata/load")
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"missing file", []string{"nope.yaml"}, []string{"stat nope.yaml: no such file or directory"}},
		{"stdin twice", []string{"-", "-"}, []string{"-: standard input can be read only once"}},
		{"duplicate JSON field", []string{"duplicate-json.json"},
			[]string{`duplicate-json.json: document 1 (ConfigMap "b"): duplicate field "metadata.name"`}},
		{"every file's errors at once", []string{"missing.yaml", "nope.yaml", "bad-base64.yaml"}, []string{
			`missing.yaml: document 1: missing "kind"`,
			`missing.yaml: document 2 (Pod "web"): missing "apiVersion"`,
			`missing.yaml: document 3: not a Kubernetes object: expected a mapping with apiVersion and kind, found a list`,
			`stat nope.yaml: no such file or directory`,
			`bad-base64.yaml: document 1 (Secret "creds"): data[password]: invalid base64 value: illegal base64 data at input byte 3`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(tt.paths, strings.NewReader(""))
			if tt.want == nil {
				return
			}
			if got := errorLines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("error does not wrap ErrInvalidArgument: %v", err)
			}
		})
	}
}

func TestLoadEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	_, _, err := Load([]string{dir}, nil)
	want := dir + ": directory has no .yaml, .yml or .json files"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestLoadExamples(t *testing.T) {
	objs, warnings, err := Load([]string{"../../testdata/examples"}, nil)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	want := []string{"ConfigMap cm-sample", "Pod apache", "Deployment nginx", "Pod apache"}
	var got []string
	for _, l := range summarize(objs) {
		got = append(got, l.kind+" "+l.name)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
