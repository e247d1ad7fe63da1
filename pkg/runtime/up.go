package runtime

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/kplay-dev/kplay/pkg/image"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/reconcile"
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
	removedOld      bool // up removed the version of the pod that existed
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

// Up makes the machine run what the plan says: reconcile decides per pod, apply
// executes. Conflicts stop it before anything changes.
func (r *Runtime) Up(ctx context.Context, p *plan.Plan, o UpOptions) ([]PodResult, error) {
	ctx = r.context(ctx)
	existing, err := r.pods(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	actions := reconcile.Pods(p.Pods, observe(existing), reconcile.Options{Replace: o.Replace, ForceRecreate: o.ForceRecreate, Owners: p.Owners})
	if err := conflicts(actions); err != nil {
		return nil, err
	}
	return r.apply(ctx, actions, existing, o)
}

// observe is what reconcile needs to know of the pods that exist.
func observe(pods map[string]*podState) []reconcile.Observed {
	var out []reconcile.Observed
	for _, p := range sortedPods(pods) {
		l := p.labels()
		out = append(out, reconcile.Observed{
			Namespace: p.Namespace, Name: p.Name,
			Owner: l.Owner(), Source: l.Source(), SpecHash: l.SpecHash(), VolumeDataHash: l.VolumeDataHash(),
			Running:      p.Infra.running(),
			Complete:     l.Complete(),
			ConfigErrors: len(l.ConfigErrors()) > 0,
		})
	}
	return out
}

// conflicts is the error of an up that must not start: pods of other objects first,
// as no flag helps with them.
func conflicts(actions []reconcile.Action) error {
	var owners, specs []string
	for _, a := range actions {
		switch {
		case a.Kind != reconcile.Conflict:
		case a.OtherOwner:
			owners = append(owners, a.Reason)
		default:
			specs = append(specs, a.Key())
		}
	}
	if len(owners) > 0 {
		return fmt.Errorf("%w: %s; remove it first (kplay down NAME) or rename one of them",
			errdefs.ErrFailedPrecondition, strings.Join(owners, "; "))
	}
	if len(specs) > 0 {
		return fmt.Errorf("%w: pods %s exist with a different spec; run `kplay up --replace` to recreate them",
			errdefs.ErrFailedPrecondition, strings.Join(specs, ", "))
	}
	return nil
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
	// The pod as it is now, under its lock: another kplay may have made or removed it.
	st, err := r.podRecords(ctx, pp.Namespace, pp.Name)
	if err != nil {
		return fail(err)
	}
	if st != nil {
		if !replace {
			// Another kplay created it since this one looked.
			if st.labels().SpecHash() == pp.Hash {
				res.Action = Unchanged
				return res
			}
			return fail(fmt.Errorf("%w: another kplay just created it with a different spec", errdefs.ErrAlreadyExists))
		}
		if err := r.removePod(ctx, st, DownOptions{}, nil); err != nil {
			return fail(fmt.Errorf("removing the old version: %w", err))
		}
		res.removedOld = true
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
	imgs := images{}
	for ref, img := range got {
		imgs[ref] = newCachedImage(img)
	}
	return imgs, nil
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
