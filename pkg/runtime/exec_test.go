package runtime

import (
	"strings"
	"testing"

	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"

	"github.com/kplay-dev/kplay/pkg/labels"
)

func TestContainerChoosesOrSaysWhyNot(t *testing.T) {
	ctr := func(role, name string, status task.Status) *ctrState {
		c := &ctrState{Task: &task.Process{Status: status}}
		c.ID = name
		c.Labels = map[string]string{labels.Role: role, labels.Container: name}
		return c
	}
	pod := func(apps string, cs ...*ctrState) *podState {
		infra := ctr(labels.RoleInfra, "", task.Status_RUNNING)
		infra.Labels[labels.Containers] = apps
		return &podState{Namespace: "default", Name: "web", Infra: infra, Containers: cs}
	}
	initializing := pod("app", ctr(labels.RoleInit, "setup", task.Status_RUNNING))
	running := pod("app", ctr(labels.RoleInit, "setup", task.Status_STOPPED), ctr(labels.RoleApp, "app", task.Status_RUNNING))
	two := pod("a,b", ctr(labels.RoleApp, "a", task.Status_RUNNING), ctr(labels.RoleApp, "b", task.Status_RUNNING))
	annotated := pod("a,b", ctr(labels.RoleApp, "a", task.Status_RUNNING), ctr(labels.RoleApp, "b", task.Status_RUNNING))
	annotated.Infra.Labels[labels.DefaultContainer] = "b"
	misannotated := pod("a,b", ctr(labels.RoleApp, "a", task.Status_RUNNING), ctr(labels.RoleApp, "b", task.Status_RUNNING))
	misannotated.Infra.Labels[labels.DefaultContainer] = "gone"
	for _, tt := range []struct {
		name      string
		pod       *podState
		container string
		want      string   // the container chosen, or
		wantErr   []string // what the error says
		is        func(error) bool
		note      string // kubectl's note when a container was defaulted
	}{
		{"the one app container", running, "", "app", nil, nil, `Defaulted container "app" out of: app, setup (init)`},
		{"an init container by name", initializing, "setup", "setup", nil, nil, ""},
		{"during init, no name", initializing, "", "", []string{`pod default/web is still running init container "setup"`, "-c setup"}, errdefs.IsFailedPrecondition, ""},
		{"during init, the app container", initializing, "app", "", []string{`container "app" of pod default/web has not started yet`, `init container "setup" is still running`}, errdefs.IsFailedPrecondition, ""},
		{"a name the pod has not", running, "db", "", []string{`container "db" is not valid for pod default/web`, "app (init containers: setup)"}, errdefs.IsNotFound, ""},
		{"several app containers: the first, as kubectl", two, "", "a", nil, nil, `Defaulted container "a" out of: a, b`},
		{"one of several", two, "b", "b", nil, nil, ""},
		{"the default-container annotation", annotated, "", "b", nil, nil, ""},
		{"an annotation naming no container", misannotated, "", "a", nil, nil, `Defaulted container "a" out of: a, b`},
		{"a pod with one container and no init", pod("a", ctr(labels.RoleApp, "a", task.Status_RUNNING)), "", "a", nil, nil, ""},
	} {
		c, note, err := tt.pod.container(tt.container)
		if tt.wantErr == nil {
			if err != nil || c.ID != tt.want {
				t.Errorf("%s: got %v, %v; want container %s", tt.name, c, err, tt.want)
			}
			if note != tt.note {
				t.Errorf("%s: note %q, want %q", tt.name, note, tt.note)
			}
			continue
		}
		if err == nil || !tt.is(err) {
			t.Errorf("%s: error %v, want one of its kind", tt.name, err)
			continue
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, w)
			}
		}
	}
}
