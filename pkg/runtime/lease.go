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

	"github.com/kplay-dev/kplay/pkg/podstate"
)

// withLease holds pulled content and new snapshots for this process until its
// containers reference them. The lease names the process, so a later kplay can
// delete it when this one was killed; the expiry is a last resort.
func (r *Runtime) withLease(ctx context.Context) (context.Context, func(), error) {
	pid := strconv.Itoa(os.Getpid())
	id, _ := processIdentity(pid)
	opts := []leases.Opt{
		leases.WithRandomID(),
		leases.WithExpiration(time.Hour),
		leases.WithLabels(podstate.LeaseLabels(pid, id)),
	}
	ctx, done, err := r.client.WithLease(ctx, opts...)
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
		pid, identity, ok := podstate.LeaseHolder(l.Labels)
		if !ok || holderRuns(pid, identity) {
			continue
		}
		if err := r.client.LeasesService().Delete(ctx, l); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// holderRuns reports whether the process that took a lease still runs. It is known
// by its boot and start time, not by its name: a kplay binary may have any name.
// Leases of older kplays carry no identity; for them the name has to do.
func holderRuns(pid, identity string) bool {
	if identity == "" {
		cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
		return err == nil && strings.Contains(string(cmdline), "kplay")
	}
	now, ok := processIdentity(pid)
	return ok && now == identity
}

// processIdentity is "<boot id>/<start time>" of a running process: the pair no
// other process of any boot has.
func processIdentity(pid string) (string, bool) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", false
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", false
	}
	start, ok := startTime(string(stat))
	if !ok {
		return "", false
	}
	return strings.TrimSpace(string(boot)) + "/" + start, true
}

// startTime is field 22 of /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses, so fields count from the last ')'.
func startTime(stat string) (string, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", false
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return "", false
	}
	return fields[19], true
}

// reclaimBinaries removes copies of the kplay binary that no pod uses any more: each
// kplay version leaves one. A copy made within the hour is kept, as an `up` running
// beside this one may have made it for pods it has not created yet.
func (r *Runtime) reclaimBinaries(used map[string]bool) {
	dir := r.layout.BinDir()
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
