package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/volume"
)

// podNamespaces are the namespaces a pod's containers join.
type podNamespaces struct {
	Net string // netns pin; "" for hostNetwork
	IPC string // pinned from the infra container
	UTS string // pinned from the infra container; "" for hostNetwork (host UTS)
	PID string // pinned from the infra container when shareProcessNamespace, else ""
	// Shm is the pod's /dev/shm: one tmpfs for all its containers, as they share the
	// IPC namespace (containerd's CRI does the same).
	Shm string
}

// commandLine merges a container's command and args with the image's ENTRYPOINT and
// CMD the way Kubernetes does.
func commandLine(command, args, entrypoint, cmd []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, entrypoint...), args...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

// mergeEnv merges NAME=value lists: a later entry replaces an earlier one of the same
// name in place, so the order a user sees is the order names first appeared.
func mergeEnv(lists ...[]string) []string {
	var out []string
	at := map[string]int{}
	for _, l := range lists {
		for _, kv := range l {
			name, _, _ := strings.Cut(kv, "=")
			if i, ok := at[name]; ok {
				out[i] = kv
				continue
			}
			at[name] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// withResources turns requests and limits into cgroup settings the way the kubelet
// does: the cpu request (or, without one, the limit) becomes cpu.shares, the cpu limit a
// CFS quota, the memory limit the memory limit. A container without either keeps the
// runtime's default weight: kplay has no BestEffort cgroup to give it the kubelet's 2.
func withResources(res corev1.ResourceRequirements) []oci.SpecOpts {
	var opts []oci.SpecOpts
	const (
		period    = 100000
		minShares = 2
		maxShares = 262144 // the kernel's cap; runc refuses more
	)
	if q, ok := res.Limits[corev1.ResourceCPU]; ok && !q.IsZero() {
		quota := q.MilliValue() * period / 1000
		if quota < 1000 {
			quota = 1000
		}
		opts = append(opts, oci.WithCPUCFS(quota, period))
	}
	cpuReq, ok := res.Requests[corev1.ResourceCPU]
	if !ok {
		cpuReq, ok = res.Limits[corev1.ResourceCPU]
	}
	if ok && !cpuReq.IsZero() {
		shares := uint64(cpuReq.MilliValue() * 1024 / 1000)
		shares = max(minShares, min(shares, maxShares))
		opts = append(opts, oci.WithCPUShares(shares))
	}
	if q, ok := res.Limits[corev1.ResourceMemory]; ok && !q.IsZero() {
		opts = append(opts, oci.WithMemoryLimit(uint64(q.Value())))
	}
	return opts
}

// withNamespaces joins the pod's namespaces.
func withNamespaces(ns podNamespaces) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if ns.Net == "" {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: ns.Net}))
	}
	if ns.UTS == "" {
		opts = append(opts, oci.WithHostNamespace(specs.UTSNamespace))
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: ns.UTS}))
	}
	opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: ns.IPC}))
	if ns.PID != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: ns.PID}))
	}
	if ns.Shm != "" {
		opts = append(opts, withMountAt(specs.Mount{
			Destination: "/dev/shm",
			Type:        "bind",
			Source:      ns.Shm,
			Options:     []string{"rbind", "rprivate", "rw", "nosuid", "nodev", "noexec"},
		}))
	}
	return opts
}

// withMountAt puts m in place of the default spec's mount at the same destination.
func withMountAt(m specs.Mount) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		kept := s.Mounts[:0]
		for _, have := range s.Mounts {
			if filepath.Clean(have.Destination) != m.Destination {
				kept = append(kept, have)
			}
		}
		s.Mounts = append(kept, m)
		return nil
	}
}

// cgroupMount shows the container its own cgroups at /sys/fs/cgroup, read-only as
// containerd's CRI mounts them (privileged makes it writable): a program can read its
// memory limit.
var cgroupMount = specs.Mount{
	Destination: "/sys/fs/cgroup",
	Type:        "cgroup",
	Source:      "cgroup",
	Options:     []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
}

// defaultPath is the PATH a container gets when its image sets none, as with
// containerd's CRI and Docker.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// etcMounts binds the pod's generated /etc/hosts, /etc/hostname and /etc/resolv.conf.
func etcMounts(pod podstate.PodDirs) []specs.Mount {
	var ms []specs.Mount
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		ms = append(ms, specs.Mount{
			Destination: "/etc/" + f,
			Type:        "bind",
			Source:      pod.Etc(f),
			Options:     []string{"rbind", "rprivate", "rw"},
		})
	}
	return ms
}

// volumeMounts binds the container's volumeMounts from the pod's prepared volumes.
// A subPath is never given to runc as a path inside the volume, which a container
// could swap for a symlink before a restart: bindSubPath pins it first and returns
// the mount point to bind.
func volumeMounts(mounts []corev1.VolumeMount, vols map[string]volume.Prepared, bindSubPath func(index int, volumePath, subPath string) (string, error)) ([]specs.Mount, error) {
	var ms []specs.Mount
	for i, m := range mounts {
		vol, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: volume not prepared", m.Name)
		}
		src := vol.Path
		if m.SubPath != "" {
			var err error
			if src, err = bindSubPath(i, vol.Path, m.SubPath); err != nil {
				return nil, fmt.Errorf("volumeMount %q: %w", m.Name, err)
			}
		}
		mode := "rw"
		if m.ReadOnly || vol.ReadOnly {
			mode = "ro"
		}
		ms = append(ms, specs.Mount{
			Destination: m.MountPath,
			Type:        "bind",
			Source:      src,
			Options:     []string{"rbind", "rprivate", mode},
		})
	}
	return ms, nil
}

// containerSpec builds a container's OCI spec from the image, the plan and the pod's namespaces.
func containerSpec(ctx context.Context, pp *plan.PodPlan, c *plan.Container, res plan.Resolved, img client.Image, ns podNamespaces, mounts []specs.Mount, group string) ([]oci.SpecOpts, error) {
	ic, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading image config of %q: %w", c.Image, err)
	}
	hostname := pp.Hostname
	env := mergeEnv([]string{"HOSTNAME=" + hostname, defaultPath}, ic.Config.Env, res.Env)
	args := commandLine(res.Command, res.Args, ic.Config.Entrypoint, ic.Config.Cmd)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command: the image %q has no ENTRYPOINT or CMD and the container sets no command", c.Image)
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(args...),
		func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			s.Process.Env = env
			return nil
		},
		oci.WithAnnotations(podstate.ShimGroup(group)),
		oci.WithMounts(mounts),
		withMountAt(cgroupMount),
	}
	if c.Spec.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(c.Spec.WorkingDir))
	}
	if c.Spec.TTY {
		opts = append(opts, oci.WithTTY)
	}
	opts = append(opts, withNamespaces(ns)...)
	opts = append(opts, withResources(c.Spec.Resources)...)
	return opts, nil
}
