// Package lease holds what a kplay process pulls and unpacks in a containerd lease
// that names the process, so a later kplay can tell a live holder from a killed one
// and release what the killed one held.
package lease

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"

	"github.com/kplay-dev/kplay/pkg/podstate"
)

// With holds pulled content and new snapshots for this process until its
// containers reference them. The lease names the process, so a later kplay can
// delete it when this one was killed; the expiry is a last resort.
func With(ctx context.Context, c *client.Client) (context.Context, func(), error) {
	pid := strconv.Itoa(os.Getpid())
	id, _ := processIdentity(pid)
	opts := []leases.Opt{
		leases.WithRandomID(),
		leases.WithExpiration(time.Hour),
		leases.WithLabels(podstate.LeaseLabels(pid, id)),
	}
	ctx, done, err := c.WithLease(ctx, opts...)
	if err != nil {
		return ctx, nil, err
	}
	return ctx, func() { done(context.WithoutCancel(ctx)) }, nil
}

// Reclaim deletes the leases of kplay processes that no longer run.
func Reclaim(ctx context.Context, c *client.Client) error {
	ls, err := c.LeasesService().List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range ls {
		pid, identity, ok := podstate.LeaseHolder(l.Labels)
		if !ok || holderRuns(pid, identity) {
			continue
		}
		if err := c.LeasesService().Delete(ctx, l); err != nil && !errdefs.IsNotFound(err) {
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
