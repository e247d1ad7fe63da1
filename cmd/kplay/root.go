package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kplay-dev/kplay/pkg/logs"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/service"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	Address     string // containerd socket
	Namespace   string // containerd namespace
	Debug       bool
	HostsDir    string // registry hosts directory (hosts.toml)
	RunRoot     string // runtime state: netns pins, secret tmpfs, locks
	DataRoot    string // persistent data: logs, volumes, claims
	CNIPath     []string
	Subnet      string
	Bridge      string
	ServiceCIDR string
	InfraImage  string
	LogMaxSize  string // kubectl-style quantity: 10Mi
	LogMaxFiles int
	// SeccompDefault is the kubelet's SeccompDefault: RuntimeDefault for containers
	// that set no seccomp profile.
	SeccompDefault bool
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "kplay",
		Short: "Run Kubernetes YAML on one machine with containerd, no API server",
		Long: `kplay runs Pods, Deployments, Services, ConfigMaps, Secrets and PersistentVolumeClaims from
Kubernetes YAML on this machine. It drives containerd directly, gives every pod a pause
infra container and a CNI network, and keeps no daemon of its own.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	address := os.Getenv("CONTAINERD_ADDRESS")
	if address == "" {
		address = "/run/containerd/containerd.sock"
	}
	f := root.PersistentFlags()
	f.StringVar(&g.Address, "address", address, "containerd socket (env CONTAINERD_ADDRESS)")
	f.StringVar(&g.Namespace, "containerd-namespace", "kplay", "containerd namespace kplay works in")
	f.BoolVar(&g.Debug, "debug", false, "log what kplay does in detail")
	f.StringVar(&g.HostsDir, "hosts-dir", "/etc/containerd/certs.d", "registry configuration directory (hosts.toml)")
	f.StringVar(&g.RunRoot, "run-root", "/run/kplay", "directory for runtime state (netns pins, secret volumes, locks)")
	f.StringVar(&g.DataRoot, "data-root", "/var/lib/kplay", "directory for persistent data (logs, volumes, claims)")
	f.StringSliceVar(&g.CNIPath, "cni-path", []string{"/opt/cni/bin", "/usr/lib/cni"}, "directories searched for CNI plugins")
	f.StringVar(&g.Subnet, "subnet", "10.213.0.0/22", "subnet of kplay's pod network")
	f.StringVar(&g.Bridge, "bridge", "kplay0", "host bridge of kplay's pod network; kplays with different --run-root need their own bridge and subnet")
	f.StringVar(&g.ServiceCIDR, "service-cidr", service.DefaultCIDR, "range the ClusterIPs of Services are allocated from; must not overlap --subnet")
	f.StringVar(&g.InfraImage, "infra-image", "", "registry image for the pod infra container (default: kplay's built-in pause)")
	f.BoolVar(&g.SeccompDefault, "seccomp-default", false, "give containers that set no seccompProfile containerd's RuntimeDefault profile, as the kubelet's SeccompDefault does")
	f.StringVar(&g.LogMaxSize, "log-max-size", "10Mi", "size at which a container's log file is rotated (e.g. 10Mi, 500Ki), for containers up creates")
	f.IntVar(&g.LogMaxFiles, "log-max-files", logs.DefaultRotation.MaxFiles, "log files kept per container, the current one included, for containers up creates")

	root.AddCommand(
		newUpCommand(g),
		newDownCommand(g),
		newPsCommand(g),
		newGetCommand(g),
		newLogsCommand(g),
		newExecCommand(g),
		newImageCommand(g),
		newGenerateCommand(g),
		newVersionCommand(g),
	)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// argsUsage wraps a cobra positional-args validator so its errors exit with code 2.
func argsUsage(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// layout is where kplay's files are for these flags.
func (g *globalOptions) layout() podstate.Layout {
	return podstate.Layout{RunRoot: g.RunRoot, DataRoot: g.DataRoot, Namespace: g.Namespace}
}
