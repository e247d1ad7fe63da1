package runtime

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/core/runtime/restart"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/kplay-dev/kplay/pkg/lease"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// reclaimBinaries removes the programs in the bin directory that no container uses any
// more: the kplay-helper of each kplay version, and the copies of the whole kplay
// binary that kplays before the helper ran their pods from. A file installed or taken
// within the hour is kept, as an `up` running beside this one may have installed it
// for pods it has not created yet; the time is looked at again just before removal.
func (r *Runtime) reclaimBinaries(used map[string]bool) {
	dir := r.layout.BinDir()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil || used[path] || path == r.infra.Binary || time.Since(info.ModTime()) < time.Hour {
			continue
		}
		// An Install (helperbin) does not take the ports lock: it may be touching
		// the file now. Move it aside, then look at its time again: an Install that
		// touched it before the move shows there and the file goes back; one after
		// the move finds no file and writes a new one.
		beforeReclaim(path)
		aside := filepath.Join(dir, ".reclaim-"+e.Name())
		if os.Rename(path, aside) != nil {
			continue
		}
		if info, err := os.Lstat(aside); err == nil && time.Since(info.ModTime()) < time.Hour {
			os.Link(aside, path) // fails if an Install wrote it anew meanwhile: that copy serves
		}
		os.Remove(aside)
	}
}

// beforeReclaim lets a test act between reclaimBinaries' first look and the removal.
var beforeReclaim = func(string) {}

// reclaim releases the network of pods a killed kplay left half-made: addresses,
// rules and netns pins whose infra container no longer exists.
func (r *Runtime) reclaim(ctx context.Context) error {
	l, err := r.lock("ports")
	if err != nil {
		return err
	}
	defer l.Unlock()
	// The roots may be shared by kplays working in other containerd namespaces:
	// what any of their pods uses is alive.
	live, err := r.live(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if nm, err := r.network(); err == nil {
		errs = append(errs, nm.Reclaim(ctx, func(id string) bool { return live.netIDs[id] }))
	} else if _, statErr := os.Stat(r.layout.Network().Root); statErr == nil {
		errs = append(errs, err) // there may be networks to release, but no plugins to do it
	}
	errs = append(errs, lease.Reclaim(ctx, r.client), r.reapOrphans(ctx))
	r.reclaimBinaries(live.binaries)
	// Pod directories whose pod has no container left: a killed up or down.
	for _, key := range r.layout.PodKeys() {
		if live.podKeys[key] {
			continue
		}
		dirs := r.layout.PodByKey(key)
		errs = append(errs, unpinNamespaces(dirs), r.vol.Remove(dirs))
	}
	return errors.Join(errs...)
}

// logDriver is the program a binary:// log URI runs, or "".
func logDriver(uri string) string {
	if u, err := url.Parse(uri); err == nil && u.Scheme == "binary" {
		return u.Path
	}
	return ""
}

// liveSet is what the kplay pods of every containerd namespace use.
type liveSet struct {
	netIDs, podKeys, binaries map[string]bool
	claims                    map[string]bool // "namespace/name"
}

func (r *Runtime) live(ctx context.Context) (liveSet, error) {
	live := liveSet{netIDs: map[string]bool{}, podKeys: map[string]bool{}, binaries: map[string]bool{}, claims: map[string]bool{}}
	nss, err := r.client.NamespaceService().List(ctx)
	if err != nil {
		return live, err
	}
	for _, ns := range nss {
		ctrs, err := r.client.ContainerService().List(namespaces.WithNamespace(ctx, ns))
		if err != nil {
			return live, err
		}
		for _, c := range ctrs {
			l := podstate.Labels(c.Labels)
			if !l.Managed() {
				continue
			}
			live.podKeys[podstate.PodKey(ns, l.UID())] = true
			if bin := logDriver(c.Labels[restart.LogURILabel]); bin != "" {
				live.binaries[bin] = true // what the restart monitor starts the logger from
			}
			if l.IsInfra() {
				live.netIDs[podstate.NetID(ns, c.ID)] = true
				live.binaries[l.Binary()] = true
				for _, claim := range l.Claims() {
					live.claims[claim] = true
				}
			}
		}
	}
	return live, nil
}
