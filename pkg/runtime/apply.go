package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/helperbin"
	"github.com/kplay-dev/kplay/pkg/lease"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/reconcile"
)

// apply executes up's actions (none a conflict): it removes stale pods, updates
// volumes, pulls, then creates pods in parallel; if any pod fails, the pods this run
// created are removed again. It reports every result, also when it fails: then what
// it removed, replaced (the old version is gone) or updated before the failure.
func (r *Runtime) apply(ctx context.Context, actions []reconcile.Action, existing map[string]*podState, o UpOptions) ([]PodResult, error) {
	var results []PodResult
	var create []*plan.PodPlan
	var stale []*podState
	replacing := map[string]bool{} // pods whose old version goes before the new one is created
	for _, a := range actions {
		switch a.Kind {
		case reconcile.Keep:
			results = append(results, PodResult{Namespace: a.Namespace, Name: a.Name, Action: Unchanged})
		case reconcile.UpdateVolumes:
			results = append(results, r.updateVolumes(ctx, a.Desired, existing[a.Key()]))
		case reconcile.Replace:
			replacing[a.Key()] = true
			create = append(create, a.Desired)
		case reconcile.Create:
			create = append(create, a.Desired)
		case reconcile.RemoveStale:
			stale = append(stale, existing[a.Key()])
		}
	}
	// A pod being replaced may hold its own ports (hostNetwork): it is checked once
	// its old version is gone.
	for _, pp := range create {
		if replacing[pp.Namespace+"/"+pp.Name] {
			continue
		}
		if err := network.CheckHostPorts(pp.HostPorts); err != nil {
			return done(results), fmt.Errorf("pod %s/%s: %w", pp.Namespace, pp.Name, err)
		}
	}
	if len(create) > 0 {
		var err error
		if r.infra, err = helperbin.Prepare(r.layout.BinDir(), r.layout.PauseRootfs()); err != nil {
			return done(results), fmt.Errorf("preparing the pause container: %w", err)
		}
		if err := r.reclaim(ctx); err != nil {
			return done(results), fmt.Errorf("releasing what killed kplay runs left: %w", err)
		}
		r.warnRestarts(create)
		var release func()
		if ctx, release, err = lease.With(ctx, r.client); err != nil {
			return done(results), err
		}
		defer release()
	}
	imgs, err := r.pull(ctx, create, o.Pull)
	if err != nil {
		return done(results), err
	}

	var creating []string
	for _, pp := range create {
		creating = append(creating, pp.Namespace+"/"+pp.Owner.String())
	}
	releaseOwners, err := r.ownerLocks(creating, false)
	if err != nil {
		return done(results), err
	}
	results = append(results, r.removeAll(ctx, stale, DownOptions{})...)
	created := r.createAll(ctx, create, replacing, imgs, o)
	releaseOwners()
	var failed, refused []error
	for _, res := range created {
		switch {
		case res.Err == nil:
		case isConfigError(res.Err):
			// The kubelet keeps a pod whose container it refuses, the container
			// waiting: so does up, and it reports the pod's error.
			refused = append(refused, res.Err)
			res.Err = fmt.Errorf("%w\nThe pod stays, that container waiting in %s (see kplay ps): fix the manifest and run up again, or remove the pod with down",
				res.Err, reasonConfigError)
		default:
			failed = append(failed, res.Err)
		}
	}
	if len(failed) == 0 {
		results = append(results, created...)
		sort.Slice(results, func(i, j int) bool {
			return results[i].Namespace+"/"+results[i].Name < results[j].Namespace+"/"+results[j].Name
		})
		return results, nil
	}
	failed = append(failed, refused...)
	for _, res := range results {
		if res.Err != nil {
			failed = append(failed, res.Err)
		}
	}
	failed = append(failed, r.rollback(ctx, created)...)
	// What stays changed: a replaced pod's old version is gone.
	for _, res := range created {
		if res.removedOld {
			results = append(results, PodResult{Namespace: res.Namespace, Name: res.Name, Action: Removed})
		}
	}
	return done(results), errors.Join(failed...)
}

// rollback removes the pods this run created, so a failed up leaves nothing
// half-made, and nothing that another kplay made meanwhile is touched. It runs to
// its end even when the user interrupted up.
func (r *Runtime) rollback(ctx context.Context, created []PodResult) []error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	pods, err := r.records(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("rolling back: %w", err))
	}
	var undo []*podState
	for _, res := range created {
		if st := pods[res.Namespace+"/"+res.Name]; st != nil && res.reserved {
			undo = append(undo, st)
		}
	}
	for _, res := range r.removeAll(ctx, undo, DownOptions{}) {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("rolling back: %w", res.Err))
		}
	}
	return errs
}

// done is the report of an up that failed: what it changed, without pods it left
// as they were and without errors, which the up's error holds.
func done(results []PodResult) []PodResult {
	var out []PodResult
	for _, res := range results {
		if res.Action != Unchanged && res.Err == nil {
			out = append(out, res)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out
}

// warnRestarts says once per up where containerd cannot restart as the pods ask.
func (r *Runtime) warnRestarts(create []*plan.PodPlan) {
	for _, pp := range create {
		if pp.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && !r.restartPolicies {
			r.warn(restartPolicyWarning)
			break
		}
	}
	for _, pp := range create {
		for _, c := range pp.Containers {
			if c.Spec.TTY && !r.restartPolicies && r.restarts(pp.Spec.RestartPolicy) {
				r.warn(fmt.Sprintf("pod %s/%s: container %q: %s", pp.Namespace, pp.Name, c.Name, ttyRestartWarning))
			}
		}
	}
}
