package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/manifest"
	"github.com/kplay-dev/kplay/pkg/podstate"
	"github.com/kplay-dev/kplay/pkg/runtime"
	"github.com/kplay-dev/kplay/pkg/store"
)

type downOptions struct {
	Files     []string
	All       bool
	Timeout   string
	Volumes   bool
	Namespace string
	Limits    limitOptions
}

func newDownCommand(g *globalOptions) *cobra.Command {
	o := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down (-f FILE... | NAME... | --all)",
		Short: "Stop and remove pods",
		Long: `Stop and remove pods: those the files define (-f), the pods named, or all of them.
Each container gets its stop signal, then terminationGracePeriodSeconds (or --timeout)
before SIGKILL. PersistentVolumeClaim data stays unless --volumes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, objs, err := o.selector(cmd, args)
			if err != nil {
				return err
			}
			var down runtime.DownOptions
			down.Volumes = o.Volumes
			if o.Timeout != "" {
				d, err := parseDuration(o.Timeout)
				if err != nil {
					return err
				}
				down.Timeout = &d
			}
			return withRuntime(cmd, g, cmd.ErrOrStderr(), func(ctx context.Context, rt *runtime.Runtime) error {
				results, err := rt.Down(ctx, sel, down)
				if perr := printResults(cmd.OutOrStdout(), results); err == nil {
					err = perr
				}
				warnNotFound(cmd.ErrOrStderr(), sel.Names, results)
				if err != nil {
					return errors.Join(err, syncServices(ctx, rt))
				}
				removed, err := rt.DeleteObjects(ctx, objs, o.Volumes)
				printObjectResults(cmd.OutOrStdout(), removed)
				return errors.Join(err, syncServices(ctx, rt))
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Files, "filename", "f", nil, "remove the pods these files define; may repeat")
	f.BoolVar(&o.All, "all", false, "remove every kplay pod")
	f.StringVar(&o.Timeout, "timeout", "", "grace period before SIGKILL, overriding terminationGracePeriodSeconds (e.g. 10s)")
	f.BoolVar(&o.Volumes, "volumes", false, "also delete the data of the PersistentVolumeClaims the pods used")
	f.StringVarP(&o.Namespace, "namespace", "n", "default", "namespace of the pods named as arguments")
	o.Limits.addFlags(f, false)
	return cmd
}

// selector picks the pods to remove, and the stored objects: those the files declare,
// or all of them with --all.
func (o *downOptions) selector(cmd *cobra.Command, args []string) (runtime.Selector, runtime.ObjectSelector, error) {
	ways := 0
	for _, set := range []bool{o.All, len(o.Files) > 0, len(args) > 0} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return runtime.Selector{}, runtime.ObjectSelector{}, usageError{fmt.Errorf("down takes exactly one of -f FILE, pod names or --all")}
	}
	sel := runtime.Selector{All: o.All}
	objs := runtime.ObjectSelector{All: o.All}
	for _, a := range args {
		if !strings.Contains(a, "/") { // "ns/name", as ps and down print it, stands as is
			a = o.Namespace + "/" + a
		}
		sel.Names = append(sel.Names, a)
	}
	if len(o.Files) > 0 {
		maxBytes, err := o.Limits.maxBytes()
		if err != nil {
			return sel, objs, err
		}
		type loaded struct {
			objs     []manifest.Object
			warnings []string
		}
		l, err := interruptible(cmd.Context(), func() (loaded, error) {
			objs, w, err := manifest.Load(o.Files, cmd.InOrStdin(), manifest.MaxBytes(maxBytes))
			return loaded{objs, w}, err
		})
		for _, w := range l.warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "Warning:", w)
		}
		if err != nil {
			return sel, objs, err
		}
		for _, obj := range l.objs {
			switch v := obj.Object.(type) {
			case *corev1.Pod:
				sel.Owners = append(sel.Owners, ownerKey(v.Namespace, "Pod", v.Name))
			case *appsv1.Deployment:
				sel.Owners = append(sel.Owners, ownerKey(v.Namespace, "Deployment", v.Name))
			case store.Object:
				if kind, err := store.KindOf(v); err == nil {
					objs.Keys = append(objs.Keys, store.Key{Kind: kind, Namespace: namespaceOr(v.GetNamespace()), Name: v.GetName()})
				}
			}
		}
	}
	return sel, objs, nil
}

func ownerKey(ns, kind, name string) string { return podstate.OwnerKey(namespaceOr(ns), kind+"/"+name) }

func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// warnNotFound says which named pods did not exist, as kubectl does (without failing:
// running down twice is fine).
func warnNotFound(w io.Writer, names []string, results []runtime.PodResult) {
	found := map[string]bool{}
	for _, r := range results {
		found[r.Namespace+"/"+r.Name] = true
	}
	for _, n := range names {
		if !found[n] {
			ns, name, _ := strings.Cut(n, "/")
			fmt.Fprintf(w, "Warning: pod %q not found in namespace %q\n", name, ns)
		}
	}
}
