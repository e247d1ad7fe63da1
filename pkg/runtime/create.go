package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/gofrs/flock"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kplay-dev/kplay/pkg/hook"
	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/podstatus"
	"github.com/kplay-dev/kplay/pkg/volume"
)

// reserve checks that no other pod (of either kind) and no host process holds the pod's host ports, creates the infra
// container record and attaches the pod to the network, all under the ports lock: the
// record is what Reclaim (run under the same lock, exclusive) sees as a live pod, so it
// never takes a network that is being built. A pod without host ports takes the lock
// shared, so such pods are set up side by side; one with host ports, or of hostNetwork,
// takes it exclusive, as its check and its claim of the ports must be one step.
// It starts the infra container with start: on kplay's network while the plugins
// attach the pod, as the pause process needs no more than its namespace's lo, and
// the apps start only once both are done. A returned container exists even with
// an error.
func (r *Runtime) reserve(ctx context.Context, pp *plan.PodPlan, id string, lbls map[string]string, img client.Image,
	start func(infra client.Container, netns string) error) (client.Container, string, error) {
	take := (*flock.Flock).RLock
	if pp.Spec.HostNetwork || len(pp.HostPorts) > 0 {
		take = (*flock.Flock).Lock
	}
	l, err := r.lockFile("ports", take)
	if err != nil {
		return nil, "", err
	}
	defer l.Unlock()
	// hostNetwork pods hold their ports without kplay's network: each kind of
	// pod is checked against both kinds.
	var holders []network.Holder
	if len(pp.HostPorts) > 0 {
		if holders, err = r.hostNetworkPorts(ctx, id); err != nil {
			return nil, "", err
		}
	}
	if pp.Spec.HostNetwork {
		// Without the CNI plugins no pod can be on kplay's network.
		if nm, err := r.network(); err == nil && len(pp.HostPorts) > 0 {
			onNetwork, err := nm.PortHolders("")
			if err != nil {
				return nil, "", err
			}
			holders = append(holders, onNetwork...)
		}
		if err := network.CheckPorts(pp.HostPorts, holders); err != nil {
			return nil, "", err
		}
		ctr, err := r.newInfra(ctx, pp, id, "", with(lbls, podstate.PodIPLabel(r.cfg.HostIP)), img)
		if err == nil {
			err = start(ctr, "")
		}
		return ctr, r.cfg.HostIP, err
	}
	nm, err := r.network()
	if err != nil {
		return nil, "", err
	}
	npod := network.Pod{ID: r.netID(id), Namespace: pp.Namespace, Name: pp.Name, Ports: pp.HostPorts}
	if len(npod.Ports) > 0 {
		if err := nm.CheckPodPorts(npod, holders); err != nil {
			return nil, "", err
		}
	}
	netns := nm.NetNSPath(npod.ID)
	ctr, err := r.newInfra(ctx, pp, id, netns, lbls, img)
	if err != nil {
		return nil, "", err
	}
	if err := nm.CreateNetNS(ctx, npod); err != nil {
		return ctr, "", fmt.Errorf("setting up the network: %w", err)
	}
	started := make(chan error, 1)
	go func() { started <- start(ctr, netns) }()
	att, err := nm.Attach(ctx, npod)
	if serr := <-started; serr != nil {
		return ctr, "", errors.Join(serr, err)
	}
	if err != nil {
		return ctr, "", fmt.Errorf("setting up the network: %w", err)
	}
	if _, err := ctr.SetLabels(ctx, podstate.PodIPLabel(att.IP)); err != nil {
		return ctr, "", err
	}
	return ctr, att.IP, nil
}

// images are the pulled images of one up, by reference as written.
type images map[string]client.Image

// createPod creates and starts one pod. reserved says whether this run created the
// pod's infra container: on error, the caller removes such a pod again, and only such.
func (r *Runtime) createPod(ctx context.Context, pp *plan.PodPlan, imgs images) (reserved bool, err error) {
	id := podstate.PodID(pp.Namespace, pp.Name)
	infraLabels := withServiceLabels(podstate.InfraLabels(pp, time.Now(), r.infra.Binary), pp)
	var infraImg client.Image
	if r.cfg.InfraImage != "" {
		infraImg = imgs[r.cfg.InfraImage]
	}
	// The infra record comes first: files of a pod without one are debris that
	// reclaim removes.
	var ns podNamespaces
	start := func(infra client.Container, netns string) (err error) {
		ns, err = r.startInfra(ctx, pp, infra, netns)
		return err
	}
	infra, podIP, err := r.reserve(ctx, pp, id, infraLabels, infraImg, start)
	if err != nil {
		return infra != nil, err
	}
	dirs := r.dirs(pp.UID)
	volPaths, err := r.vol.Prepare(dirs, pp.Volumes)
	if err != nil {
		return true, fmt.Errorf("preparing volumes: %w", err)
	}
	if err := r.writeEtc(pp, podIP); err != nil {
		return true, err
	}
	if ns.Shm, err = r.vol.PodShm(dirs); err != nil {
		return true, fmt.Errorf("mounting the pod's /dev/shm: %w", err)
	}
	idx := 0
	for i := range pp.InitContainers {
		c := &pp.InitContainers[i]
		if err := r.runInit(ctx, pp, c, idx, podIP, ns, volPaths, imgs, id); err != nil {
			if isConfigError(err) {
				return true, errors.Join(err, keepConfigError(ctx, infra, c.Name, err))
			}
			return true, err
		}
		idx++
	}
	// As the kubelet, a container it refuses to create waits while the others run.
	var refused []error
	for i := range pp.Containers {
		c := &pp.Containers[i]
		ctr, t, err := r.createContainer(ctx, pp, c, idx, podIP, ns, volPaths, imgs, id)
		if isConfigError(err) {
			refused = append(refused, fmt.Errorf("container %q: %w", c.Name, err), keepConfigError(ctx, infra, c.Name, err))
			idx++
			continue
		}
		if err != nil {
			return true, fmt.Errorf("container %q: %w", c.Name, err)
		}
		if err := t.Start(ctx); err != nil {
			return true, fmt.Errorf("container %q: starting: %w", c.Name, err)
		}
		if err := r.setRestartLabels(ctx, ctr, pp.UID, c.Name, pp.Spec.RestartPolicy, c.Spec.TTY); err != nil {
			return true, fmt.Errorf("container %q: %w", c.Name, err)
		}
		idx++
	}
	if len(refused) > 0 {
		return true, errors.Join(refused...)
	}
	// Only now is the pod whole: a pod without this mark is one an interrupted up
	// left half-made, and the next up recreates it.
	if err := r.setLabels(ctx, infra.ID(), podstate.CompleteLabel()); err != nil {
		return true, err
	}
	return true, nil
}

// writeEtc writes the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf.
func (r *Runtime) writeEtc(pp *plan.PodPlan, podIP string) error {
	dirs := r.dirs(pp.UID)
	if err := os.MkdirAll(dirs.Run, 0o750); err != nil {
		return err
	}
	hostResolv, err := network.HostResolvConf(pp.Spec.HostNetwork)
	if err != nil {
		return err
	}
	resolv, warnings, err := r.resolvConf(pp, hostResolv)
	if err != nil {
		return fmt.Errorf("writing resolv.conf: %w", err)
	}
	for _, w := range warnings {
		r.warn(fmt.Sprintf("pod %s/%s: %s", pp.Namespace, pp.Name, w))
	}
	hosts, err := network.HostsFile(podIP, pp.Hostname, pp.Spec.Subdomain, pp.Namespace, pp.Spec.HostAliases, pp.Spec.HostNetwork)
	if err != nil {
		return fmt.Errorf("writing hosts: %w", err)
	}
	files := map[string][]byte{
		"hosts":       hosts,
		"hostname":    []byte(pp.Hostname + "\n"),
		"resolv.conf": resolv,
	}
	for name, data := range files {
		if err := os.WriteFile(dirs.Etc(name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// createContainer creates a container and its task, not yet started.
func (r *Runtime) createContainer(ctx context.Context, pp *plan.PodPlan, c *plan.Container, idx int, podIP string, ns podNamespaces, volPaths map[string]volume.Prepared, imgs images, group string) (client.Container, client.Task, error) {
	img := imgs[c.Image]
	if img == nil {
		return nil, nil, fmt.Errorf("image %q was not pulled", c.Image)
	}
	dirs := r.dirs(pp.UID)
	res, err := c.Resolve(podIP)
	if err != nil {
		return nil, nil, err
	}
	// Before any mount is bound for it: a refused container leaves nothing behind.
	security, err := r.security(ctx, pp, c, img)
	if err != nil {
		return nil, nil, err
	}
	vm, err := volumeMounts(res.Mounts, volPaths, func(i int, volumePath, subPath string) (string, error) {
		return r.vol.BindSubPath(volume.SubPath{Pod: dirs, Container: c.Name, Index: i, Volume: volumePath, Path: subPath})
	})
	if err != nil {
		return nil, nil, err
	}
	mounts := append(etcMounts(dirs), vm...)
	specOpts, err := containerSpec(ctx, pp, c, res, img, ns, mounts, group)
	if err != nil {
		return nil, nil, err
	}
	specOpts = append(specOpts, security)
	starts := dirs.Starts(c.Name)
	if err := os.MkdirAll(filepath.Dir(starts), 0o750); err != nil {
		return nil, nil, err
	}
	specOpts = append(specOpts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Hooks == nil {
			s.Hooks = &specs.Hooks{}
		}
		s.Hooks.Poststart = append(s.Hooks.Poststart, hook.Poststart(r.infra.Binary, starts))
		return nil
	})
	id := podstate.ContainerID(group, c.Name)
	ctr, err := r.client.NewContainer(ctx, id,
		client.WithImage(img),
		newSnapshot(id, img),
		client.WithContainerLabels(podstate.ContainerLabels(pp, c, idx)),
		// After the labels: WithContainerLabels replaces them all, and the image's
		// STOPSIGNAL is a label too.
		client.WithImageStopSignal(img, "SIGTERM"),
		client.WithNewSpec(specOpts...),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("creating: %w", err)
	}
	path := r.dirs(pp.UID).Log(c.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, err
	}
	uri, err := logs.LogURI(r.infra.Binary, logs.Driver{Path: path, Rotation: r.cfg.LogRotation})
	if err != nil {
		return nil, nil, err
	}
	t, err := ctr.NewTask(ctx, logIO(uri, c.Spec.TTY))
	if err != nil {
		return nil, nil, fmt.Errorf("creating task: %w", err)
	}
	return ctr, t, nil
}

// logIO hands a task's output to the log driver at uri. A container with tty gets a
// terminal, whose output the shim gives the driver as stdout, as the kubelet logs a
// tty container.
func logIO(uri *url.URL, terminal bool) cio.Creator {
	if terminal {
		return cio.TerminalLogURI(uri)
	}
	return cio.LogURI(uri)
}

// runInit runs one init container to its exit. A non-zero exit fails the pod with the
// exit code and the container's last log lines.
func (r *Runtime) runInit(ctx context.Context, pp *plan.PodPlan, c *plan.Container, idx int, podIP string, ns podNamespaces, volPaths map[string]volume.Prepared, imgs images, group string) error {
	ctr, t, err := r.createContainer(ctx, pp, c, idx, podIP, ns, volPaths, imgs, group)
	if err != nil {
		return fmt.Errorf("init container %q: %w", c.Name, err)
	}
	exitC, err := t.Wait(ctx)
	if err != nil {
		return fmt.Errorf("init container %q: %w", c.Name, err)
	}
	if err := t.Start(ctx); err != nil {
		return fmt.Errorf("init container %q: starting: %w", c.Name, err)
	}
	var st client.ExitStatus
	select {
	case st = <-exitC:
	case <-ctx.Done():
		return ctx.Err()
	}
	code := st.ExitCode()
	exit := podstate.Exit{Code: int32(code), FinishedAt: st.ExitTime()}
	// Deleting the task removes its cgroup and the OOM-kill counter in it (see oom.go).
	if m, err := t.Metrics(ctx); err == nil && oomKills(m) {
		exit.Reason = podstatus.OOMKilled
	}
	if _, err := t.Delete(ctx); err != nil {
		return fmt.Errorf("init container %q: deleting task: %w", c.Name, err)
	}
	if err := r.setLabels(ctx, ctr.ID(), podstate.ExitLabels(exit)); err != nil {
		return err
	}
	if code != 0 {
		var tail bytes.Buffer
		// The log driver may still be flushing; a short read of what is there is enough.
		_ = logs.Read(ctx, r.dirs(pp.UID).Log(c.Name), logs.ReadOptions{Tail: 10}, &tail, &tail)
		msg := strings.TrimRight(tail.String(), "\n")
		if msg != "" {
			msg = ", last log lines:\n" + msg
		}
		return fmt.Errorf("init container %q %s%s", c.Name, podstatus.Exited(exit.Code, exit.Reason), msg)
	}
	return nil
}

// with is base with the labels of more added.
func with(base map[string]string, more ...map[string]string) map[string]string {
	out := maps.Clone(base)
	for _, m := range more {
		maps.Copy(out, m)
	}
	return out
}
