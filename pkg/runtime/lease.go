package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/leases"

	"github.com/kplay-dev/kplay/pkg/labels"
)

// withLease holds pulled content and new snapshots for this process until its
// containers reference them. The lease names the process, so a later kplay can
// delete it when this one was killed; the expiry is a last resort.
func (r *Runtime) withLease(ctx context.Context) (context.Context, func(), error) {
	ctx, done, err := r.client.WithLease(ctx,
		leases.WithRandomID(),
		leases.WithExpiration(time.Hour),
		leases.WithLabel(labels.LeasePID, strconv.Itoa(os.Getpid())),
	)
	if err != nil {
		return ctx, nil, err
	}
	return ctx, func() { done(context.WithoutCancel(ctx)) }, nil
}

// reclaimLeases deletes the leases of kplay processes that no longer run.
func (r *Runtime) reclaimLeases(ctx context.Context) error {
	ls, err := r.client.LeasesService().List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range ls {
		pid, ok := l.Labels[labels.LeasePID]
		if !ok || kplayRuns(pid) {
			continue
		}
		if err := r.client.LeasesService().Delete(ctx, l); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// kplayRuns reports whether pid is a running kplay process.
func kplayRuns(pid string) bool {
	cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
	return err == nil && strings.Contains(string(cmdline), "kplay")
}

// reclaimBinaries removes copies of the kplay binary that no pod uses any more: each
// kplay version leaves one. A copy made within the hour is kept, as an `up` running
// beside this one may have made it for pods it has not created yet.
func (r *Runtime) reclaimBinaries(used map[string]bool) {
	dir := filepath.Join(r.cfg.DataRoot, "bin")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil || used[path] || path == r.infra.Binary || time.Since(info.ModTime()) < time.Hour {
			continue
		}
		os.Remove(path)
	}
}
