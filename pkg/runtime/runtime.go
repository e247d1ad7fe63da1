// Package runtime runs planned pods on containerd: a pause infra container holding the
// pod's namespaces, then init and app containers joining them. All state lives in
// containerd labels; the files under the run and data roots are caches that can be rebuilt.
package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"

	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/pause"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/volume"
)

// Config says where containerd is and where kplay keeps its files.
type Config struct {
	Address    string // containerd socket
	Namespace  string // containerd namespace
	RunRoot    string // runtime state: netns pins, secret tmpfs, pinned namespaces, locks
	DataRoot   string // persistent data: logs, volumes, claims
	HostsDir   string // registry hosts directory
	InfraImage string // optional registry image for the infra container
	HostIP     string // the node's address: hostNetwork pods' IP
	Network    network.Config
	// LogRotation bounds the log files of the containers this runtime creates.
	LogRotation logs.Rotation
	// Progress receives pull progress; nil is quiet.
	Progress io.Writer
	// Warn receives one-line warnings; nil drops them.
	Warn func(string)
	TTY  bool
	// SeccompDefault makes RuntimeDefault the seccomp profile of containers that set
	// none (the kubelet's SeccompDefault).
	SeccompDefault bool
}

// Runtime is a connection to containerd plus kplay's managers for network and volumes.
type Runtime struct {
	cfg    Config
	client *client.Client
	// restartPolicies is true when the daemon's restart monitor knows policies (1.7+);
	// 1.6 only knows "always".
	restartPolicies bool
	netOnce         sync.Once
	net             *network.Manager
	netErr          error
	vol             volume.Manager
	infra           pause.Infra
}

// New checks the user, the socket and the daemon, and connects.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("kplay needs root to run pods (network namespaces, mounts, containerd): run it with sudo")
	}
	if fi, err := os.Stat(cfg.Address); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("containerd socket %s not found: is containerd running? Start it (e.g. `systemctl start containerd`) or point --address / CONTAINERD_ADDRESS at its socket", cfg.Address)
	}
	c, err := client.New(cfg.Address, client.WithDefaultNamespace(cfg.Namespace), client.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", cfg.Address, err)
	}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := c.Version(vctx)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd at %s is not serving: %w", cfg.Address, err)
	}
	log.G(ctx).Debugf("containerd %s (%s)", v.Version, v.Revision)
	vol := volume.Manager{RunRoot: cfg.RunRoot, DataRoot: cfg.DataRoot}
	if err := vol.SecureRoots(); err != nil {
		c.Close()
		return nil, err
	}
	r := &Runtime{
		cfg:             cfg,
		client:          c,
		restartPolicies: !strings.HasPrefix(strings.TrimPrefix(v.Version, "v"), "1.6"),
		vol:             vol,
	}
	return r, nil
}

func (r *Runtime) warn(s string) {
	if r.cfg.Warn != nil {
		r.cfg.Warn(s)
	}
}

// Close releases the connection.
func (r *Runtime) Close() error { return r.client.Close() }

// context returns ctx in kplay's containerd namespace.
func (r *Runtime) context(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// network connects the CNI manager on first use: ps, logs and exec never need it.
func (r *Runtime) network() (*network.Manager, error) {
	r.netOnce.Do(func() { r.net, r.netErr = network.New(r.cfg.Network) })
	return r.net, r.netErr
}

// podID is the containerd ID of a pod's infra container and the prefix of its other
// containers' IDs. Kubernetes names are DNS labels and subdomains, which contain no '_',
// so "<namespace>_<name>" is unique. A name that is no valid containerd identifier
// ("--" or "..") or too long falls back to a hash: labels, not IDs, identify pods.
func podID(namespace, name string) string {
	id := namespace + "_" + name
	if identifiers.Validate(id) == nil && len(id) <= maxPodID {
		return id
	}
	return hashID(namespace + "/" + name)
}

// maxPodID leaves room in containerd's 76 characters for "_<container name>" of
// usual length; longer combinations fall back to a hash in containerID.
const maxPodID = 48

// hashID is a valid containerd identifier of 33 characters derived from s.
func hashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:])[:32]
}

// netID is the pod's CNI container ID. CNI IDs are global to the host (they name
// iptables chains), so the containerd namespace is part of it: two namespaces may hold
// pods of the same name.
func (r *Runtime) netID(podID string) string { return netID(r.cfg.Namespace, podID) }

func netID(namespace, podID string) string { return namespace + "_" + podID }

// containerID is the containerd ID of one container of a pod.
func containerID(pod, container string) string {
	id := pod + "_" + container
	if identifiers.Validate(id) == nil {
		return id
	}
	return hashID(id)
}

// podKey names a pod's directories under the roots. The containerd namespace is part
// of it: the same pod may run in two namespaces that share the roots.
func podKey(namespace, uid string) string { return namespace + "_" + uid }

// volumePod is the pod as the volume manager sees it: its directories by podKey.
func (r *Runtime) volumePod(pp *plan.PodPlan) *plan.PodPlan {
	vp := *pp
	vp.UID = podKey(r.cfg.Namespace, pp.UID)
	return &vp
}

// podDir is where kplay keeps a pod's generated files (hosts, resolv.conf, pinned namespaces).
func (r *Runtime) podDir(uid string) string {
	return filepath.Join(r.cfg.RunRoot, "pods", podKey(r.cfg.Namespace, uid))
}

// logPath is a container's log file.
func (r *Runtime) logPath(uid, container string) string {
	return filepath.Join(r.cfg.DataRoot, "pods", podKey(r.cfg.Namespace, uid), "logs", container+".log")
}

// startsPath counts a container's starts (see package hook).
func (r *Runtime) startsPath(uid, container string) string {
	return filepath.Join(r.cfg.DataRoot, "pods", podKey(r.cfg.Namespace, uid), "starts", container)
}

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
