package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kplay-dev/kplay/pkg/service"
	"github.com/kplay-dev/kplay/pkg/store"
)

type getOptions struct {
	Output        string
	Namespace     string
	AllNamespaces bool
}

func newGetCommand(g *globalOptions) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get KIND[,KIND...] [NAME...]",
		Short: "List the Secrets, ConfigMaps and PersistentVolumeClaims up applied, like kubectl get",
		Long: `List the objects that are not pods and that kplay keeps in its store: what up applied
and down has not removed. KIND is secrets (secret), configmaps (configmap, cm) or
persistentvolumeclaims (persistentvolumeclaim, pvc), several separated by commas.
Secret values are never printed: -o yaml and -o json show each key with an empty value.
For pods, use kplay ps.`,
		Args: argsUsage(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			kinds, err := parseKinds(args[0])
			if err != nil {
				return err
			}
			switch o.Output {
			case "", "wide", "json", "yaml":
			default:
				return usageError{fmt.Errorf("unknown output format %q: use wide, json or yaml", o.Output)}
			}
			ns := o.Namespace
			if o.AllNamespaces {
				ns = ""
			}
			lists, err := readStored(store.New(g.layout().StorePath(), g.Namespace), kinds, ns, args[1:])
			if err != nil {
				return err
			}
			if err := withEndpoints(cmd, g, lists); err != nil {
				return err
			}
			return printStored(cmd.OutOrStdout(), cmd.ErrOrStderr(), lists, o, len(args) > 1, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "", "output format: wide, json or yaml")
	f.StringVarP(&o.Namespace, "namespace", "n", "default", "namespace to list")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list every namespace")
	return cmd
}

// parseKinds reads kubectl's resource names and short names.
func parseKinds(arg string) ([]store.Kind, error) {
	var kinds []store.Kind
	for _, k := range strings.Split(arg, ",") {
		switch strings.ToLower(k) {
		case "secrets", "secret":
			kinds = append(kinds, store.Secrets)
		case "configmaps", "configmap", "cm":
			kinds = append(kinds, store.ConfigMaps)
		case "persistentvolumeclaims", "persistentvolumeclaim", "pvc":
			kinds = append(kinds, store.PersistentVolumeClaims)
		case "services", "service", "svc":
			kinds = append(kinds, store.Services)
		case "endpoints", "endpoint", "ep":
			kinds = append(kinds, kindEndpoints)
		case "pods", "pod", "po":
			return nil, usageError{fmt.Errorf("kplay get lists services, endpoints, secrets, configmaps and persistentvolumeclaims; for pods use kplay ps")}
		default:
			return nil, usageError{fmt.Errorf("unknown kind %q: kplay get lists services (svc), endpoints (ep), secrets (secret), configmaps (cm) and persistentvolumeclaims (pvc)", k)}
		}
	}
	return kinds, nil
}

// storedList is the objects of one kind, each with the file that applied it.
type storedList struct {
	kind    store.Kind
	items   []k8sruntime.Object
	sources []string
}

// readStored lists the kinds in one read transaction. Names, when given, must exist.
func readStored(st *store.Store, kinds []store.Kind, namespace string, names []string) ([]storedList, error) {
	var lists []storedList
	err := st.View(func(tx *store.Tx) error {
		for _, kind := range kinds {
			l := storedList{kind: kind}
			var err error
			switch kind {
			case store.Secrets:
				l.items, l.sources, err = listOf[corev1.Secret](tx, namespace)
			case store.ConfigMaps:
				l.items, l.sources, err = listOf[corev1.ConfigMap](tx, namespace)
			case store.PersistentVolumeClaims:
				l.items, l.sources, err = listOf[corev1.PersistentVolumeClaim](tx, namespace)
			case store.Services, kindEndpoints:
				l.items, l.sources, err = listOf[corev1.Service](tx, namespace)
			}
			if err != nil {
				return err
			}
			if len(names) > 0 {
				if l, err = l.only(names); err != nil {
					return err
				}
			}
			lists = append(lists, l)
		}
		return nil
	})
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w: kplay's store holds Secrets and only root may read it: run kplay with sudo", err)
	}
	return lists, err
}

func listOf[T any, P interface {
	*T
	store.Object
}](tx *store.Tx, namespace string) ([]k8sruntime.Object, []string, error) {
	items, sources, err := store.List[T, P](tx, namespace)
	objs := make([]k8sruntime.Object, len(items))
	for i := range items {
		objs[i] = P(&items[i])
	}
	return objs, sources, err
}

// only keeps the named objects, in the order named; a missing one is an error as in kubectl.
func (l storedList) only(names []string) (storedList, error) {
	out := storedList{kind: l.kind}
	for _, n := range names {
		found := false
		for i, obj := range l.items {
			if obj.(store.Object).GetName() == n {
				out.items, out.sources = append(out.items, obj), append(out.sources, l.sources[i])
				found = true
			}
		}
		if !found {
			return out, fmt.Errorf("%s %q not found", l.kind, n)
		}
	}
	return out, nil
}

func printStored(out, stderr io.Writer, lists []storedList, o *getOptions, named bool, now time.Time) error {
	for _, l := range lists {
		for _, obj := range l.items {
			setTypeMeta(obj)
			if s, ok := obj.(*corev1.Secret); ok {
				redact(s)
			}
		}
	}
	if o.Output == "json" || o.Output == "yaml" {
		return printObject(out, o.Output, storedObjectList(lists, named))
	}
	total := 0
	for _, l := range lists {
		total += len(l.items)
	}
	if total == 0 {
		if o.AllNamespaces {
			fmt.Fprintln(stderr, "No resources found")
		} else {
			fmt.Fprintf(stderr, "No resources found in %s namespace.\n", o.Namespace)
		}
		return nil
	}
	first := true
	for _, l := range lists {
		if len(l.items) == 0 {
			continue
		}
		if !first {
			fmt.Fprintln(out)
		}
		first = false
		if err := printTable(out, l, o, len(lists) > 1, now); err != nil {
			return err
		}
	}
	return nil
}

// storedObjectList is what kubectl -o yaml prints: a v1 List of the objects, of one
// kind or several, or the object itself when one was named.
func storedObjectList(lists []storedList, named bool) any {
	if len(lists) == 1 && named && len(lists[0].items) == 1 {
		return lists[0].items[0]
	}
	all := &corev1.List{Items: []k8sruntime.RawExtension{}}
	all.APIVersion, all.Kind = "v1", "List"
	for _, l := range lists {
		for _, o := range l.items {
			all.Items = append(all.Items, k8sruntime.RawExtension{Object: o})
		}
	}
	return all
}

func setTypeMeta(obj k8sruntime.Object) {
	switch o := obj.(type) {
	case *corev1.Secret:
		o.APIVersion, o.Kind = "v1", "Secret"
	case *corev1.ConfigMap:
		o.APIVersion, o.Kind = "v1", "ConfigMap"
	case *corev1.PersistentVolumeClaim:
		o.APIVersion, o.Kind = "v1", "PersistentVolumeClaim"
	case *corev1.Service:
		o.APIVersion, o.Kind = "v1", "Service"
	case *corev1.Endpoints:
		o.APIVersion, o.Kind = "v1", "Endpoints"
	}
}

// redact keeps a Secret's keys and drops every value: kplay never prints a Secret's data.
func redact(s *corev1.Secret) {
	for k := range s.Data {
		s.Data[k] = []byte{}
	}
	s.StringData = nil
}

// printTable prints one kind with kubectl's columns.
func printTable(out io.Writer, l storedList, o *getOptions, prefixKind bool, now time.Time) error {
	w := tabwriter.NewWriter(out, 3, 0, 3, ' ', 0)
	var header []string
	if o.AllNamespaces {
		header = append(header, "NAMESPACE")
	}
	switch l.kind {
	case store.Secrets:
		header = append(header, "NAME", "TYPE", "DATA", "AGE")
	case store.ConfigMaps:
		header = append(header, "NAME", "DATA", "AGE")
	case store.PersistentVolumeClaims:
		header = append(header, "NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE")
		if o.Output == "wide" {
			header = append(header, "VOLUMEMODE")
		}
	case store.Services:
		header = append(header, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE")
		if o.Output == "wide" {
			header = append(header, "SELECTOR")
		}
	case kindEndpoints:
		header = append(header, "NAME", "ENDPOINTS", "AGE")
	}
	if o.Output == "wide" {
		header = append(header, "SOURCE")
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for i, obj := range l.items {
		meta := obj.(store.Object)
		var row []string
		if o.AllNamespaces {
			row = append(row, meta.GetNamespace())
		}
		name := meta.GetName()
		if prefixKind {
			name = strings.TrimSuffix(string(l.kind), "s") + "/" + name
		}
		age := duration.HumanDuration(now.Sub(meta.GetCreationTimestamp().Time))
		switch v := obj.(type) {
		case *corev1.Secret:
			row = append(row, name, string(v.Type), fmt.Sprint(len(v.Data)), age)
		case *corev1.ConfigMap:
			row = append(row, name, fmt.Sprint(len(v.Data)+len(v.BinaryData)), age)
		case *corev1.Service:
			row = append(row, name, serviceType(v), clusterIP(v), externalIP(v), service.PortsColumn(v), age)
			if o.Output == "wide" {
				row = append(row, selector(v.Spec.Selector))
			}
		case *corev1.Endpoints:
			row = append(row, name, endpointsColumn(v), age)
		case *corev1.PersistentVolumeClaim:
			capacity := ""
			if q, ok := v.Status.Capacity[corev1.ResourceStorage]; ok {
				capacity = q.String()
			}
			row = append(row, name, string(v.Status.Phase), v.Spec.VolumeName, capacity,
				accessModes(v.Status.AccessModes), deref(v.Spec.StorageClassName, ""), deref(v.Spec.VolumeAttributesClassName, "<unset>"), age)
			if o.Output == "wide" {
				mode := "<unset>"
				if v.Spec.VolumeMode != nil {
					mode = string(*v.Spec.VolumeMode)
				}
				row = append(row, mode)
			}
		}
		if o.Output == "wide" {
			row = append(row, l.sources[i])
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

// accessModes abbreviates as kubectl does, in its order.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"},
	} {
		for _, have := range modes {
			if have == m.mode {
				out = append(out, m.short)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
