package plan

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	fieldpath "k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

// MissingReferences lists every ConfigMap, Secret and PersistentVolumeClaim that a
// pod of objs needs (optional references aside) and that neither objs, the store
// (opts.StoredConfigMaps, opts.StoredSecrets) nor the machine (opts.ExistingClaims)
// holds: one line for each use, naming the file, document, object, container and
// field. It reads objs as they are, so it can run on objects that failed validation.
func MissingReferences(objs []manifest.Object, opts Options) []string {
	have := map[string]bool{} // "kind namespace/name"
	for _, o := range objs {
		switch obj := o.Object.(type) {
		case *corev1.ConfigMap:
			have["configmap "+namespaceOf(obj.Namespace)+"/"+obj.Name] = true
		case *corev1.Secret:
			have["secret "+namespaceOf(obj.Namespace)+"/"+obj.Name] = true
		case *corev1.PersistentVolumeClaim:
			have["persistentvolumeclaim "+namespaceOf(obj.Namespace)+"/"+obj.Name] = true
		}
	}
	for _, cm := range opts.StoredConfigMaps {
		have["configmap "+namespaceOf(cm.Namespace)+"/"+cm.Name] = true
	}
	for _, s := range opts.StoredSecrets {
		have["secret "+namespaceOf(s.Namespace)+"/"+s.Name] = true
	}
	for key := range opts.ExistingClaims {
		have["persistentvolumeclaim "+key] = true
	}

	var lines []string
	for _, o := range objs {
		var (
			spec *corev1.PodSpec
			ns   string
			path = fieldpath.NewPath("spec")
			what string
		)
		switch obj := o.Object.(type) {
		case *corev1.Pod:
			spec, ns, what = &obj.Spec, obj.Namespace, fmt.Sprintf("Pod %q", obj.Name)
		case *appsv1.Deployment:
			spec, ns, what = &obj.Spec.Template.Spec, obj.Namespace, fmt.Sprintf("Deployment %q", obj.Name)
			path = path.Child("template", "spec")
		default:
			continue
		}
		ns = namespaceOf(ns)
		for _, r := range podReferences(spec, path) {
			if have[r.kind+" "+ns+"/"+r.name] {
				continue
			}
			in := ""
			if r.container != "" {
				in = fmt.Sprintf(": container %q", r.container)
			}
			lines = append(lines, fmt.Sprintf("%s (%s)%s: %s: %s", o.Where(), what, in, r.field, notFoundText(r.kind, r.name)))
		}
	}
	return lines
}

// notFoundText is why a referenced object is missing and what to do about it.
func notFoundText(kind, name string) string {
	if kind == "persistentvolumeclaim" {
		return fmt.Sprintf("persistentVolumeClaim %q is neither declared in the files nor present on this machine", name)
	}
	return fmt.Sprintf("%s %q not found: declare it in the files or apply it first with kplay up -f FILE", kind, name)
}

// reference is one required use of a ConfigMap, Secret or claim by a pod.
type reference struct {
	kind, name string
	container  string // "" for a volume
	field      *fieldpath.Path
}

func podReferences(spec *corev1.PodSpec, p *fieldpath.Path) []reference {
	var refs []reference
	for i, v := range spec.Volumes {
		vp := p.Child("volumes").Index(i)
		switch s := v.VolumeSource; {
		case s.ConfigMap != nil && !isTrue(s.ConfigMap.Optional):
			refs = append(refs, reference{"configmap", s.ConfigMap.Name, "", vp.Child("configMap", "name")})
		case s.Secret != nil && !isTrue(s.Secret.Optional):
			refs = append(refs, reference{"secret", s.Secret.SecretName, "", vp.Child("secret", "secretName")})
		case s.PersistentVolumeClaim != nil:
			refs = append(refs, reference{"persistentvolumeclaim", s.PersistentVolumeClaim.ClaimName, "", vp.Child("persistentVolumeClaim", "claimName")})
		}
	}
	for _, group := range []struct {
		name string
		list []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i, c := range group.list {
			cp := p.Child(group.name).Index(i)
			for j, from := range c.EnvFrom {
				fp := cp.Child("envFrom").Index(j)
				switch {
				case from.ConfigMapRef != nil && !isTrue(from.ConfigMapRef.Optional):
					refs = append(refs, reference{"configmap", from.ConfigMapRef.Name, c.Name, fp.Child("configMapRef", "name")})
				case from.SecretRef != nil && !isTrue(from.SecretRef.Optional):
					refs = append(refs, reference{"secret", from.SecretRef.Name, c.Name, fp.Child("secretRef", "name")})
				}
			}
			for j, env := range c.Env {
				src := env.ValueFrom
				if src == nil {
					continue
				}
				vp := cp.Child("env").Index(j).Child("valueFrom")
				switch {
				case src.ConfigMapKeyRef != nil && !isTrue(src.ConfigMapKeyRef.Optional):
					refs = append(refs, reference{"configmap", src.ConfigMapKeyRef.Name, c.Name, vp.Child("configMapKeyRef", "name")})
				case src.SecretKeyRef != nil && !isTrue(src.SecretKeyRef.Optional):
					refs = append(refs, reference{"secret", src.SecretKeyRef.Name, c.Name, vp.Child("secretKeyRef", "name")})
				}
			}
		}
	}
	return refs
}
