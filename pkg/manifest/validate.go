package manifest

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// maxDataSize is the API server's limit on a ConfigMap's or Secret's data.
const maxDataSize = 1 << 20

// Validate checks objects the way the API server would, and what kplay cannot
// run, reporting every error of every object at once. The warnings name fields
// kplay accepts but ignores (see supportTables).
//
// kplay's own limits apply too: at most DefaultMaxPods pods (see MaxPods), replica
// names that are valid pod names and no Pod named like a Deployment's replica.
func Validate(objs []Object, opts ...ValidateOption) ([]string, error) {
	lim := limits{maxPods: DefaultMaxPods}
	for _, o := range opts {
		o(&lim)
	}
	var (
		warnings []string
		errs     = make([]field.ErrorList, len(objs))
	)
	for i, o := range objs {
		w, e := validateObject(o.Object)
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
		if len(errs[i]) > 0 {
			lines = append(lines, invalidObject(o, errs[i]))
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

// invalidObject formats an object's errors as kubectl prints the API server's.
func invalidObject(o Object, errs field.ErrorList) string {
	kind, name := kindOf(o.Object), nameOf(o.Object)
	head := fmt.Sprintf("%s: The %s %q is invalid:", o.Where(), kind, name)
	if len(errs) == 1 {
		return head + " " + errs[0].Error()
	}
	var b strings.Builder
	b.WriteString(head)
	for _, e := range errs {
		b.WriteString("\n* " + e.Error())
	}
	return b.String()
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

func validateObject(obj runtime.Object) ([]string, field.ErrorList) {
	switch o := obj.(type) {
	case *corev1.Pod:
		w, errs := validateMeta(&o.ObjectMeta)
		pw, perrs := validatePodSpec(&o.Spec, field.NewPath("spec"), false)
		return append(w, pw...), append(errs, perrs...)
	case *appsv1.Deployment:
		return validateDeployment(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.PersistentVolumeClaim:
		return validateClaim(o)
	}
	return nil, field.ErrorList{field.InternalError(nil, fmt.Errorf("kplay cannot validate %T", obj))}
}

func validateMeta(m *metav1.ObjectMeta) ([]string, field.ErrorList) {
	path := field.NewPath("metadata")
	warnings, errs := checkFields(objectMetaRules, m, path)
	if m.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	}
	for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
		if m.Name != "" {
			errs = append(errs, field.Invalid(path.Child("name"), m.Name, msg))
		}
	}
	if m.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(m.Namespace) {
			errs = append(errs, field.Invalid(path.Child("namespace"), m.Namespace, msg))
		}
	}
	errs = append(errs, validateLabels(m.Labels, path.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(m.Annotations, path.Child("annotations"))...)
	return warnings, errs
}

// validateLabels is metavalidation.ValidateLabels in a stable order.
func validateLabels(l map[string]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(l) {
		errs = append(errs, metavalidation.ValidateLabels(map[string]string{k: l[k]}, path)...)
	}
	return errs
}

func validateDeployment(d *appsv1.Deployment) ([]string, field.ErrorList) {
	warnings, errs := validateMeta(&d.ObjectMeta)
	spec := field.NewPath("spec")
	w, e := checkFields(deploymentSpecRules, &d.Spec, spec)
	warnings, errs = append(warnings, w...), append(errs, e...)

	if d.Spec.Replicas != nil && *d.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(spec.Child("replicas"), *d.Spec.Replicas, "must be greater than or equal to 0"))
	}
	tmpl := spec.Child("template")
	errs = append(errs, validateLabels(d.Spec.Template.Labels, tmpl.Child("metadata", "labels"))...)
	sel := d.Spec.Selector
	switch {
	case sel == nil:
		errs = append(errs, field.Required(spec.Child("selector"), ""))
	case len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0:
		errs = append(errs, field.Invalid(spec.Child("selector"), "{}", "empty selector is invalid for deployment"))
	default:
		selErrs := metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, spec.Child("selector"))
		errs = append(errs, selErrs...)
		if s, err := metav1.LabelSelectorAsSelector(sel); len(selErrs) == 0 && err == nil && !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			errs = append(errs, field.Invalid(tmpl.Child("metadata", "labels"), d.Spec.Template.Labels, "`selector` does not match template `labels`"))
		}
	}
	w, e = validatePodSpec(&d.Spec.Template.Spec, tmpl.Child("spec"), true)
	return append(warnings, w...), append(errs, e...)
}

func validateConfigMap(cm *corev1.ConfigMap) ([]string, field.ErrorList) {
	warnings, errs := validateMeta(&cm.ObjectMeta)
	w, e := checkFields(configMapRules, cm, nil)
	warnings, errs = append(warnings, w...), append(errs, e...)
	size := 0
	for _, k := range sortedKeys(cm.Data) {
		errs = append(errs, validateKey(field.NewPath("data").Key(k), k)...)
		size += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		p := field.NewPath("binaryData").Key(k)
		errs = append(errs, validateKey(p, k)...)
		if _, dup := cm.Data[k]; dup {
			errs = append(errs, field.Invalid(p, k, "duplicate of key present in data"))
		}
		size += len(cm.BinaryData[k])
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", maxDataSize))
	}
	return warnings, errs
}

func validateSecret(s *corev1.Secret) ([]string, field.ErrorList) {
	warnings, errs := validateMeta(&s.ObjectMeta)
	w, e := checkFields(secretRules, s, nil)
	warnings, errs = append(warnings, w...), append(errs, e...)
	size := 0
	for _, k := range sortedKeys(s.Data) {
		errs = append(errs, validateKey(field.NewPath("data").Key(k), k)...)
		size += len(s.Data[k])
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", maxDataSize))
	}
	return warnings, errs
}

func validateKey(p *field.Path, key string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(key) {
		errs = append(errs, field.Invalid(p, key, msg))
	}
	return errs
}

var accessModes = []string{
	string(corev1.ReadWriteOnce), string(corev1.ReadOnlyMany),
	string(corev1.ReadWriteMany), string(corev1.ReadWriteOncePod),
}

func validateClaim(c *corev1.PersistentVolumeClaim) ([]string, field.ErrorList) {
	warnings, errs := validateMeta(&c.ObjectMeta)
	spec := field.NewPath("spec")
	w, e := checkFields(claimSpecRules, &c.Spec, spec)
	warnings, errs = append(warnings, w...), append(errs, e...)
	if len(c.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(spec.Child("accessModes"), "at least 1 access mode is required"))
	}
	for i, m := range c.Spec.AccessModes {
		if !contains(accessModes, string(m)) {
			errs = append(errs, field.NotSupported(spec.Child("accessModes").Index(i), m, accessModes))
		}
	}
	storage, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]
	p := spec.Child("resources").Key(string(corev1.ResourceStorage))
	switch {
	case !ok:
		errs = append(errs, field.Required(p, ""))
	case storage.Sign() <= 0:
		errs = append(errs, field.Invalid(p, storage.String(), "must be greater than zero"))
	}
	return warnings, errs
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
		ports, _ := podHostPorts(spec, path)
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

// podHostPorts lists the host ports of a pod (see hostport.Pod), and an error for
// each port that the pod already binds.
func podHostPorts(spec *corev1.PodSpec, path *field.Path) ([]hostport.Declared, field.ErrorList) {
	var (
		ports []hostport.Declared
		errs  field.ErrorList
	)
	for _, p := range hostport.Pod(spec) {
		if slices.ContainsFunc(hostport.Ports(ports), p.Overlaps) {
			errs = append(errs, field.Duplicate(p.Path(path), p.String()))
			continue
		}
		ports = append(ports, p)
	}
	return ports, errs
}
