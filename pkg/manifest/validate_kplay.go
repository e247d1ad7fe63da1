package manifest

import (
	"fmt"
	"net/netip"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// emptyDirMedia are the emptyDir media kplay can provide (HugePages are not).
var emptyDirMedia = []string{"", string(corev1.StorageMediumMemory)}

// kplayChecks are kplay's own limits on one object, on top of the API server's
// validation: the fields and volume types it cannot run (errors) or ignores
// (warnings), after the support tables, and what containerd cannot hold.
func kplayChecks(obj runtime.Object) ([]string, field.ErrorList) {
	switch o := obj.(type) {
	case *corev1.Pod:
		w, errs := checkFields(objectMetaRules, &o.ObjectMeta, field.NewPath("metadata"))
		pw, perrs := podSpecChecks(&o.Spec, field.NewPath("spec"))
		return append(w, pw...), append(errs, perrs...)
	case *appsv1.Deployment:
		w, errs := checkFields(objectMetaRules, &o.ObjectMeta, field.NewPath("metadata"))
		spec := field.NewPath("spec")
		dw, derrs := checkFields(deploymentSpecRules, &o.Spec, spec)
		pw, perrs := podSpecChecks(&o.Spec.Template.Spec, spec.Child("template", "spec"))
		return append(append(w, dw...), pw...), append(append(errs, derrs...), perrs...)
	case *corev1.ConfigMap:
		w, errs := checkFields(objectMetaRules, &o.ObjectMeta, field.NewPath("metadata"))
		cw, cerrs := checkFields(configMapRules, o, nil)
		return append(w, cw...), append(errs, cerrs...)
	case *corev1.Secret:
		w, errs := checkFields(objectMetaRules, &o.ObjectMeta, field.NewPath("metadata"))
		sw, serrs := checkFields(secretRules, o, nil)
		return append(w, sw...), append(errs, serrs...)
	case *corev1.PersistentVolumeClaim:
		w, errs := checkFields(objectMetaRules, &o.ObjectMeta, field.NewPath("metadata"))
		cw, cerrs := checkFields(claimSpecRules, &o.Spec, field.NewPath("spec"))
		return append(w, cw...), append(errs, cerrs...)
	case *corev1.Service:
		return serviceChecks(o)
	}
	return nil, field.ErrorList{field.InternalError(nil, fmt.Errorf("kplay cannot run %T", obj))}
}

func podSpecChecks(spec *corev1.PodSpec, p *field.Path) ([]string, field.ErrorList) {
	warnings, errs := checkFields(podSpecRules, spec, p)
	if sc := spec.SecurityContext; sc != nil {
		w, e := checkFields(podSecurityRules, sc, p.Child("securityContext"))
		warnings, errs = append(warnings, w...), append(errs, e...)
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i].VolumeSource
		vp := p.Child("volumes").Index(i)
		_, e := checkFields(volumeSourceRules, v, vp)
		errs = append(errs, e...)
		if v.EmptyDir != nil {
			ep := vp.Child("emptyDir")
			w, e := checkFields(emptyDirRules, v.EmptyDir, ep)
			warnings, errs = append(warnings, w...), append(errs, e...)
			if m := string(v.EmptyDir.Medium); !contains(emptyDirMedia, m) {
				errs = append(errs, field.NotSupported(ep.Child("medium"), m, emptyDirMedia))
			}
		}
	}
	errs = append(errs, containerLabels(spec, p)...)
	for _, group := range []struct {
		name string
		list []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i := range group.list {
			w, e := containerChecks(&group.list[i], p.Child(group.name).Index(i))
			warnings, errs = append(warnings, w...), append(errs, e...)
		}
	}
	return warnings, errs
}

func containerChecks(c *corev1.Container, p *field.Path) ([]string, field.ErrorList) {
	warnings, errs := checkFields(containerRules, c, p)
	if c.SecurityContext != nil {
		w, e := checkFields(containerSecurityRules, c.SecurityContext, p.Child("securityContext"))
		warnings, errs = append(warnings, w...), append(errs, e...)
	}
	rp := p.Child("resources")
	w, e := checkFields(resourceRules, &c.Resources, rp)
	warnings, errs = append(warnings, w...), append(errs, e...)
	for _, name := range sortedKeys(c.Resources.Limits) {
		if name != string(corev1.ResourceCPU) && name != string(corev1.ResourceMemory) {
			warnings = append(warnings, fmt.Sprintf("%s is ignored: kplay applies only cpu and memory limits", rp.Child("limits").Key(name)))
		}
	}
	for i, port := range c.Ports {
		if _, err := netip.ParseAddr(port.HostIP); port.HostIP != "" && err != nil {
			errs = append(errs, field.Invalid(p.Child("ports").Index(i).Child("hostIP"), port.HostIP,
				"kplay publishes host ports through CNI portmap, which needs an IP address such as 127.0.0.1"))
		}
	}
	// The API server takes relative paths here; the OCI runtime needs absolute ones
	// (the kubelet would prefix a mountPath with "/", kplay asks for it).
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		errs = append(errs, field.Invalid(p.Child("workingDir"), c.WorkingDir, "kplay needs an absolute path: the OCI runtime refuses a relative working directory"))
	}
	for i := range c.VolumeMounts {
		mp := p.Child("volumeMounts").Index(i)
		w, e := checkFields(volumeMountRules, &c.VolumeMounts[i], mp)
		warnings, errs = append(warnings, w...), append(errs, e...)
		if m := c.VolumeMounts[i].MountPath; m != "" && !path.IsAbs(m) {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m, "kplay needs an absolute path: write \"/"+m+"\""))
		}
	}
	for i, env := range c.Env {
		if env.ValueFrom != nil {
			_, e := checkFields(envSourceRules, env.ValueFrom, p.Child("env").Index(i).Child("valueFrom"))
			errs = append(errs, e...)
		}
	}
	return warnings, errs
}

// kplayRefused formats kplay's own errors about an object, so that they read as
// kplay's limits and not as Kubernetes'.
func kplayRefused(o Object, errs field.ErrorList) string {
	return fmt.Sprintf("%s: kplay cannot run %s:", o.Where(), describe(o.Object)) + bulleted(errs)
}
