package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/runtime/restart"

	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// DownOptions control how pods are removed.
type DownOptions struct {
	// Timeout overrides every pod's terminationGracePeriodSeconds when set.
	Timeout *time.Duration
	// Volumes also removes the PersistentVolumeClaim directories the pods used.
	Volumes bool
}

// Selector picks the pods `down` removes.
type Selector struct {
	All bool
	// Names are "name" (namespace default) or "namespace/name".
	Names []string
	// Owners are "namespace/Kind/name": every pod such an object declared, whatever its replica count now.
	Owners []string
}

func (s Selector) matches(p *podState) bool {
	if s.All {
		return true
	}
	for _, n := range s.Names {
		ns, name, ok := strings.Cut(n, "/")
		if !ok {
			ns, name = "default", n
		}
		if p.Namespace == ns && p.Name == name {
			return true
		}
	}
	owner := podstate.OwnerKey(p.Namespace, p.labels().Owner())
	for _, o := range s.Owners {
		if o == owner {
			return true
		}
	}
	return false
}

// Down removes the selected pods, all in parallel. Removing what does not exist is no error.
func (r *Runtime) Down(ctx context.Context, sel Selector, o DownOptions) ([]PodResult, error) {
	ctx = r.context(ctx)
	// An up of the same objects that is creating pods finishes first (ownerLocks).
	release, err := r.ownerLocks(sel.Owners, true)
	if err != nil {
		return nil, err
	}
	pods, err := r.pods(ctx)
	release()
	if err != nil {
		return nil, err
	}
	var victims []*podState
	for _, p := range sortedPods(pods) {
		if sel.matches(p) {
			victims = append(victims, p)
		}
	}
	results := r.removeAll(ctx, victims, o)
	if o.Volumes {
		if err := r.removeClaims(ctx, victims); err != nil {
			return results, fmt.Errorf("removing claim data: %w", err)
		}
	}
	// Also what a killed kplay left half-made: networks, pod directories and leases
	// whose pod or process is gone.
	if err := r.reclaim(ctx); err != nil {
		return results, fmt.Errorf("releasing what killed kplay runs left: %w", err)
	}
	return results, nil
}

// removeAll removes pods in parallel and reports one result per pod.
func (r *Runtime) removeAll(ctx context.Context, pods []*podState, o DownOptions) []PodResult {
	results := make([]PodResult, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = PodResult{Namespace: p.Namespace, Name: p.Name, Action: Removed}
			if err := r.removeLocked(ctx, p, o); err != nil {
				results[i].Action, results[i].Err = Failed, fmt.Errorf("removing pod %s: %w", p.key(), err)
			}
		}()
	}
	wg.Wait()
	return results
}

// removeLocked removes a pod under its lock, as it is once any `up` creating it is done.
func (r *Runtime) removeLocked(ctx context.Context, p *podState, o DownOptions) error {
	l, err := r.podLock(p.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	pods, err := r.pods(ctx)
	if err != nil {
		return err
	}
	if p = pods[p.key()]; p != nil {
		if err := r.removePod(ctx, p, o); err != nil {
			return err
		}
	}
	// Gone with its pod; whoever waits on it locks the path anew (see lock).
	os.Remove(l.Path())
	return nil
}

// removePod stops and deletes every container of a pod, then its namespaces, network,
// volumes and files. It works on partial pods too (a failed or interrupted up).
func (r *Runtime) removePod(ctx context.Context, p *podState, o DownOptions) error {
	grace := 30 * time.Second
	if g, ok := p.labels().GracePeriod(); ok {
		// As the kubelet: even a pod that asks for 0 gets its stop signal and 2 s.
		grace = max(time.Duration(g)*time.Second, 2*time.Second)
	}
	if o.Timeout != nil {
		grace = *o.Timeout
	}
	var errs []error
	// App and init containers first, in parallel, each with the pod's grace period.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range p.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.removeContainer(ctx, c, grace); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("container %q: %w", c.labels().Container(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if p.Infra != nil {
		if err := r.removeContainer(ctx, p.Infra, 2*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("infra container: %w", err))
		}
	}
	uid := p.labels().UID()
	if uid != "" {
		if err := unpinNamespaces(r.dirs(uid)); err != nil {
			errs = append(errs, err)
		}
	}
	if !p.labels().HostNetwork() {
		nm, err := r.network()
		if err == nil {
			err = nm.Teardown(ctx, network.Pod{ID: r.netID(p.ID), Namespace: p.Namespace, Name: p.Name, Ports: p.labels().Ports()})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tearing down the network: %w", err))
		}
	}
	if uid != "" {
		if err := r.vol.Remove(r.dirs(uid)); err != nil {
			errs = append(errs, fmt.Errorf("removing volumes: %w", err))
		}
	}
	return errors.Join(errs...)
}

// removeClaims deletes the data of the claims the removed pods used, unless a pod
// that remains uses it too, in any containerd namespace: namespaces may share the
// roots, and so the claims.
func (r *Runtime) removeClaims(ctx context.Context, removed []*podState) error {
	var claims []string
	for _, p := range removed {
		claims = append(claims, p.labels().Claims()...)
	}
	_, err := r.removeUnusedClaims(ctx, claims)
	return err
}

// removeUnusedClaims deletes the data of the claims ("namespace/name") that no pod of
// any containerd namespace uses, and returns those it deleted.
func (r *Runtime) removeUnusedClaims(ctx context.Context, claims []string) ([]string, error) {
	live, err := r.live(ctx)
	if err != nil {
		return nil, err
	}
	inUse := live.claims
	var errs []error
	var removed []string
	for _, c := range claims {
		ns, name, ok := strings.Cut(c, "/")
		if !ok || inUse[c] {
			continue
		}
		inUse[c] = true // once
		if err := r.vol.RemoveClaim(ns, name); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, c)
		}
	}
	return removed, errors.Join(errs...)
}

// removeContainer stops a container's task (stop signal, grace period, SIGKILL) and
// deletes the task, the container and its snapshot.
func (r *Runtime) removeContainer(ctx context.Context, c *ctrState, grace time.Duration) error {
	ctr, err := r.client.LoadContainer(ctx, c.ID)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	// Only containers handed to the restart monitor carry its labels.
	if _, watched := c.Labels[restart.StatusLabel]; watched {
		if err := clearRestartLabels(ctx, ctr); err != nil && !isNotFound(err) {
			return err
		}
	}
	if err := stopTask(ctx, ctr, grace); err != nil {
		return err
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// stopTask signals, waits up to grace, kills, and deletes the task, if there is one.
func stopTask(ctx context.Context, ctr client.Container, grace time.Duration) error {
	t, err := ctr.Task(ctx, nil)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	st, err := t.Status(ctx)
	if err != nil && !isNotFound(err) {
		return err
	}
	if st.Status == client.Running || st.Status == client.Paused || st.Status == client.Created {
		exitC, err := t.Wait(ctx)
		if err != nil {
			return err
		}
		sig, err := client.GetStopSignal(ctx, ctr, syscall.SIGTERM)
		if err != nil {
			sig = syscall.SIGTERM
		}
		if grace > 0 {
			if err := t.Kill(ctx, sig); err != nil && !isNotFound(err) {
				return err
			}
		}
		select {
		case <-exitC:
		case <-time.After(grace):
			if err := t.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !isNotFound(err) {
				return err
			}
			select {
			case <-exitC:
			case <-time.After(10 * time.Second):
				return errors.New("task did not exit 10s after SIGKILL")
			}
		}
	}
	if _, err := t.Delete(ctx, client.WithProcessKill); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
