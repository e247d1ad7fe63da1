package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// infraSpec is the OCI spec of the pause container: it owns the pod's UTS, IPC and
// PID namespaces and joins the pinned network namespace.
func (r *Runtime) infraSpec(pp *plan.PodPlan, netns, group string, img client.Image) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if img != nil {
		opts = append(opts, oci.WithImageConfig(img))
	} else {
		opts = append(opts,
			oci.WithRootFSPath(r.infra.Rootfs),
			oci.WithRootFSReadonly(),
			oci.WithProcessArgs(r.infraArgs(pp)...),
			oci.WithMounts(r.infraMounts(pp)),
		)
	}
	opts = append(opts,
		oci.WithAnnotations(podstate.ShimGroup(group)),
	)
	if netns == "" {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace))
	} else {
		opts = append(opts,
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns}),
			oci.WithHostname(pp.Hostname),
		)
	}
	return opts
}

// newInfra creates the pause container's record. Its labels reserve the pod's name and
// host ports, so it is created under the ports lock, before the network exists.
func (r *Runtime) newInfra(ctx context.Context, pp *plan.PodPlan, id, netns string, lbls map[string]string, img client.Image) (client.Container, error) {
	var opts []client.NewContainerOpts
	if img != nil {
		opts = append(opts, client.WithImage(img), newSnapshot(id, img))
	}
	opts = append(opts,
		client.WithContainerLabels(lbls),
		client.WithNewSpec(r.infraSpec(pp, netns, id, img)...),
	)
	ctr, err := r.client.NewContainer(ctx, id, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating infra container: %w", err)
	}
	return ctr, nil
}

// startInfra starts the pause container and pins its IPC and UTS namespaces to files,
// so app containers (and their restarts) never depend on a /proc/PID path.
func (r *Runtime) startInfra(ctx context.Context, pp *plan.PodPlan, ctr client.Container, netns string) (podNamespaces, error) {
	t, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return podNamespaces{}, fmt.Errorf("creating infra task: %w", err)
	}
	if err := t.Start(ctx); err != nil {
		return podNamespaces{}, fmt.Errorf("starting infra container: %w", err)
	}
	ns := podNamespaces{Net: netns}
	dirs := r.dirs(pp.UID)
	if err := os.MkdirAll(dirs.Namespaces(), 0o700); err != nil {
		return ns, err
	}
	pins := map[string]*string{"ipc": &ns.IPC}
	if netns != "" {
		pins["uts"] = &ns.UTS
	}
	if pp.Spec.ShareProcessNamespace != nil && *pp.Spec.ShareProcessNamespace {
		pins["pid"] = &ns.PID
	}
	for kind, path := range pins {
		pin := dirs.Namespace(kind)
		if err := pinNamespace(fmt.Sprintf("/proc/%d/ns/%s", t.Pid(), kind), pin); err != nil {
			return ns, fmt.Errorf("pinning the infra container's %s namespace: %w", kind, err)
		}
		*path = pin
	}
	return ns, nil
}

// pinNamespace bind-mounts a namespace file onto an empty file.
func pinNamespace(src, pin string) error {
	f, err := os.OpenFile(pin, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	return unix.Mount(src, pin, "", unix.MS_BIND, "")
}

// unpinNamespaces unmounts and removes every pinned namespace of the pod whose
// directories are pod.
func unpinNamespaces(pod podstate.PodDirs) error {
	dir := pod.Namespaces()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var errs []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			errs = append(errs, fmt.Sprintf("unmounting %s: %v", p, err))
			continue
		}
		os.Remove(p)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
