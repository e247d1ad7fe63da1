// Command floor is the benchmark's lower bound for kplay: the same containers kplay
// runs for a pod (its pause infra container and the app container, one shim per pod
// through the io.containerd.runc.v2.group annotation) created and removed through the
// containerd Go client alone, with no CNI, no log driver (no stdio) and no hook. The
// pause container gets a fresh network namespace from runc (loopback only); the app
// joins the pause container's network, IPC and UTS namespaces by /proc path.
//
//	floor pause-spec -from NS -o FILE   save how kplay runs its pause container (a kplay pod must run in NS)
//	floor pull -image REF               pull and unpack REF into the floor's namespace
//	floor up -n N -image REF -pause FILE  create and start N pods, 4 at a time as kplay up does
//	floor down                          stop and remove every container in the floor's namespace
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// shimGroup is the annotation kplay sets (pkg/labels.ShimGroup); spelled out here so
// the floor does not move when kplay's packages do.
const shimGroup = "io.containerd.runc.v2.group"

// workers is kplay up's default worker count (pkg/runtime createAll).
const workers = 4

// pause is how kplay runs its pause process without an image: a read-only rootfs,
// the executable and whatever it needs bind-mounted read-only.
type pause struct {
	Rootfs string        `json:"rootfs"`
	Args   []string      `json:"args"`
	Mounts []specs.Mount `json:"mounts"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floor pause-spec|pull|up|down [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("floor "+os.Args[1], flag.ExitOnError)
	address := fs.String("address", defaults.DefaultAddress, "containerd socket")
	namespace := fs.String("namespace", "kplay-bench-floor", "containerd namespace of the floor's containers")
	from := fs.String("from", "kplay-bench", "pause-spec: containerd namespace where a kplay pod runs")
	out := fs.String("o", "", "pause-spec: file to write")
	ref := fs.String("image", "docker.io/library/nginx:latest", "image of the app container")
	hostsDir := fs.String("hosts-dir", "/etc/containerd/certs.d", "pull: registry configuration directory")
	n := fs.Int("n", 1, "up: pods to create")
	pauseFile := fs.String("pause", "", "up: file written by pause-spec")
	fs.Parse(os.Args[2:])

	c, err := client.New(*address)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), *namespace)
	switch os.Args[1] {
	case "pause-spec":
		err = pauseSpec(namespaces.WithNamespace(ctx, *from), c, *out)
	case "pull":
		err = pull(ctx, c, *ref, *hostsDir)
	case "up":
		err = up(ctx, c, *n, *ref, *pauseFile)
	case "down":
		err = down(ctx, c)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}

// pauseSpec reads the spec of a running kplay infra container, so the floor runs the
// pause executable kplay runs today (whatever binary that is) and not a copy of its
// preparation code.
func pauseSpec(ctx context.Context, c *client.Client, out string) error {
	ctrs, err := c.Containers(ctx, `labels."io.kplay.role"==infra`)
	if err != nil {
		return err
	}
	if len(ctrs) == 0 {
		return errors.New("no kplay infra container is there to copy")
	}
	info, err := ctrs[0].Info(ctx)
	if err != nil {
		return err
	}
	if info.Image != "" {
		return fmt.Errorf("kplay's infra container %s runs image %s; the floor copies only a rootfs pause", info.ID, info.Image)
	}
	spec, err := ctrs[0].Spec(ctx)
	if err != nil {
		return err
	}
	if spec.Root == nil || spec.Process == nil || len(spec.Process.Args) == 0 {
		return fmt.Errorf("kplay's infra container %s has no rootfs or args", info.ID)
	}
	// The executable alone: extra args and directory binds (the DNS records) are
	// features of kplay's pause, not what a pod needs to exist. File binds are the
	// executable and, for a dynamic one, its loader and libraries.
	p := pause{Rootfs: spec.Root.Path, Args: spec.Process.Args[:1]}
	for _, m := range spec.Mounts {
		if m.Type != "bind" {
			continue
		}
		if st, err := os.Stat(m.Source); err == nil && st.Mode().IsRegular() {
			p.Mounts = append(p.Mounts, m)
		}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func pull(ctx context.Context, c *client.Client, ref, hostsDir string) error {
	hosts := config.ConfigureHosts(ctx, config.HostOptions{HostDir: config.HostDirFromRoot(hostsDir)})
	_, err := c.Pull(ctx, ref,
		client.WithResolver(docker.NewResolver(docker.ResolverOptions{Hosts: hosts})),
		client.WithPullUnpack,
		client.WithPullSnapshotter(defaults.DefaultSnapshotter),
	)
	return err
}

func up(ctx context.Context, c *client.Client, n int, ref, pauseFile string) error {
	b, err := os.ReadFile(pauseFile)
	if err != nil {
		return err
	}
	var p pause
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", pauseFile, err)
	}
	img, err := c.GetImage(ctx, ref)
	if err != nil {
		return fmt.Errorf("image %s (run floor pull first): %w", ref, err)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := startPod(ctx, c, fmt.Sprintf("floor-%d", i), img, p); err != nil {
				errs[i] = fmt.Errorf("pod floor-%d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func startPod(ctx context.Context, c *client.Client, id string, img client.Image, p pause) error {
	group := oci.WithAnnotations(map[string]string{shimGroup: id})
	infra, err := c.NewContainer(ctx, id, client.WithNewSpec(
		oci.WithRootFSPath(p.Rootfs),
		oci.WithRootFSReadonly(),
		oci.WithProcessArgs(p.Args...),
		oci.WithMounts(p.Mounts),
		oci.WithHostname(id),
		group,
	))
	if err != nil {
		return err
	}
	t, err := infra.NewTask(ctx, cio.NullIO)
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	appID := id + "_app"
	var joins []oci.SpecOpts
	for _, ns := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		joins = append(joins, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: ns, Path: fmt.Sprintf("/proc/%d/ns/%s", t.Pid(), nsFile(ns))}))
	}
	app, err := c.NewContainer(ctx, appID,
		client.WithImage(img),
		client.WithNewSnapshot(appID, img),
		client.WithImageStopSignal(img, "SIGTERM"),
		client.WithNewSpec(append([]oci.SpecOpts{oci.WithImageConfig(img), group}, joins...)...),
	)
	if err != nil {
		return err
	}
	at, err := app.NewTask(ctx, cio.NullIO)
	if err != nil {
		return err
	}
	return at.Start(ctx)
}

func nsFile(t specs.LinuxNamespaceType) string {
	if t == specs.NetworkNamespace {
		return "net"
	}
	return string(t)
}

// down removes every pod in parallel as kplay down does: apps first, then the pause
// container, each with its stop signal, then the container and its snapshot.
func down(ctx context.Context, c *client.Client) error {
	ctrs, err := c.Containers(ctx)
	if err != nil {
		return err
	}
	pods := map[string][]client.Container{}
	for _, ctr := range ctrs {
		info, err := ctr.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			return err
		}
		pods[podOf(info)] = append(pods[podOf(info)], ctr)
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, members := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := removePod(ctx, members); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func podOf(info containers.Container) string {
	if info.Image == "" {
		return info.ID
	}
	return info.ID[:len(info.ID)-len("_app")]
}

func removePod(ctx context.Context, members []client.Container) error {
	var infra []client.Container
	var apps []client.Container
	for _, m := range members {
		if info, err := m.Info(ctx, client.WithoutRefreshedMetadata); err == nil && info.Image == "" {
			infra = append(infra, m)
		} else {
			apps = append(apps, m)
		}
	}
	errs := make([]error, len(apps))
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = remove(ctx, a)
		}()
	}
	wg.Wait()
	for _, p := range infra {
		errs = append(errs, remove(ctx, p))
	}
	return errors.Join(errs...)
}

func remove(ctx context.Context, ctr client.Container) error {
	if t, err := ctr.Task(ctx, nil); err == nil {
		exited, err := t.Wait(ctx)
		if err != nil {
			return err
		}
		sig, err := client.GetStopSignal(ctx, ctr, syscall.SIGTERM)
		if err != nil {
			return err
		}
		if err := t.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			if err := t.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
			<-exited
		}
		if _, err := t.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	} else if !errdefs.IsNotFound(err) {
		return err
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}
