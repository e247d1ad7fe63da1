package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/runtime/restart"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	"github.com/moby/sys/signal"

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
	// The records say which pods match; their tasks are not needed to remove them.
	pods, err := r.records(ctx)
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

// removeWorkers bounds how many pods delete their tasks, containers, network and
// files at once: that part costs CPU (runc, CNI plugins, unmounts) on every core, and
// more of it at once only queues. Stopping is not bounded: every pod's grace period
// runs at the same time, so a down takes one grace period, not one per worker round.
const removeWorkers = 4

// removeAll removes pods in parallel and reports one result per pod.
func (r *Runtime) removeAll(ctx context.Context, pods []*podState, o DownOptions) []PodResult {
	results := make([]PodResult, len(pods))
	slots := make(chan struct{}, removeWorkers)
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = PodResult{Namespace: p.Namespace, Name: p.Name, Action: Removed}
			if err := r.removeLocked(ctx, p, o, slots); err != nil {
				results[i].Action, results[i].Err = Failed, fmt.Errorf("removing pod %s: %w", p.key(), err)
			}
		}()
	}
	wg.Wait()
	return results
}

// removeLocked removes a pod under its lock, as it is once any `up` creating it is done.
func (r *Runtime) removeLocked(ctx context.Context, p *podState, o DownOptions, slots chan struct{}) error {
	l, err := r.podLock(p.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	// The pod as it is now: an up may have replaced it since the listing.
	if p, err = r.podRecords(ctx, p.Namespace, p.Name); err != nil {
		return err
	}
	if p != nil {
		if err := r.removePod(ctx, p, o, slots); err != nil {
			return err
		}
	}
	// Gone with its pod; whoever waits on it locks the path anew (see lock).
	os.Remove(l.Path())
	return nil
}

// removePod stops and deletes every container of a pod, then its namespaces, network,
// volumes and files, from the records in p (none is read again). It works on partial
// pods too (a failed or interrupted up). slots, when not nil, bounds the deleting.
func (r *Runtime) removePod(ctx context.Context, p *podState, o DownOptions, slots chan struct{}) error {
	grace := 30 * time.Second
	if g, ok := p.labels().GracePeriod(); ok {
		// As the kubelet: even a pod that asks for 0 gets its stop signal and 2 s.
		grace = max(time.Duration(g)*time.Second, 2*time.Second)
	}
	if o.Timeout != nil {
		grace = *o.Timeout
	}
	uid := p.labels().UID()
	// The apps at once, in one grace period, then the infra, as the kubelet stops the
	// sandbox after the containers: while an app shuts down its pod still answers DNS
	// (the pause process is the responder), and the pause process of a pod that shares
	// its PID namespace is that namespace's init, whose exit would SIGKILL the apps. It
	// exits on SIGTERM at once; its stop runs while the apps are deleted.
	stopped, errs := r.each(p.Containers, func(c *ctrState) error { return r.stopContainer(ctx, c, grace) })
	infraStopped := make(chan error, 1)
	if p.Infra != nil {
		go func() { infraStopped <- r.stopContainer(ctx, p.Infra, 2*time.Second) }()
	}
	if slots != nil {
		slots <- struct{}{}
		defer func() { <-slots }()
	}
	// The network goes while the containers are deleted: neither needs the other.
	var wg sync.WaitGroup
	var netErr error
	if !p.labels().HostNetwork() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nm, err := r.network()
			if err == nil {
				err = nm.Teardown(ctx, network.Pod{ID: r.netID(p.ID), Namespace: p.Namespace, Name: p.Name, Ports: p.labels().Ports()})
			}
			if err != nil {
				netErr = fmt.Errorf("tearing down the network: %w", err)
			}
		}()
	}
	// A container that did not stop keeps its record, for the next down to find. One
	// after the other: the tasks share a shim, which exits with the last, and a delete
	// beside that one finds the shim's connection closed. The infra record goes last,
	// once the network is gone: while it exists, another kplay's reclaim takes the pod
	// for alive and leaves its network to this teardown.
	for _, c := range stopped {
		if err := r.deleteContainer(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name(), err))
		}
	}
	wg.Wait()
	if netErr != nil {
		errs = append(errs, netErr)
	}
	if p.Infra != nil {
		err := <-infraStopped
		if err == nil {
			err = r.deleteContainer(ctx, p.Infra)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Infra.name(), err))
		}
	}
	if uid != "" {
		if err := unpinNamespaces(r.dirs(uid)); err != nil {
			errs = append(errs, err)
		}
	}
	if uid != "" {
		if err := r.vol.Remove(r.dirs(uid)); err != nil {
			errs = append(errs, fmt.Errorf("removing volumes: %w", err))
		}
	}
	return errors.Join(errs...)
}

// each runs f on every container in parallel and returns those it succeeded on, and
// the errors, each naming its container.
func (r *Runtime) each(cs []*ctrState, f func(*ctrState) error) (ok []*ctrState, errs []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f(c)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok = append(ok, c)
				return
			}
			errs = append(errs, fmt.Errorf("%s: %w", c.name(), err))
		}()
	}
	wg.Wait()
	return ok, errs
}

// name is how errors name the container.
func (c *ctrState) name() string {
	if c.labels().IsInfra() {
		return "infra container"
	}
	return fmt.Sprintf("container %q", c.labels().Container())
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

// stopContainer takes a container from the restart monitor and stops its task: stop
// signal, up to grace for the exit, then SIGKILL. It talks to containerd's task service
// directly, with what the record says (the stop signal is a label), so a stop is a
// kill and a wait, not a round of loading the container and task first.
func (r *Runtime) stopContainer(ctx context.Context, c *ctrState, grace time.Duration) error {
	// Only containers handed to the restart monitor carry its labels.
	if _, watched := c.Labels[restart.StatusLabel]; watched {
		if err := r.clearRestartLabels(ctx, c.ID); err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
	}
	tasks := r.client.TaskService()
	kill := func(sig syscall.Signal) error {
		_, err := tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: c.ID, Signal: uint32(sig), All: sig == syscall.SIGKILL})
		// Not found: no task, or one that has exited already; the wait tells which.
		if err = errgrpc.ToNative(err); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}
	// wait says errTimeout when d passed. The wait is cancelled then, not given a
	// deadline: containerd passes a deadline on to the shim, and its own answer for it
	// (an unknown "context deadline exceeded") can come before the client's.
	wait := func(d time.Duration) error {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var late atomic.Bool
		timer := time.AfterFunc(d, func() { late.Store(true); cancel() })
		defer timer.Stop()
		_, err := tasks.Wait(wctx, &tasksapi.WaitRequest{ContainerID: c.ID})
		if err != nil && late.Load() && ctx.Err() == nil {
			return errTimeout
		}
		return errgrpc.ToNative(err)
	}
	sig := syscall.SIGKILL
	if grace > 0 {
		sig = stopSignal(c.Labels)
	}
	if err := kill(sig); err != nil {
		if shimGone(err) {
			return nil
		}
		return err
	}
	// An exited task waits for its delete with its exit status: this returns at once.
	err := wait(grace)
	if err == nil || isNotFound(err) || shimGone(err) {
		return nil
	}
	if err != errTimeout {
		return err
	}
	if err := kill(syscall.SIGKILL); err != nil {
		return err
	}
	if err := wait(10 * time.Second); err != nil && !isNotFound(err) {
		if err == errTimeout {
			return errors.New("task did not exit 10s after SIGKILL")
		}
		return err
	}
	return nil
}

var errTimeout = errors.New("timed out")

// shimGone says that the task's shim is dead (killed): its task runs no more, and
// containerd removes it when it cleans up after the shim, as for the dead shims it
// finds at its start. containerd reports it only as the shim's connection closed.
func shimGone(err error) bool {
	return err != nil && strings.Contains(err.Error(), ttrpc.ErrClosed.Error())
}

// stopSignal is the image's STOPSIGNAL that the container's labels keep, or SIGTERM.
func stopSignal(labels map[string]string) syscall.Signal {
	if s, ok := labels[client.StopSignalLabel]; ok {
		if sig, err := signal.ParseSignal(s); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}

// deleteContainer deletes a stopped container's task, snapshot and record, in that
// order: a kplay killed on the way leaves the record, which the next down finds.
func (r *Runtime) deleteContainer(ctx context.Context, c *ctrState) error {
	tasks := r.client.TaskService()
	_, err := tasks.Delete(ctx, &tasksapi.DeleteTaskRequest{ContainerID: c.ID})
	if err = errgrpc.ToNative(err); err != nil && !isNotFound(err) && !shimGone(err) {
		// containerd's restart monitor may have listed the container before its
		// restart labels were cleared, and started it again after it stopped ("cannot
		// delete a running process", seen in a down of 50 pods). The labels are gone
		// now, so it will not do so twice: kill what runs and delete again.
		tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: c.ID, Signal: uint32(syscall.SIGKILL), All: true})
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tasks.Wait(wctx, &tasksapi.WaitRequest{ContainerID: c.ID})
		cancel()
		_, err = tasks.Delete(ctx, &tasksapi.DeleteTaskRequest{ContainerID: c.ID})
		if err = errgrpc.ToNative(err); err != nil && !isNotFound(err) && !shimGone(err) {
			return fmt.Errorf("deleting its task: %w", err)
		}
	}
	if c.SnapshotKey != "" {
		if err := r.client.SnapshotService(c.Snapshotter).Remove(ctx, c.SnapshotKey); err != nil && !isNotFound(err) {
			return fmt.Errorf("removing its snapshot: %w", err)
		}
	}
	if err := r.client.ContainerService().Delete(ctx, c.ID); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
