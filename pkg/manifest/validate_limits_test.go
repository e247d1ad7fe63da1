package manifest

import (
	"fmt"
	"strings"
	"testing"
)

func deployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: %d
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c, image: busybox}]
`, name, replicas)
}

func pod(name, namespace string, containers ...string) string {
	if len(containers) == 0 {
		containers = []string{"c"}
	}
	var list []string
	for _, c := range containers {
		list = append(list, fmt.Sprintf("{name: %s, image: busybox}", c))
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s}\nspec:\n  containers: [%s]\n",
		name, namespace, strings.Join(list, ", "))
}

// validateYAML loads documents from stdin and validates them.
func validateYAML(t *testing.T, docs []string, opts ...ValidateOption) string {
	t.Helper()
	objs, _, err := Load([]string{"-"}, strings.NewReader(strings.Join(docs, "---\n")))
	if err != nil {
		t.Fatalf("loading: %v", err)
	}
	_, err = Validate(objs, opts...)
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidateLimits(t *testing.T) {
	long := strings.Repeat("a", 249)
	names := func(n, length int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("c%0*d", length-1, i))
		}
		return out
	}
	tests := []struct {
		name string
		docs []string
		opts []ValidateOption
		want string
	}{
		{"replicas 2147483647", []string{deployment("web", 2147483647)}, nil,
			`stdin: document 1: kplay cannot run Deployment "web": spec.replicas: Invalid value: 2147483647: kplay runs at most 1000 pods per run (--max-pods)`},
		{"1000 pods", []string{deployment("web", 999), pod("one", "default")}, nil, ""},
		{"the pod that crosses the limit", []string{deployment("web", 1000), pod("one", "default")}, nil,
			`stdin: document 2: kplay cannot run Pod "one": metadata.name: Invalid value: "one": kplay runs at most 1000 pods per run (--max-pods); the objects before this one define 1000`},
		{"the replicas that cross the limit", []string{pod("one", "default"), deployment("web", 1000)}, nil,
			`stdin: document 2: kplay cannot run Deployment "web": spec.replicas: Invalid value: 1000: kplay runs at most 1000 pods per run (--max-pods); the objects before this one define 1`},
		{"--max-pods raises it", []string{deployment("web", 5000)}, []ValidateOption{MaxPods(5000)}, ""},
		{"--max-pods lowers it", []string{deployment("web", 3)}, []ValidateOption{MaxPods(2)},
			`stdin: document 1: kplay cannot run Deployment "web": spec.replicas: Invalid value: 3: kplay runs at most 2 pods per run (--max-pods)`},

		{"replica names of 253 characters", []string{deployment(long, 1000)}, nil, ""},
		{"replica names longer than 253 characters", []string{deployment(long+"b", 1000)}, nil,
			`stdin: document 1: kplay cannot run Deployment "` + long + `b": metadata.name: Invalid value: "` + long + `b": kplay names replica 999 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...aaaaaaaaaaaaaaab-999", which is not a valid pod name: must be no more than 253 characters`},

		{"a Pod named like a replica", []string{deployment("web", 2), pod("web-1", "default")}, nil,
			`stdin: document 2: kplay cannot run Pod "web-1": metadata.name: Duplicate value: "web-1": kplay names replica 1 of Deployment "web" (stdin: document 1) so; rename the Pod or the Deployment`},
		{"beyond the replicas", []string{deployment("web", 1), pod("web-1", "default")}, nil, ""},
		{"another namespace", []string{deployment("web", 2), pod("web-1", "other")}, nil, ""},
		{"not an index kplay gives", []string{deployment("web", 2), pod("web-01", "default")}, nil, ""},

		{"63 containers of 63 characters", []string{pod("p", "default", names(63, 63)...)}, nil, ""},
		{"64 containers of 63 characters", []string{pod("p", "default", names(64, 63)...)}, nil,
			`stdin: document 1: kplay cannot run Pod "p": spec.containers: Forbidden: the names of 64 containers take 4114 bytes in kplay's containerd label io.kplay.containers, and containerd allows 4096 bytes per label: use fewer or shorter-named containers`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validateYAML(t, tt.docs, tt.opts...); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
