package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/gofrs/flock"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kplay-dev/kplay/pkg/hook"
	"github.com/kplay-dev/kplay/pkg/labels"
	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/volume"
)

// podLabels are the labels every container of a pod carries.
func podLabels(pp *plan.PodPlan) map[string]string {
	return map[string]string{
		labels.PodNamespace:  pp.Namespace,
		labels.PodName:       pp.Name,
		labels.PodUID:        pp.UID,
		labels.Owner:         pp.Owner.String(),
		labels.Source:        pp.Source,
		labels.SpecHash:      pp.Hash,
		labels.RestartPolicy: string(pp.Spec.RestartPolicy),
		labels.GracePeriod:   strconv.FormatInt(gracePeriod(pp), 10),
	}
}

func gracePeriod(pp *plan.PodPlan) int64 {
	if g := pp.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return 30
}

func withLabels(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// lock takes an exclusive file lock. The lock file of a removed pod is deleted by
// its remover, so after locking, the file must still be the one at the path: a
// locker that waited on a deleted file tries again.
func (r *Runtime) lock(name string) (*flock.Flock, error) {
	return r.lockFile(name, (*flock.Flock).Lock)
}

func (r *Runtime) lockFile(name string, take func(*flock.Flock) error) (*flock.Flock, error) {
	dir := filepath.Join(r.cfg.RunRoot, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".lock")
	for {
		l := flock.New(path)
		if err := take(l); err != nil {
			return nil, err
		}
		held, err := l.Stat()
		if err != nil {
			l.Close()
			return nil, err
		}
		if now, err := os.Stat(path); err == nil && os.SameFile(held, now) {
			return l, nil
		}
		l.Close()
	}
}

// ownerLocks lock the objects (owners) whose pods an up creates or a down removes:
// up holds them shared while it creates, down takes them exclusive while it lists,
// so a `down -f` waits for an `up` of the same file that is creating pods and then
// sees all of them. Several ups of the same objects still run side by side. Owners
// are "namespace/Kind/name"; they are locked in order, so two runs never deadlock.
func (r *Runtime) ownerLocks(owners []string, exclusive bool) (release func(), err error) {
	names := map[string]bool{}
	for _, o := range owners {
		names["owner-"+hashID(o)] = true
	}
	var held []*flock.Flock
	release = func() {
		for _, l := range held {
			l.Unlock()
			// The last holder removes the file; a locker that waited on it locks anew.
			if ok, _ := l.TryLock(); ok {
				os.Remove(l.Path())
				l.Unlock()
			}
		}
	}
	take := (*flock.Flock).RLock
	if exclusive {
		take = (*flock.Flock).Lock
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		l, err := r.lockFile(name, take)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, l)
	}
	return release, nil
}

// podLock serialises everything that creates, changes or removes one pod.
func (r *Runtime) podLock(podID string) (*flock.Flock, error) {
	return r.lock("pod-" + r.cfg.Namespace + "_" + podID)
}

// reserve checks that no other pod (of either kind) and no host process holds the pod's host ports, creates the infra
// container record and attaches the pod to the network, all under the ports lock: the
// record is what Reclaim (run under the same lock) sees as a live pod, so it never
// takes a network that is being built. A returned container exists even with an error.
func (r *Runtime) reserve(ctx context.Context, pp *plan.PodPlan, id string, lbls map[string]string, img client.Image) (client.Container, string, error) {
	l, err := r.lock("ports")
	if err != nil {
		return nil, "", err
	}
	defer l.Unlock()
	// hostNetwork pods hold their ports without kplay's network: each kind of
	// pod is checked against both kinds.
	holders, err := r.hostNetworkPorts(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if pp.Spec.HostNetwork {
		// Without the CNI plugins no pod can be on kplay's network.
		if nm, err := r.network(); err == nil {
			onNetwork, err := nm.PortHolders("")
			if err != nil {
				return nil, "", err
			}
			holders = append(holders, onNetwork...)
		}
		if err := network.CheckPorts(pp.HostPorts, holders); err != nil {
			return nil, "", err
		}
		ctr, err := r.newInfra(ctx, pp, id, "", withLabels(lbls, labels.PodIP, r.cfg.HostIP), img)
		return ctr, r.cfg.HostIP, err
	}
	nm, err := r.network()
	if err != nil {
		return nil, "", err
	}
	npod := network.Pod{ID: r.netID(id), Namespace: pp.Namespace, Name: pp.Name, Ports: pp.HostPorts}
	if err := nm.CheckPodPorts(npod, holders); err != nil {
		return nil, "", err
	}
	ctr, err := r.newInfra(ctx, pp, id, nm.NetNSPath(npod.ID), lbls, img)
	if err != nil {
		return nil, "", err
	}
	att, err := nm.Setup(ctx, npod)
	if err != nil {
		return ctr, "", fmt.Errorf("setting up the network: %w", err)
	}
	if _, err := ctr.SetLabels(ctx, map[string]string{labels.PodIP: att.IP}); err != nil {
		return ctr, "", err
	}
	return ctr, att.IP, nil
}

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
	} else if _, statErr := os.Stat(filepath.Join(r.cfg.RunRoot, "network")); statErr == nil {
		errs = append(errs, err) // there may be networks to release, but no plugins to do it
	}
	errs = append(errs, r.reclaimLeases(ctx), r.reapOrphanTasks(ctx))
	r.reclaimBinaries(live.binaries)
	// Pod directories whose pod has no container left: a killed up or down.
	for _, root := range []string{filepath.Join(r.cfg.RunRoot, "pods"), filepath.Join(r.cfg.DataRoot, "pods")} {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if live.podKeys[e.Name()] {
				continue
			}
			errs = append(errs,
				unpinNamespaces(filepath.Join(r.cfg.RunRoot, "pods", e.Name())),
				r.vol.Remove(e.Name()))
		}
	}
	return errors.Join(errs...)
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
			role := c.Labels[labels.Role]
			if role == "" {
				continue
			}
			live.podKeys[podKey(ns, c.Labels[labels.PodUID])] = true
			if role == labels.RoleInfra {
				live.netIDs[netID(ns, c.ID)] = true
				live.binaries[c.Labels[labels.Binary]] = true
				for _, claim := range strings.Split(c.Labels[labels.Claims], ",") {
					if claim != "" {
						live.claims[claim] = true
					}
				}
			}
		}
	}
	return live, nil
}

// images are the pulled images of one up, by reference as written.
type images map[string]client.Image

// createPod creates and starts one pod. reserved says whether this run created the
// pod's infra container: on error, the caller removes such a pod again, and only such.
func (r *Runtime) createPod(ctx context.Context, pp *plan.PodPlan, imgs images) (reserved bool, err error) {
	id := podID(pp.Namespace, pp.Name)
	hostNetwork := pp.Spec.HostNetwork
	base := podLabels(pp)
	infraLabels := withLabels(base,
		labels.Role, labels.RoleInfra,
		labels.Created, time.Now().UTC().Format(time.RFC3339),
		labels.Ports, portsLabel(pp.HostPorts),
		labels.HostNetwork, strconv.FormatBool(hostNetwork),
		labels.Claims, claimsLabel(pp),
		labels.VolumeDataHash, pp.VolumeDataHash,
		labels.PodLabels, podLabelsJSON(pp.Labels),
		labels.Binary, r.infra.Binary,
		labels.Containers, appNames(pp),
		labels.DefaultContainer, pp.Annotations[defaultContainerAnnotation],
	)
	var infraImg client.Image
	if r.cfg.InfraImage != "" {
		infraImg = imgs[r.cfg.InfraImage]
	}
	// The infra record comes first: files of a pod without one are debris that
	// reclaim removes.
	infra, podIP, err := r.reserve(ctx, pp, id, infraLabels, infraImg)
	if err != nil {
		return infra != nil, err
	}
	volPaths, err := r.vol.Prepare(r.volumePod(pp))
	if err != nil {
		return true, fmt.Errorf("preparing volumes: %w", err)
	}
	netns := ""
	if !hostNetwork {
		netns = r.net.NetNSPath(r.netID(id))
	}
	if err := r.writeEtc(pp, podIP); err != nil {
		return true, err
	}
	ns, err := r.startInfra(ctx, pp, infra, netns)
	if err != nil {
		return true, err
	}
	if ns.Shm, err = r.vol.PodShm(podKey(r.cfg.Namespace, pp.UID)); err != nil {
		return true, fmt.Errorf("mounting the pod's /dev/shm: %w", err)
	}
	idx := 0
	for i := range pp.InitContainers {
		c := &pp.InitContainers[i]
		if err := r.runInit(ctx, pp, c, idx, podIP, ns, volPaths, imgs, base, id); err != nil {
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
		ctr, t, err := r.createContainer(ctx, pp, c, idx, podIP, ns, volPaths, imgs, base, id)
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
	if _, err := infra.SetLabels(ctx, map[string]string{labels.Complete: "true"}); err != nil {
		return true, err
	}
	return true, nil
}

func appNames(pp *plan.PodPlan) string {
	var names []string
	for _, c := range pp.Containers {
		names = append(names, c.Name)
	}
	return labels.List(names)
}

// podLabelsJSON keeps the pod's labels for ps. containerd caps a label at 4 KiB; a
// pod with more labels than that shows none rather than failing.
func podLabelsJSON(l map[string]string) string {
	b, err := json.Marshal(l)
	if err != nil || len(l) == 0 || len(b) > 4000 {
		return ""
	}
	return string(b)
}

func claimsLabel(pp *plan.PodPlan) string {
	var claims []string
	for _, v := range pp.Volumes {
		if v.Claim != nil {
			claims = append(claims, v.Claim.Namespace+"/"+v.Claim.ClaimName)
		}
	}
	return labels.List(claims)
}

// writeEtc writes the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf.
func (r *Runtime) writeEtc(pp *plan.PodPlan, podIP string) error {
	dir := r.podDir(pp.UID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	hostResolv, err := network.HostResolvConf(pp.Spec.HostNetwork)
	if err != nil {
		return err
	}
	resolv, warnings, err := network.ResolvConf(hostResolv, pp.Spec.DNSPolicy, pp.Spec.DNSConfig, pp.Spec.HostNetwork)
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
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// createContainer creates a container and its task, not yet started.
func (r *Runtime) createContainer(ctx context.Context, pp *plan.PodPlan, c *plan.Container, idx int, podIP string, ns podNamespaces, volPaths map[string]volume.Prepared, imgs images, base map[string]string, group string) (client.Container, client.Task, error) {
	img := imgs[c.Image]
	if img == nil {
		return nil, nil, fmt.Errorf("image %q was not pulled", c.Image)
	}
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
		return r.vol.BindSubPath(volume.SubPath{PodUID: podKey(r.cfg.Namespace, pp.UID), Container: c.Name, Index: i, Volume: volumePath, Path: subPath})
	})
	if err != nil {
		return nil, nil, err
	}
	mounts := append(etcMounts(r.podDir(pp.UID)), vm...)
	specOpts, err := containerSpec(ctx, pp, c, res, img, ns, mounts, group)
	if err != nil {
		return nil, nil, err
	}
	specOpts = append(specOpts, security)
	starts := r.startsPath(pp.UID, c.Name)
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
	role := labels.RoleApp
	if c.Init {
		role = labels.RoleInit
	}
	id := containerID(group, c.Name)
	ctr, err := r.client.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithNewSnapshot(id, img),
		client.WithContainerLabels(withLabels(base,
			labels.Role, role,
			labels.Container, c.Name,
			labels.Index, strconv.Itoa(idx),
			labels.Ready, strconv.FormatBool(c.Spec.ReadinessProbe == nil && c.Spec.StartupProbe == nil),
		)),
		// After the labels: WithContainerLabels replaces them all, and the image's
		// STOPSIGNAL is a label too.
		client.WithImageStopSignal(img, "SIGTERM"),
		client.WithNewSpec(specOpts...),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("creating: %w", err)
	}
	path := r.logPath(pp.UID, c.Name)
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
func (r *Runtime) runInit(ctx context.Context, pp *plan.PodPlan, c *plan.Container, idx int, podIP string, ns podNamespaces, volPaths map[string]volume.Prepared, imgs images, base map[string]string, group string) error {
	ctr, t, err := r.createContainer(ctx, pp, c, idx, podIP, ns, volPaths, imgs, base, group)
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
	exit := map[string]string{
		labels.ExitCode:   strconv.Itoa(int(code)),
		labels.FinishedAt: st.ExitTime().UTC().Format(time.RFC3339Nano),
	}
	// Deleting the task removes its cgroup and the OOM-kill counter in it (see oom.go).
	if m, err := t.Metrics(ctx); err == nil && oomKills(m) {
		exit[labels.ExitReason] = reasonOOMKilled
	}
	if _, err := t.Delete(ctx); err != nil {
		return fmt.Errorf("init container %q: deleting task: %w", c.Name, err)
	}
	if _, err := ctr.SetLabels(ctx, exit); err != nil {
		return err
	}
	if code != 0 {
		var tail bytes.Buffer
		// The log driver may still be flushing; a short read of what is there is enough.
		_ = logs.Read(ctx, r.logPath(pp.UID, c.Name), logs.ReadOptions{Tail: 10}, &tail, &tail)
		msg := strings.TrimRight(tail.String(), "\n")
		if msg != "" {
			msg = ", last log lines:\n" + msg
		}
		return fmt.Errorf("init container %q %s%s", c.Name, exited(int32(code), exit[labels.ExitReason]), msg)
	}
	return nil
}
