// Package reconcile decides what up does: it compares the pods the plan wants with
// the pods containerd has and returns one action per pod, each with its reason, as
// the kubelet's computePodActions does for one pod. It is pure; package runtime
// executes the actions.
package reconcile

import (
	"fmt"
	"sort"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// Kind is what to do with one pod.
type Kind string

const (
	// Create a pod that does not exist.
	Create Kind = "create"
	// Keep a pod that runs as planned.
	Keep Kind = "keep"
	// UpdateVolumes rewrites a running pod's configMap and secret volumes in place.
	UpdateVolumes Kind = "update-volumes"
	// Replace removes the pod that exists and creates the planned one.
	Replace Kind = "replace"
	// RemoveStale removes a pod its owner no longer declares (--replace).
	RemoveStale Kind = "remove-stale"
	// Conflict is a pod up must not touch: its spec changed and --replace is not
	// set, or another object owns it. Any conflict stops the whole up.
	Conflict Kind = "conflict"
)

// Observed is one pod as containerd has it: what reconcile needs of its labels and
// its infra container's state.
type Observed struct {
	Namespace, Name string
	Owner           string // "Deployment/web"
	Source          string // the file that declared it
	SpecHash        string
	VolumeDataHash  string
	// Running says its infra container runs.
	Running bool
	// Complete says the up that created it finished it.
	Complete bool
	// ConfigErrors says up kept it with containers it refused to create
	// (CreateContainerConfigError).
	ConfigErrors bool
}

// Key is "namespace/name".
func (o *Observed) Key() string { return o.Namespace + "/" + o.Name }

// Options are up's flags that change the decision.
type Options struct {
	// Replace recreates pods whose spec changed and removes pods the same owners no
	// longer declare.
	Replace bool
	// ForceRecreate recreates every pod.
	ForceRecreate bool
	// Owners are the objects the files declare, also those that declare no pod now
	// (a Deployment scaled to zero): their pods are stale too.
	Owners []plan.NamespacedOwner
}

// Action is what to do with one pod, and why.
type Action struct {
	Kind            Kind
	Namespace, Name string
	Reason          string
	// Desired is the planned pod; nil for RemoveStale.
	Desired *plan.PodPlan
	// Observed is the pod that exists; nil for Create.
	Observed *Observed
	// OtherOwner is set on a Conflict with a pod that another object owns.
	OtherOwner bool
}

// Key is "namespace/name".
func (a Action) Key() string { return a.Namespace + "/" + a.Name }

// Reasons, in the words up's report and errors use.
const (
	reasonMissing       = "not on the machine"
	reasonUnchanged     = "its spec is unchanged"
	reasonVolumeData    = "its configMap or secret data changed"
	reasonForced        = "--force-recreate"
	reasonChanged       = "its spec changed (--replace)"
	reasonRefused       = "it was kept with a refused container (CreateContainerConfigError)"
	reasonInterrupted   = "an earlier up did not finish it"
	reasonSandboxDead   = "its infra container is not running"
	reasonSpecConflict  = "it exists with a different spec; --replace recreates it"
	reasonStaleTemplate = "%s no longer declares it (--replace)"
)

// Pods returns one action per desired pod, in the plan's order, then one per stale
// pod, by key. A pod is stale when an object that declares pods (o.Owners, or the
// owner of a desired pod) no longer declares it.
func Pods(desired []plan.PodPlan, observed []Observed, o Options) []Action {
	have := make(map[string]*Observed, len(observed))
	for i := range observed {
		have[observed[i].Key()] = &observed[i]
	}
	var actions []Action
	planned := map[string]bool{}
	owners := map[string]bool{}
	for _, ow := range o.Owners {
		owners[podstate.OwnerKey(ow.Namespace, ow.Owner.String())] = true
	}
	for i := range desired {
		pp := &desired[i]
		key := pp.Namespace + "/" + pp.Name
		planned[key] = true
		owners[podstate.OwnerKey(pp.Namespace, pp.Owner.String())] = true
		actions = append(actions, pod(pp, have[key], o))
	}
	if !o.Replace {
		return actions
	}
	var stale []Action
	for _, st := range have {
		if !planned[st.Key()] && owners[podstate.OwnerKey(st.Namespace, st.Owner)] {
			stale = append(stale, Action{Kind: RemoveStale, Namespace: st.Namespace, Name: st.Name,
				Reason: fmt.Sprintf(reasonStaleTemplate, st.Owner), Observed: st})
		}
	}
	sort.Slice(stale, func(i, j int) bool { return stale[i].Key() < stale[j].Key() })
	return append(actions, stale...)
}

// pod decides for one planned pod.
func pod(pp *plan.PodPlan, st *Observed, o Options) Action {
	a := Action{Namespace: pp.Namespace, Name: pp.Name, Desired: pp, Observed: st}
	set := func(k Kind, reason string) Action {
		a.Kind, a.Reason = k, reason
		return a
	}
	switch {
	case st == nil:
		return set(Create, reasonMissing)
	case st.Owner != pp.Owner.String():
		// Another object's pod (a Pod web-1 and a replica of Deployment web):
		// neither --replace nor --force-recreate may take it over.
		a.OtherOwner = true
		return set(Conflict, fmt.Sprintf("pod %s was created by %s from %s; %s would replace it",
			st.Key(), st.Owner, st.Source, pp.Owner))
	case o.ForceRecreate:
		return set(Replace, reasonForced)
	case st.SpecHash != pp.Hash:
		switch {
		case o.Replace:
			return set(Replace, reasonChanged)
		case st.ConfigErrors:
			// A pod kept for its refused containers is replaced by the fixed version.
			return set(Replace, reasonRefused)
		}
		return set(Conflict, reasonSpecConflict)
	case !st.Running:
		// The kubelet recreates a sandbox whose pause container died.
		return set(Replace, reasonSandboxDead)
	case st.ConfigErrors:
		// Up again with the same manifest tries the refused containers again.
		return set(Replace, reasonRefused)
	case !st.Complete:
		return set(Replace, reasonInterrupted)
	case st.VolumeDataHash != pp.VolumeDataHash:
		return set(UpdateVolumes, reasonVolumeData)
	}
	return set(Keep, reasonUnchanged)
}
