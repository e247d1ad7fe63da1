package manifest

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kplay-dev/kplay/pkg/labels"
)

// DefaultMaxPods is how many pods one run plans unless MaxPods raises it.
const DefaultMaxPods = 1000

// ValidateOption changes a limit of Validate.
type ValidateOption func(*limits)

type limits struct{ maxPods int }

// MaxPods sets how many pods, every replica counted, the objects may define;
// n <= 0 keeps DefaultMaxPods.
func MaxPods(n int) ValidateOption {
	return func(l *limits) {
		if n > 0 {
			l.maxPods = n
		}
	}
}

// replicasOf is how many pods a Pod or Deployment defines, and where that is said.
func replicasOf(obj any) (int, *field.Path, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return 1, field.NewPath("metadata", "name"), true
	case *appsv1.Deployment:
		if o.Spec.Replicas == nil {
			return 1, field.NewPath("spec", "replicas"), true
		}
		return int(*o.Spec.Replicas), field.NewPath("spec", "replicas"), true
	}
	return 0, nil, false
}

// podCount refuses more pods than the limit, on the object that crosses it, so a
// huge replicas is never expanded.
func podCount(objs []Object, max int, errs []field.ErrorList) {
	total := 0
	for i, o := range objs {
		n, path, ok := replicasOf(o.Object)
		if !ok || n <= 0 {
			continue
		}
		before := total
		total += n
		if total <= max {
			continue
		}
		msg := fmt.Sprintf("kplay runs at most %d pods per run (--max-pods)", max)
		if before > 0 {
			msg += fmt.Sprintf("; the objects before this one define %d", before)
		}
		var bad any = n
		if _, pod := o.Object.(*corev1.Pod); pod {
			bad = nameOf(o.Object)
		}
		errs[i] = append(errs[i], field.Invalid(path, bad, msg))
		return // one line says it; the objects after it are over too
	}
}

// replicaNames checks the names kplay gives a Deployment's replicas,
// <name>-<index>: they must be valid pod names, and no Pod of the same run may
// carry one of them.
func replicaNames(objs []Object, dups map[int]string, errs []field.ErrorList) {
	type deployment struct {
		replicas int
		where    string
	}
	deployments := map[string]deployment{} // by namespace/name
	for i, o := range objs {
		d, ok := o.Object.(*appsv1.Deployment)
		if _, dup := dups[i]; !ok || dup {
			continue
		}
		n, _, _ := replicasOf(d)
		if n <= 0 {
			continue
		}
		deployments[namespaceOf(d)+"/"+d.Name] = deployment{n, o.Where()}
		longest := replicaName(d.Name, n-1)
		for _, msg := range validation.IsDNS1123Subdomain(longest) {
			if d.Name != "" && len(validation.IsDNS1123Subdomain(d.Name)) == 0 {
				errs[i] = append(errs[i], field.Invalid(field.NewPath("metadata", "name"), d.Name,
					fmt.Sprintf("kplay names replica %d %q, which is not a valid pod name: %s", n-1, shorten(longest), msg)))
			}
		}
	}
	for i, o := range objs {
		p, ok := o.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		cut := strings.LastIndexByte(p.Name, '-')
		if cut < 0 {
			continue
		}
		index, err := strconv.Atoi(p.Name[cut+1:])
		if err != nil || index < 0 || replicaName(p.Name[:cut], index) != p.Name {
			continue
		}
		d, ok := deployments[namespaceOf(p)+"/"+p.Name[:cut]]
		if !ok || index >= d.replicas {
			continue
		}
		errs[i] = append(errs[i], &field.Error{Type: field.ErrorTypeDuplicate, Field: "metadata.name", BadValue: p.Name,
			Detail: fmt.Sprintf("kplay names replica %d of Deployment %q (%s) so; rename the Pod or the Deployment", index, p.Name[:cut], d.where)})
	}
}

func replicaName(deployment string, index int) string {
	return deployment + "-" + strconv.Itoa(index)
}

// shorten keeps a long name readable in a message.
func shorten(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:40] + "..." + s[len(s)-20:]
}

// containerLabels checks that the pod's container names fit the label in which
// kplay keeps them on the pod's infra container; containerd refuses a label whose
// key and value are longer than labels.MaxSize.
func containerLabels(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	names := make([]string, len(spec.Containers))
	for i, c := range spec.Containers {
		names[i] = c.Name
	}
	size := len(labels.Containers) + len(labels.List(names))
	if size <= labels.MaxSize {
		return nil
	}
	return field.ErrorList{field.Forbidden(p.Child("containers"), fmt.Sprintf(
		"the names of %d containers take %d bytes in kplay's containerd label %s, and containerd allows %d bytes per label: use fewer or shorter-named containers",
		len(spec.Containers), size, labels.Containers, labels.MaxSize))}
}
