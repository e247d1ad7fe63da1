package manifest

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestValidateFixtures validates every fixture in testdata/invalid on its own and
// compares the errors and warnings with the ones the fixture declares.
func TestValidateFixtures(t *testing.T) {
	t.Chdir("../../testdata/invalid")
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 15 {
		t.Fatalf("found only %d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			wantErrs, wantWarnings := expectations(t, f)
			objs, warnings, err := Load([]string{f}, nil)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("loading: %v %q", err, warnings)
			}
			warnings, err = Validate(objs)
			if *update {
				rewriteExpectations(t, f, errorLines(err), warnings)
				return
			}
			if got := errorLines(err); !reflect.DeepEqual(got, wantErrs) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, wantErrs)
				for _, l := range got {
					t.Logf("# error: %s", l)
				}
			}
			if !reflect.DeepEqual(warnings, wantWarnings) {
				t.Errorf("warnings:\ngot  %q\nwant %q", warnings, wantWarnings)
				for _, l := range warnings {
					t.Logf("# warning: %s", l)
				}
			}
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Errorf("error does not wrap ErrInvalidArgument, so the CLI would not exit 2: %v", err)
			}
		})
	}
}

func TestValidateExamples(t *testing.T) {
	for _, f := range []string{"pod.yaml", "deploy.yaml", "configmap-pod.yaml"} {
		objs, _, err := Load([]string{"../../testdata/examples/" + f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		warnings, err := Validate(objs)
		if err != nil || len(warnings) > 0 {
			t.Errorf("%s: err %v, warnings %q", f, err, warnings)
		}
	}
	// pod.yaml and configmap-pod.yaml both define Pod "apache".
	objs, _, _ := Load([]string{"../../testdata/examples"}, nil)
	_, err := Validate(objs)
	want := `../../testdata/examples/pod.yaml: document 1: Pod "apache" in namespace "default" is already defined in ../../testdata/examples/configmap-pod.yaml: document 2`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestValidateDataSize(t *testing.T) {
	big := strings.Repeat("x", 1<<20) // the API server's limit
	tests := []struct {
		name string
		obj  runtime.Object
		want string
	}{
		{"ConfigMap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"},
			Data: map[string]string{"a": big}, BinaryData: map[string][]byte{"b": []byte("y")}},
			`big.yaml: document 1: The ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes`},
		{"Secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "big"},
			Data: map[string][]byte{"a": []byte(big), "b": []byte("y")}},
			`big.yaml: document 1: The Secret "big" is invalid: data: Too long: may not be more than 1048576 bytes`},
		{"at the limit", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "big"},
			Data: map[string][]byte{"a": []byte(big)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate([]Object{{Source: "big.yaml", Doc: 1, Object: tt.obj}})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
