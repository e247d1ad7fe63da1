package manifest

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// Validate checks objects as the API server does on create, and then against
// kplay's own limits, reporting every error of every object at once. It replaces
// each object with the one the API server would store: defaulted (a volume with no
// source is an emptyDir, restartPolicy is Always, ...). The warnings name fields
// kplay accepts but ignores (see supportTables).
//
// kplay's own limits apply too, with messages that say they are kplay's: the fields
// and volume types it cannot run, at most DefaultMaxPods pods (see MaxPods), replica
// names that are valid pod names, no Pod named like a Deployment's replica, and no
// host port bound by two pods.
func Validate(objs []Object, opts ...ValidateOption) ([]string, error) {
	lim := limits{maxPods: DefaultMaxPods}
	for _, o := range opts {
		o(&lim)
	}
	var (
		warnings []string
		apiErrs  = make([]field.ErrorList, len(objs))
		errs     = make([]field.ErrorList, len(objs)) // kplay's
	)
	for i := range objs {
		o := &objs[i]
		// kplay's support tables judge what the user wrote, not the API server's defaults.
		w, e := kplayChecks(o.Object)
		o.Object, apiErrs[i] = apiServerCreate(o.Object)
		for _, line := range w {
			warnings = append(warnings, fmt.Sprintf("%s: %s: %s", o.Where(), describe(o.Object), line))
		}
		errs[i] = e
	}
	dups := duplicates(objs)
	podCount(objs, lim.maxPods, errs)
	replicaNames(objs, dups, errs)
	hostPortConflicts(objs, dups, errs)

	var lines []string
	for i, o := range objs {
		if len(apiErrs[i]) > 0 {
			lines = append(lines, apiInvalid(o, apiErrs[i]))
		}
		if len(errs[i]) > 0 {
			lines = append(lines, kplayRefused(o, errs[i]))
		}
		if d, ok := dups[i]; ok {
			lines = append(lines, d)
		}
	}
	if len(lines) > 0 {
		return warnings, invalid(lines)
	}
	return warnings, nil
}

func kindOf(obj runtime.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Secret:
		return "Secret"
	case *corev1.PersistentVolumeClaim:
		return "PersistentVolumeClaim"
	case *corev1.Service:
		return "Service"
	}
	return fmt.Sprintf("%T", obj)
}

func nameOf(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetName()
	}
	return ""
}

func namespaceOf(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok && m.GetNamespace() != "" {
		return m.GetNamespace()
	}
	return metav1.NamespaceDefault
}

func describe(obj runtime.Object) string {
	return fmt.Sprintf("%s %q", kindOf(obj), nameOf(obj))
}

// duplicates finds objects defined twice (same kind, namespace and name) and
// returns, by index of the later one, a line naming both places.
func duplicates(objs []Object) map[int]string {
	first := map[string]int{}
	dups := map[int]string{}
	for i, o := range objs {
		key := kindOf(o.Object) + "/" + namespaceOf(o.Object) + "/" + nameOf(o.Object)
		if nameOf(o.Object) == "" {
			continue
		}
		j, seen := first[key]
		if !seen {
			first[key] = i
			continue
		}
		dups[i] = fmt.Sprintf("%s: %s %q in namespace %q is already defined in %s",
			o.Where(), kindOf(o.Object), nameOf(o.Object), namespaceOf(o.Object), objs[j].Where())
	}
	return dups
}

// hostPortConflicts finds host ports that two pods of one `up` would both bind:
// across objects, and across the replicas of one Deployment.
func hostPortConflicts(objs []Object, dups map[int]string, errs []field.ErrorList) {
	type holder struct {
		ports []hostport.Port
		who   string
	}
	var held []holder
	for i, o := range objs {
		if _, dup := dups[i]; dup {
			continue
		}
		var (
			spec     *corev1.PodSpec
			path     = field.NewPath("spec")
			replicas = int32(1)
		)
		switch obj := o.Object.(type) {
		case *corev1.Pod:
			spec = &obj.Spec
		case *appsv1.Deployment:
			spec, path = &obj.Spec.Template.Spec, path.Child("template", "spec")
			if obj.Spec.Replicas != nil {
				replicas = *obj.Spec.Replicas
			}
		default:
			continue
		}
		if replicas < 1 {
			continue
		}
		ports := podHostPorts(spec)
		if replicas > 1 && len(ports) > 0 {
			p := ports[0]
			errs[i] = append(errs[i], field.Invalid(p.Path(path), p.HostPort,
				fmt.Sprintf("%d replicas on one machine cannot all bind host port %s", replicas, p)))
			continue
		}
		for _, p := range ports {
			for _, h := range held {
				if slices.ContainsFunc(h.ports, p.Overlaps) {
					errs[i] = append(errs[i], &field.Error{Type: field.ErrorTypeDuplicate, Field: p.Path(path).String(),
						BadValue: p.String(), Detail: "also bound by " + h.who})
				}
			}
		}
		held = append(held, holder{hostport.Ports(ports), fmt.Sprintf("%s (%s)", describe(o.Object), o.Where())})
	}
}

// podHostPorts lists the host ports of a pod (see hostport.Pod), each once: the
// API server reports a port that one pod binds twice.
func podHostPorts(spec *corev1.PodSpec) []hostport.Declared {
	var ports []hostport.Declared
	for _, p := range hostport.Pod(spec) {
		if !slices.ContainsFunc(hostport.Ports(ports), p.Overlaps) {
			ports = append(ports, p)
		}
	}
	return ports
}
