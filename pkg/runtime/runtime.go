// Package runtime runs planned pods on containerd: a pause infra container holding the
// pod's namespaces, then init and app containers joining them. All state lives in
// containerd labels; the files under the run and data roots are caches that can be rebuilt.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"

	"github.com/kplay-dev/kplay/pkg/helperbin"
	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/network"
	"github.com/kplay-dev/kplay/pkg/podstate"
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
	// CountCalls, when set, is a file that Close replaces with the number of calls
	// made to containerd, by method (a debug switch: KPLAY_COUNT_CALLS).
	CountCalls string
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
	layout          podstate.Layout
	vol             volume.Manager
	infra           helperbin.Infra
	calls           *callCounter // nil unless Config.CountCalls
}

// New checks the user, the socket and the daemon, and connects.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("kplay needs root to run pods (network namespaces, mounts, containerd): run it with sudo")
	}
	if fi, err := os.Stat(cfg.Address); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("containerd socket %s not found: is containerd running? Start it (e.g. `systemctl start containerd`) or point --address / CONTAINERD_ADDRESS at its socket", cfg.Address)
	}
	opts := []client.Opt{client.WithDefaultNamespace(cfg.Namespace), client.WithTimeout(5 * time.Second)}
	var calls *callCounter
	if cfg.CountCalls != "" {
		calls = &callCounter{n: map[string]int{}}
		opts = append(opts, client.WithExtraDialOpts(calls.dialOptions()))
	}
	c, err := client.New(cfg.Address, opts...)
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
	layout := podstate.Layout{RunRoot: cfg.RunRoot, DataRoot: cfg.DataRoot, Namespace: cfg.Namespace}
	vol := volume.Manager{Layout: layout}
	if err := vol.SecureRoots(); err != nil {
		c.Close()
		return nil, err
	}
	r := &Runtime{
		cfg:             cfg,
		client:          c,
		restartPolicies: !strings.HasPrefix(strings.TrimPrefix(v.Version, "v"), "1.6"),
		layout:          layout,
		vol:             vol,
		calls:           calls,
	}
	return r, nil
}

func (r *Runtime) warn(s string) {
	if r.cfg.Warn != nil {
		r.cfg.Warn(s)
	}
}

// Close releases the connection, after writing the call counts when asked to.
func (r *Runtime) Close() error {
	var err error
	if r.calls != nil {
		err = r.calls.write(r.cfg.CountCalls)
	}
	return errors.Join(err, r.client.Close())
}

// context returns ctx in kplay's containerd namespace.
func (r *Runtime) context(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// network connects the CNI manager on first use: ps, logs and exec never need it.
func (r *Runtime) network() (*network.Manager, error) {
	r.netOnce.Do(func() { r.net, r.netErr = network.New(r.cfg.Network) })
	return r.net, r.netErr
}

// netID is the pod's CNI container ID.
func (r *Runtime) netID(podID string) string { return podstate.NetID(r.cfg.Namespace, podID) }

// dirs is where the pod with metadata.uid uid keeps its files.
func (r *Runtime) dirs(uid string) podstate.PodDirs { return r.layout.Pod(uid) }

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
