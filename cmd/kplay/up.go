package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/image"
	"github.com/kplay-dev/kplay/pkg/manifest"
	"github.com/kplay-dev/kplay/pkg/node"
	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/runtime"
	"github.com/kplay-dev/kplay/pkg/service"
	"github.com/kplay-dev/kplay/pkg/store"
	"github.com/kplay-dev/kplay/pkg/volume"
)

type upOptions struct {
	Files   []string
	DryRun  bool
	Output  string
	Replace bool
	Force   bool
	Wait    bool
	Timeout string
	Pull    string
	Quiet   bool
	Limits  limitOptions
}

func newUpCommand(g *globalOptions) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up -f FILE [-f FILE...]",
		Short: "Create the pods that Kubernetes YAML files define",
		Long: `Create the pods that the files define: every Pod, every replica of every Deployment,
with the ConfigMaps, Secrets and PersistentVolumeClaims they use. -f takes files,
directories (their .yaml, .yml and .json files) and - for standard input.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.Files) == 0 {
				return usageError{fmt.Errorf("up needs at least one -f FILE")}
			}
			p, err := loadPlan(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr(), o.Files, g, o.Limits)
			if err != nil {
				return err
			}
			if o.DryRun {
				return printObject(cmd.OutOrStdout(), o.Output, dryRunList(p))
			}
			return runUp(cmd, g, o, p)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Files, "filename", "f", nil, "file, directory or - (stdin) with Kubernetes YAML; may repeat")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the planned pods as a Kubernetes List and create nothing")
	f.StringVarP(&o.Output, "output", "o", "yaml", "dry-run output format: yaml or json")
	f.BoolVar(&o.Replace, "replace", false, "recreate pods whose spec changed and remove pods the files no longer define")
	f.BoolVar(&o.Wait, "wait", false, "wait until every pod runs and is ready (readiness and startup probes are evaluated) or has completed")
	f.StringVar(&o.Timeout, "timeout", "5m", "how long --wait waits (e.g. 90s, 2m)")
	f.BoolVar(&o.Force, "force-recreate", false, "recreate every pod, changed or not")
	f.StringVar(&o.Pull, "pull", "", "image pull policy for every container: always, missing or never (default: each container's imagePullPolicy)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "print no progress")
	o.Limits.addFlags(f, true)
	return cmd
}

// loadPlan runs the pure part of the pipeline: load, validate, plan.
// Warnings go to stderr; errors are bad input (exit 2).
func loadPlan(ctx context.Context, stdin io.Reader, stderr io.Writer, files []string, g *globalOptions, lim limitOptions) (*plan.Plan, error) {
	maxBytes, err := lim.maxBytes()
	if err != nil {
		return nil, err
	}
	if lim.MaxPods < 1 {
		return nil, usageError{fmt.Errorf("--max-pods must be at least 1, got %d", lim.MaxPods)}
	}
	return interruptible(ctx, func() (*plan.Plan, error) {
		return buildPlan(stdin, stderr, files, g, maxBytes, lim.MaxPods)
	})
}

func buildPlan(stdin io.Reader, stderr io.Writer, files []string, g *globalOptions, maxBytes int64, maxPods int) (*plan.Plan, error) {
	warn := func(warnings []string) {
		for _, w := range warnings {
			fmt.Fprintln(stderr, "Warning:", w)
		}
	}
	// Every problem of every document at once: the objects that decoded are
	// validated even when others did not, and missing references are looked up
	// even in objects that are invalid.
	objs, warnings, loadErr := manifest.Load(files, stdin, manifest.MaxBytes(maxBytes))
	warn(warnings)
	warnings, validErr := manifest.Validate(objs, manifest.MaxPods(maxPods))
	warn(warnings)
	opts := plan.Options{
		NodeName:        node.Name(),
		HostIP:          node.HostIP(),
		NodeCPUMillis:   node.CPUMillis(),
		NodeMemoryBytes: node.MemoryBytes(),
		ExistingClaims:  volume.Manager{Layout: g.layout()}.Claims(),
	}
	if err := storedObjects(g, &opts); errors.Is(err, fs.ErrPermission) {
		// A dry run as a user: the store is root's.
		fmt.Fprintf(stderr, "Warning: %v: objects applied by earlier ups are not used\n", err)
	} else if err != nil {
		return nil, err
	}
	if err := badInput(loadErr, validErr, plan.MissingReferences(objs, opts)); err != nil {
		return nil, err
	}
	if err := allocateServices(objs, g, &opts); err != nil {
		return nil, err
	}
	p, err := plan.Build(objs, opts)
	if err != nil {
		return nil, err
	}
	warn(p.Warnings)
	return p, nil
}

// badInput joins the problems found in the manifests into one bad-input error
// (exit 2), or nil when there are none.
func badInput(loadErr, validErr error, missing []string) error {
	var lines []string
	for _, err := range []error{loadErr, validErr} {
		if err != nil {
			lines = append(lines, err.Error())
		}
	}
	lines = append(lines, missing...)
	if len(lines) == 0 {
		return nil
	}
	return errdefs.ErrInvalidArgument.WithMessage(strings.Join(lines, "\n"))
}

// storedObjects gives the plan the ConfigMaps and Secrets earlier ups applied.
func storedObjects(g *globalOptions, opts *plan.Options) error {
	return store.New(g.layout().StorePath(), g.Namespace).View(func(tx *store.Tx) (err error) {
		if opts.StoredConfigMaps, _, err = store.List[corev1.ConfigMap](tx, ""); err != nil {
			return err
		}
		if opts.StoredSecrets, _, err = store.List[corev1.Secret](tx, ""); err != nil {
			return err
		}
		opts.Services, _, err = store.List[corev1.Service](tx, "")
		return err
	})
}

// allocateServices gives the files' Services their ClusterIPs and NodePorts (kept from
// the store when they have them) and makes opts.Services the stored Services with the
// files' ones in their place, for the pods' service links.
func allocateServices(objs []manifest.Object, g *globalOptions, opts *plan.Options) error {
	var files []*corev1.Service
	for _, o := range objs {
		if s, ok := o.Object.(*corev1.Service); ok {
			if s.Namespace == "" {
				s.Namespace = corev1.NamespaceDefault
			}
			files = append(files, s)
		}
	}
	if len(files) == 0 {
		return nil
	}
	cidr, err := service.ParseCIDR(g.ServiceCIDR, g.Subnet)
	if err != nil {
		return usageError{err}
	}
	if err := service.Allocate(files, opts.Services, cidr); err != nil {
		return err
	}
	byKey := map[string]int{}
	for i, s := range opts.Services {
		byKey[s.Namespace+"/"+s.Name] = i
	}
	for _, s := range files {
		if i, ok := byKey[s.Namespace+"/"+s.Name]; ok {
			opts.Services[i] = *s
		} else {
			opts.Services = append(opts.Services, *s)
		}
	}
	return nil
}

// dryRunList is the plan as `kubectl get pods -o yaml` would show it.
func dryRunList(p *plan.Plan) *corev1.List {
	list := &corev1.List{Items: []k8sruntime.RawExtension{}} // no pods is "items": []
	list.APIVersion, list.Kind = "v1", "List"
	for i := range p.Pods {
		list.Items = append(list.Items, k8sruntime.RawExtension{Object: p.Pods[i].Pod()})
	}
	return list
}

func runUp(cmd *cobra.Command, g *globalOptions, o *upOptions, p *plan.Plan) error {
	policy, err := pullPolicy(o.Pull)
	if err != nil {
		return err
	}
	timeout, err := parseDuration(o.Timeout)
	if err != nil {
		return err
	}
	var progress io.Writer = cmd.ErrOrStderr()
	if o.Quiet {
		progress = nil
	}
	return withRuntime(cmd, g, progress, func(ctx context.Context, rt *runtime.Runtime) error {
		if err := rt.CheckServicePorts(ctx, p); err != nil {
			return err
		}
		// A failed up still reports what it changed before the failure.
		results, err := rt.Up(ctx, p, runtime.UpOptions{Replace: o.Replace, ForceRecreate: o.Force, Pull: policy})
		if perr := printResults(cmd.OutOrStdout(), results); err == nil {
			err = perr
		}
		if err != nil {
			return errors.Join(err, syncServices(ctx, rt))
		}
		applied, err := rt.Apply(ctx, p)
		printObjectResults(cmd.OutOrStdout(), applied)
		if err != nil {
			return errors.Join(err, syncServices(ctx, rt))
		}
		if err := syncServices(ctx, rt); err != nil {
			return err
		}
		if o.Wait {
			return rt.Wait(ctx, p, timeout)
		}
		return nil
	})
}

// syncServices brings the Services' kernel rules and DNS records up to date with the
// pods that run now; every up and down ends with it.
func syncServices(ctx context.Context, rt *runtime.Runtime) error {
	if err := rt.SyncServices(ctx); err != nil {
		return fmt.Errorf("updating Services: %w", err)
	}
	return nil
}

// pullPolicy maps --pull to a Kubernetes imagePullPolicy.
func pullPolicy(s string) (image.PullPolicy, error) {
	switch s {
	case "":
		return "", nil
	case "always":
		return image.PullPolicy(corev1.PullAlways), nil
	case "missing":
		return image.PullPolicy(corev1.PullIfNotPresent), nil
	case "never":
		return image.PullPolicy(corev1.PullNever), nil
	}
	return "", usageError{fmt.Errorf("invalid --pull %q: use always, missing or never", s)}
}
