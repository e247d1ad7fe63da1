package reconcile

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/kplay-dev/kplay/pkg/plan"
)

func desired(name, owner, hash, volumes string) plan.PodPlan {
	kind, oname := "Deployment", owner
	if owner == "" {
		kind, oname = "Pod", name
	}
	return plan.PodPlan{Namespace: "default", Name: name, Owner: plan.Owner{Kind: kind, Name: oname},
		Hash: hash, VolumeDataHash: volumes}
}

// healthy is the pod desired(...) created, running and complete.
func healthy(pp plan.PodPlan) Observed {
	return Observed{Namespace: pp.Namespace, Name: pp.Name, Owner: pp.Owner.String(), Source: "/app.yaml",
		SpecHash: pp.Hash, VolumeDataHash: pp.VolumeDataHash, Running: true, Complete: true}
}

func with(o Observed, change func(*Observed)) Observed {
	change(&o)
	return o
}

func TestPods(t *testing.T) {
	web0, web1, web2 := desired("web-0", "web", "h1", "v1"), desired("web-1", "web", "h1", "v1"), desired("web-2", "web", "h1", "v1")
	changed := desired("web-0", "web", "h2", "v1")
	single := desired("web-1", "", "h1", "v1") // a Pod web-1 beside Deployment web's web-1
	other := desired("db-0", "db", "h1", "v1")
	for _, tt := range []struct {
		name     string
		desired  []plan.PodPlan
		observed []Observed
		opts     Options
		want     []string // "kind name"
	}{
		{"missing", []plan.PodPlan{web0}, nil, Options{}, []string{"create web-0"}},
		{"unchanged", []plan.PodPlan{web0}, []Observed{healthy(web0)}, Options{}, []string{"keep web-0"}},
		{"unchanged with --replace", []plan.PodPlan{web0}, []Observed{healthy(web0)}, Options{Replace: true}, []string{"keep web-0"}},
		{"changed spec without --replace", []plan.PodPlan{changed}, []Observed{healthy(web0)}, Options{}, []string{"conflict web-0"}},
		{"changed spec with --replace", []plan.PodPlan{changed}, []Observed{healthy(web0)}, Options{Replace: true}, []string{"replace web-0"}},
		{"scale down", []plan.PodPlan{web0}, []Observed{healthy(web0), healthy(web1), healthy(other)}, Options{Replace: true},
			[]string{"keep web-0", "remove-stale web-1"}}, // db is not in the files: left alone
		{"scale down without --replace", []plan.PodPlan{web0}, []Observed{healthy(web0), healthy(web1)}, Options{}, []string{"keep web-0"}},
		{"scale to zero", nil, []Observed{healthy(web0), healthy(web1), healthy(other)},
			Options{Replace: true, Owners: []plan.NamespacedOwner{{Namespace: "default", Owner: plan.Owner{Kind: "Deployment", Name: "web"}}}},
			[]string{"remove-stale web-0", "remove-stale web-1"}},
		{"scale up", []plan.PodPlan{web0, web1, web2}, []Observed{healthy(web0)}, Options{}, []string{"keep web-0", "create web-1", "create web-2"}},
		{"interrupted pod", []plan.PodPlan{web0}, []Observed{with(healthy(web0), func(o *Observed) { o.Complete = false })}, Options{},
			[]string{"replace web-0"}},
		{"dead pause", []plan.PodPlan{web0}, []Observed{with(healthy(web0), func(o *Observed) { o.Running = false })}, Options{},
			[]string{"replace web-0"}},
		{"owner changed", []plan.PodPlan{single}, []Observed{healthy(web1)}, Options{}, []string{"conflict web-1"}},
		{"owner changed with --replace", []plan.PodPlan{single}, []Observed{healthy(web1)}, Options{Replace: true}, []string{"conflict web-1"}},
		{"owner changed with --force-recreate", []plan.PodPlan{single}, []Observed{healthy(web1)}, Options{ForceRecreate: true}, []string{"conflict web-1"}},
		{"force-recreate", []plan.PodPlan{web0}, []Observed{healthy(web0)}, Options{ForceRecreate: true}, []string{"replace web-0"}},
		{"kept for CreateContainerConfigError, fixed manifest", []plan.PodPlan{changed},
			[]Observed{with(healthy(web0), func(o *Observed) { o.ConfigErrors, o.Complete = true, false })}, Options{}, []string{"replace web-0"}},
		{"kept for CreateContainerConfigError, same manifest", []plan.PodPlan{web0},
			[]Observed{with(healthy(web0), func(o *Observed) { o.ConfigErrors, o.Complete = true, false })}, Options{}, []string{"replace web-0"}},
		{"volume data changed", []plan.PodPlan{desired("web-0", "web", "h1", "v2")}, []Observed{healthy(web0)}, Options{},
			[]string{"update-volumes web-0"}},
		{"volume data changed, pod not complete", []plan.PodPlan{desired("web-0", "web", "h1", "v2")},
			[]Observed{with(healthy(web0), func(o *Observed) { o.Complete = false })}, Options{}, []string{"replace web-0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range Pods(tt.desired, tt.observed, tt.opts) {
				got = append(got, fmt.Sprintf("%s %s", a.Kind, a.Name))
				if a.Reason == "" {
					t.Errorf("%s %s has no reason", a.Kind, a.Name)
				}
				if (a.Desired == nil) != (a.Kind == RemoveStale) || (a.Observed == nil) != (a.Kind == Create) {
					t.Errorf("%s %s: desired %v, observed %v", a.Kind, a.Name, a.Desired, a.Observed)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConflictReasons(t *testing.T) {
	single := desired("web-1", "", "h1", "v1")
	owned := healthy(desired("web-1", "web", "h1", "v1"))
	a := Pods([]plan.PodPlan{single}, []Observed{owned}, Options{})[0]
	if want := "pod default/web-1 was created by Deployment/web from /app.yaml; Pod/web-1 would replace it"; !a.OtherOwner || a.Reason != want {
		t.Errorf("owner conflict: other owner %v, reason %q, want %q", a.OtherOwner, a.Reason, want)
	}
	a = Pods([]plan.PodPlan{desired("web-1", "web", "h2", "v1")}, []Observed{owned}, Options{})[0]
	if a.OtherOwner || a.Kind != Conflict {
		t.Errorf("spec conflict: %+v", a)
	}
}

// Stale pods of another namespace's object of the same name are not the files'.
func TestStaleOnlyForDeclaredOwners(t *testing.T) {
	web0 := desired("web-0", "web", "h1", "v1")
	elsewhere := healthy(desired("web-1", "web", "h1", "v1"))
	elsewhere.Namespace = "other"
	for _, a := range Pods([]plan.PodPlan{web0}, []Observed{healthy(web0), elsewhere}, Options{Replace: true}) {
		if a.Kind == RemoveStale {
			t.Errorf("removes %s, which no file declares", a.Key())
		}
	}
}
