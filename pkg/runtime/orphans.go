package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/kplay-dev/kplay/pkg/podstate"
)

// A kplay killed, or a containerd restarted, between creating a task and recording it
// leaves tasks that no container record names: a shim still running, runc's state of
// a container that may run, a bundle directory that makes the next task of the same
// ID fail ("task already exists", "mkdir ...: file exists"). Nothing lists them by
// kplay's labels, so they are found by what they are, in kplay's own containerd
// namespace only: bundle directories, runc state and shim processes whose ID no
// container record has. A container record always comes before its task and goes
// after it, so an ID without a record is never one that an up or down is working on.

// taskRoots are where containerd keeps a namespace's task bundles and runc its state.
// They follow from containerd's state directory, the directory of its socket in
// containerd's default configuration; a daemon configured otherwise has none there,
// and reaping finds nothing.
func (r *Runtime) taskRoots() (bundles, runcRoot string) {
	state := filepath.Dir(r.cfg.Address)
	return filepath.Join(state, "io.containerd.runtime.v2.task", r.cfg.Namespace), filepath.Join(state, "runc", r.cfg.Namespace)
}

// reapOrphanTasks removes every task of kplay's namespace whose container record is
// gone: through containerd when it still knows the task, else by hand.
// reapOrphans removes the tasks and the lock files of this namespace that belong to
// no container record, from one listing of the records.
func (r *Runtime) reapOrphans(ctx context.Context) error {
	ctx = r.context(ctx)
	ctrs, err := r.client.ContainerService().List(ctx)
	if err != nil {
		return err
	}
	records := make(map[string]bool, len(ctrs))
	pods := map[string]bool{}
	for _, c := range ctrs {
		records[c.ID] = true
		if l := podstate.Labels(c.Labels); l.Managed() {
			pods[podstate.PodID(l.Namespace(), l.Name())] = true
		}
	}
	return errors.Join(r.reapOrphanTasks(ctx, records), r.reapLockFiles(ctx, pods))
}

func (r *Runtime) reapOrphanTasks(ctx context.Context, records map[string]bool) error {
	orphans := map[string]bool{}
	bundles, runcRoot := r.taskRoots()
	for _, dir := range []string{bundles, runcRoot} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !records[e.Name()] {
				orphans[e.Name()] = true
			}
		}
	}
	shims := shimProcesses(r.cfg.Namespace)
	for id := range shims {
		if !records[id] {
			orphans[id] = true
		}
	}
	var errs []error
	for id := range orphans {
		if err := r.reapTask(ctx, id, bundles, runcRoot, shims[id]); err != nil {
			errs = append(errs, fmt.Errorf("removing the orphaned task %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) reapTask(ctx context.Context, id, bundles, runcRoot string, shimPIDs []int) error {
	// containerd cleans up best what it knows: the process, the shim, the bundle.
	tasks := r.client.TaskService()
	tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: id, Signal: uint32(syscall.SIGKILL), All: true})
	tasks.Delete(ctx, &tasksapi.DeleteTaskRequest{ContainerID: id})
	// What it does not know: the container runc may have started, its shim, its bundle.
	if _, err := os.Stat(filepath.Join(runcRoot, id)); err == nil {
		if out, err := exec.CommandContext(ctx, "runc", "--root", runcRoot, "delete", "--force", id).CombinedOutput(); err != nil {
			return fmt.Errorf("runc delete: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	for _, pid := range shimPIDs {
		unix.Kill(pid, unix.SIGKILL)
	}
	bundle := filepath.Join(bundles, id)
	if _, err := os.Lstat(bundle); err != nil {
		return nil
	}
	if err := unix.Unmount(filepath.Join(bundle, "rootfs"), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting its root filesystem: %w", err)
	}
	// The bundle's work directory is a link into containerd's root; it goes too.
	if work, err := os.Readlink(filepath.Join(bundle, "work")); err == nil && filepath.Base(work) == id {
		os.RemoveAll(work)
	}
	return os.RemoveAll(bundle)
}

// shimProcesses finds the runc shims of a containerd namespace by their command
// line (`containerd-shim-runc-v2 -namespace NS -id ID ...`), by ID.
func shimProcesses(namespace string) map[string][]int {
	shims := map[string][]int{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		var pid int
		if _, err := fmt.Sscanf(p.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if id, ok := shimOf(args, namespace); ok {
			shims[id] = append(shims[id], pid)
		}
	}
	return shims
}

// shimOf reads a shim's ID from its arguments when it serves namespace.
func shimOf(args []string, namespace string) (string, bool) {
	var ns, id string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-namespace":
			ns = args[i+1]
		case "-id":
			id = args[i+1]
		}
	}
	return id, ns == namespace && id != ""
}

// reapLockFiles removes the lock files of this namespace's pods that no longer
// exist: a down killed after it removed a pod but before it removed the pod's lock
// file leaves one, and no later down would find its pod. A file someone holds (an up
// creating that pod) is left alone; one who waited on a removed file locks anew.
func (r *Runtime) reapLockFiles(ctx context.Context, pods map[string]bool) error {
	dir := r.layout.LockDir()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		id, ok := r.layout.PodOfLockFile(e.Name())
		if !ok || pods[id] {
			continue
		}
		l := flock.New(filepath.Join(dir, e.Name()))
		if held, err := l.TryLock(); err != nil || !held {
			continue
		}
		// Under the lock: a pod that an up created meanwhile has its infra record
		// (created first, under this lock) and keeps its file.
		if _, err := r.client.ContainerService().Get(ctx, id); errdefs.IsNotFound(err) {
			os.Remove(l.Path())
		}
		l.Unlock()
	}
	return nil
}
