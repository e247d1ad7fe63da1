package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/image"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/pause"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// Action is what up or down did to a pod.
type Action string

const (
	Created   Action = "created"
	Unchanged Action = "unchanged"
	Recreated Action = "recreated"
	Removed   Action = "removed"
	// Updated is a running pod whose configMap or secret volumes were rewritten in place.
	Updated Action = "updated"
	Failed  Action = "failed"
)

// PodResult is one line of up's or down's report.
type PodResult struct {
	Namespace, Name string
	Action          Action
	Err             error
	reserved        bool // up created the pod's infra container in this run
}

// UpOptions control how up converges.
type UpOptions struct {
	// Replace recreates pods whose spec changed and removes pods the same owners no
	// longer declare.
	Replace bool
	// ForceRecreate recreates every pod.
	ForceRecreate bool
	// Pull overrides every container's imagePullPolicy when set.
	Pull image.PullPolicy
	// Workers bounds how many pods are created at once.
	Workers int
}

func sortedPods(pods map[string]*podState) []*podState {
	out := make([]*podState, 0, len(pods))
	for _, p := range pods {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// healthy is a pod that an up finished and whose infra container runs: its
// containers, namespaces and network exist.
func (p *podState) healthy() bool {
	return p.Infra.running() && p.labels().Complete()
}

// Up makes the machine run what the plan says. It pulls first, then creates pods in
// parallel; if any pod fails, the pods this run created are removed again.
func (r *Runtime) Up(ctx context.Context, p *plan.Plan, o UpOptions) ([]PodResult, error) {
	ctx = r.context(ctx)
	existing, err := r.pods(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}

	var results []PodResult
	var create []*plan.PodPlan
	var replace []*podState    // existing pods to remove before their new version is created
	var update []*plan.PodPlan // running pods whose volume data changed
	var conflicts, owners []string
	planned := map[string]bool{}
	for i := range p.Pods {
		pp := &p.Pods[i]
		key := pp.Namespace + "/" + pp.Name
		planned[key] = true
		st := existing[key]
		switch {
		case st == nil:
			create = append(create, pp)
		case st.labels().Owner() != pp.Owner.String():
			// Another object's pod (a Pod web-1 and a replica of Deployment web):
			// neither --replace nor --force-recreate may take it over.
			owners = append(owners, fmt.Sprintf("pod %s was created by %s from %s; %s would replace it",
				key, st.labels().Owner(), st.labels().Source(), pp.Owner))
		case st.labels().SpecHash() == pp.Hash && st.healthy() && !o.ForceRecreate:
			if st.labels().VolumeDataHash() != pp.VolumeDataHash {
				update = append(update, pp)
			} else {
				results = append(results, PodResult{Namespace: pp.Namespace, Name: pp.Name, Action: Unchanged})
			}
		case st.labels().SpecHash() != pp.Hash && !o.Replace && !o.ForceRecreate && len(st.configErrors()) == 0:
			// A pod kept for its refused containers is replaced by the fixed version.
			conflicts = append(conflicts, key)
		default:
			replace = append(replace, st)
			create = append(create, pp)
		}
	}
	if len(owners) > 0 {
		return nil, fmt.Errorf("%w: %s; remove it first (kplay down NAME) or rename one of them",
			errdefs.ErrFailedPrecondition, strings.Join(owners, "; "))
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("%w: pods %s exist with a different spec; run `kplay up --replace` to recreate them",
			errdefs.ErrFailedPrecondition, strings.Join(conflicts, ", "))
	}
	var stale []*podState
	if o.Replace {
		owners := map[string]bool{}
		for _, pp := range p.Pods {
			owners[pp.Namespace+"/"+pp.Owner.String()] = true
		}
		for _, st := range sortedPods(existing) {
			if !planned[st.key()] && owners[st.Namespace+"/"+st.labels().Owner()] {
				stale = append(stale, st)
			}
		}
	}

	for _, pp := range update {
		results = append(results, r.updateVolumes(ctx, pp, existing[pp.Namespace+"/"+pp.Name]))
	}
	replacing := map[string]bool{}
	for _, st := range replace {
		replacing[st.key()] = true
	}
	// A pod being replaced may hold its own ports (hostNetwork): it is checked once
	// its old version is gone.
	for _, pp := range create {
		if replacing[pp.Namespace+"/"+pp.Name] {
			continue
		}
		if err := network.CheckHostPorts(pp.HostPorts); err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", pp.Namespace, pp.Name, err)
		}
	}
	if len(create) > 0 {
		if r.infra, err = pause.Prepare(r.layout.BinDir(), r.layout.PauseRootfs()); err != nil {
			return nil, fmt.Errorf("preparing the pause container: %w", err)
		}
		if err := r.reclaim(ctx); err != nil {
			return nil, fmt.Errorf("releasing what killed kplay runs left: %w", err)
		}
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
	if len(create) > 0 {
		var release func()
		if ctx, release, err = r.withLease(ctx); err != nil {
			return nil, err
		}
		defer release()
	}
	imgs, err := r.pull(ctx, create, o.Pull)
	if err != nil {
		return nil, err
	}

	var creating []string
	for _, pp := range create {
		creating = append(creating, pp.Namespace+"/"+pp.Owner.String())
	}
	releaseOwners, err := r.ownerLocks(creating, false)
	if err != nil {
		return nil, err
	}
	for _, res := range r.removeAll(ctx, stale, DownOptions{}) {
		results = append(results, res)
	}
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
			continue
		}
		results = append(results, res)
	}
	if len(failed) > 0 {
		failed = append(failed, refused...)
		// Roll back the pods this run created, so a failed up leaves nothing
		// half-made, and nothing that another kplay made meanwhile is touched. It
		// runs to its end even when the user interrupted up.
		ctx := context.WithoutCancel(ctx)
		pods, err := r.pods(ctx)
		if err != nil {
			failed = append(failed, fmt.Errorf("rolling back: %w", err))
		}
		var undo []*podState
		for _, res := range created {
			if st := pods[res.Namespace+"/"+res.Name]; st != nil && res.reserved {
				undo = append(undo, st)
			}
		}
		for _, res := range r.removeAll(ctx, undo, DownOptions{}) {
			if res.Err != nil {
				failed = append(failed, fmt.Errorf("rolling back: %w", res.Err))
			}
		}
		return nil, errors.Join(failed...)
	}
	sort.Slice(results, func(i, j int) bool {
		return results[i].Namespace+"/"+results[i].Name < results[j].Namespace+"/"+results[j].Name
	})
	return results, nil
}

// updateVolumes rewrites a running pod's configMap and secret volumes with the atomic
// ..data swap, as the kubelet does: containers keep running and see the new files.
func (r *Runtime) updateVolumes(ctx context.Context, pp *plan.PodPlan, st *podState) PodResult {
	res := PodResult{Namespace: pp.Namespace, Name: pp.Name, Action: Updated}
	l, err := r.podLock(st.ID)
	if err != nil {
		res.Action, res.Err = Failed, err
		return res
	}
	defer l.Unlock()
	err = r.vol.Update(r.dirs(pp.UID), pp.Volumes)
	if err == nil {
		c := st.Infra.Container
		_, err = r.client.ContainerService().Update(ctx, c, podstate.SetVolumeDataHash(&c, pp.VolumeDataHash)...)
	}
	if err != nil {
		res.Action, res.Err = Failed, fmt.Errorf("updating volumes of pod %s: %w", st.key(), err)
	}
	return res
}

// replacePod creates a pod under its lock, first removing the version that exists
// when replace is set. The lock makes a second `up` of the same pod wait, and then see
// the pod as this one left it, instead of taking a pod mid-creation for a broken one.
func (r *Runtime) replacePod(ctx context.Context, pp *plan.PodPlan, replace bool, imgs images) PodResult {
	res := PodResult{Namespace: pp.Namespace, Name: pp.Name, Action: Created}
	key := pp.Namespace + "/" + pp.Name
	fail := func(err error) PodResult {
		res.Action, res.Err = Failed, fmt.Errorf("creating pod %s: %w", key, err)
		return res
	}
	l, err := r.podLock(podstate.PodID(pp.Namespace, pp.Name))
	if err != nil {
		return fail(err)
	}
	defer l.Unlock()
	// When this leaves no pod, its lock file goes too (see removeLocked).
	noPod := false
	defer func() {
		if noPod {
			os.Remove(l.Path())
		}
	}()
	pods, err := r.pods(ctx)
	if err != nil {
		return fail(err)
	}
	if st := pods[key]; st != nil {
		if !replace {
			// Another kplay created it since this one looked.
			if st.labels().SpecHash() == pp.Hash {
				res.Action = Unchanged
				return res
			}
			return fail(fmt.Errorf("%w: another kplay just created it with a different spec", errdefs.ErrAlreadyExists))
		}
		if err := r.removePod(ctx, st, DownOptions{}); err != nil {
			return fail(fmt.Errorf("removing the old version: %w", err))
		}
		if err := network.CheckHostPorts(pp.HostPorts); err != nil {
			noPod = true
			return fail(err)
		}
		res.Action = Recreated
	}
	reserved, err := r.createPod(ctx, pp, imgs)
	res.reserved = reserved
	if isConfigError(err) {
		res.Err = fmt.Errorf("pod %s: %w", key, err)
		return res
	}
	if err != nil {
		noPod = !reserved // else the rollback removes the pod and its lock file
		return fail(err)
	}
	return res
}

// pull makes every image the pods need available, each once, in parallel.
func (r *Runtime) pull(ctx context.Context, pods []*plan.PodPlan, override image.PullPolicy) (images, error) {
	var reqs []image.Request
	seen := map[string]bool{}
	add := func(ref string, policy image.PullPolicy) {
		if override != "" {
			policy = override
		}
		if !seen[ref] {
			seen[ref] = true
			reqs = append(reqs, image.Request{Ref: ref, Policy: policy})
		}
	}
	for _, pp := range pods {
		for _, cs := range [][]plan.Container{pp.InitContainers, pp.Containers} {
			for _, c := range cs {
				add(c.Image, image.PullPolicy(c.PullPolicy))
			}
		}
	}
	if len(pods) > 0 && r.cfg.InfraImage != "" {
		add(r.cfg.InfraImage, image.PullPolicy("IfNotPresent"))
	}
	if len(reqs) == 0 {
		return images{}, nil
	}
	got, err := image.Ensure(ctx, r.client, reqs, image.Options{HostsDir: r.cfg.HostsDir, Progress: r.cfg.Progress, TTY: r.cfg.TTY})
	if err != nil {
		return nil, err
	}
	return images(got), nil
}

// createAll creates pods with a bounded worker pool; the pods in replacing are
// removed first.
func (r *Runtime) createAll(ctx context.Context, pods []*plan.PodPlan, replacing map[string]bool, imgs images, o UpOptions) []PodResult {
	workers := o.Workers
	if workers <= 0 {
		workers = 4
	}
	results := make([]PodResult, len(pods))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, pp := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = r.replacePod(ctx, pp, replacing[pp.Namespace+"/"+pp.Name], imgs)
		}()
	}
	wg.Wait()
	return results
}
