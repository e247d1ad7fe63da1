package manifest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/validate"
	"k8s.io/apimachinery/pkg/api/validate/content"
	genericvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiserverfeatures "k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	pvcutil "k8s.io/kubernetes/pkg/api/persistentvolumeclaim"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install" // apps/v1 defaulting, conversion and declarative validation
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	api "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install" // v1 defaulting, conversion and declarative validation
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/capabilities"
)

// allowPrivileged is what the API server does with --allow-privileged=true, as
// kubeadm and most clusters run it: privileged containers pass validation.
var allowPrivileged sync.Once

// apiServerCreate does to obj what a kube-apiserver of the release kplay builds
// against does on create, with its default feature gates: the v1 defaulting, the
// conversion to the internal type, the registry strategy's PrepareForCreate (which
// drops the fields of disabled features) and create validation, and the declarative
// validation. It returns the object as the API server would store it, in v1, and
// the validation errors, with the API server's field paths and messages.
//
// A missing namespace is "default", as kubectl sends it.
func apiServerCreate(obj runtime.Object) (runtime.Object, field.ErrorList) {
	allowPrivileged.Do(func() { capabilities.Setup(true, 0) })

	versioned := obj.DeepCopyObject()
	gvk := schema.FromAPIVersionAndKind(kinds[kindOf(obj)].apiVersion, kindOf(obj))
	versioned.GetObjectKind().SetGroupVersionKind(gvk)
	meta, ok := versioned.(metav1.Object)
	if !ok {
		return obj, field.ErrorList{field.InternalError(nil, fmt.Errorf("%T has no metadata", obj))}
	}
	ns := meta.GetNamespace()
	if ns == "" {
		meta.SetNamespace(metav1.NamespaceDefault)
	}
	scheme := legacyscheme.Scheme
	scheme.Default(versioned)
	internal, err := scheme.ConvertToVersion(versioned, gvk.GroupKind().WithVersion(runtime.APIVersionInternal).GroupVersion())
	if err != nil {
		return obj, field.ErrorList{field.InternalError(nil, err)}
	}

	var errs field.ErrorList
	switch o := internal.(type) {
	case *api.Pod:
		podutil.DropDisabledPodFields(o, nil)
		opts := podutil.GetValidationOptionsFromPodSpecAndMeta(&o.Spec, nil, &o.ObjectMeta, nil)
		opts.ResourceIsPod = true
		errs = corevalidation.ValidatePodCreate(o, opts)
	case *apps.Deployment:
		podutil.DropDisabledTemplateFields(&o.Spec.Template, nil)
		errs = appsvalidation.ValidateDeployment(o, podutil.GetValidationOptionsFromPodTemplate(&o.Spec.Template, nil))
	case *api.ConfigMap:
		errs = corevalidation.ValidateConfigMap(o)
	case *api.Secret:
		errs = corevalidation.ValidateSecret(o)
	case *api.PersistentVolumeClaim:
		pvcutil.DropDisabledFields(&o.Spec, nil)
		pvcutil.EnforceDataSourceBackwardsCompatibility(&o.Spec, nil)
		pvcutil.NormalizeDataSources(&o.Spec)
		errs = corevalidation.ValidatePersistentVolumeClaim(o, corevalidation.ValidationOptionsForPersistentVolumeClaim(o, nil))
	case *api.Service:
		// The service strategy's PrepareForCreate (status is the server's) and the REST
		// layer's normalizeClusterIPs: clusterIPs follows clusterIP. kplay allocates the
		// address itself, after validation.
		o.Status = api.ServiceStatus{}
		if o.Spec.ClusterIP != "" && len(o.Spec.ClusterIPs) == 0 {
			o.Spec.ClusterIPs = []string{o.Spec.ClusterIP}
		}
		errs = corevalidation.ValidateServiceCreate(o)
	default:
		return obj, field.ErrorList{field.InternalError(nil, fmt.Errorf("kplay cannot validate %T", internal))}
	}
	if len(errs) == 0 {
		// The generic checks of every create, after the strategy's (rest.ValidateCreate).
		m, _ := internal.(metav1.Object)
		errs = genericvalidation.ValidateObjectMetaAccessor(m, true, pathSegment, field.NewPath("metadata"))
	}

	stored, err := scheme.ConvertToVersion(internal, gvk.GroupVersion())
	if err != nil {
		return obj, append(errs, field.InternalError(nil, err))
	}
	errs = declarative(stored, errs)
	stored.GetObjectKind().SetGroupVersionKind(gvk)
	if m, ok := stored.(metav1.Object); ok && ns == "" {
		m.SetNamespace("")
	}
	return stored, errs
}

// declarative adds the errors of the validation declared on the v1 types, and drops
// the handwritten errors that it covers, as rest.ValidateDeclarativelyWithMigrationChecks does.
func declarative(versioned runtime.Object, errs field.ErrorList) field.ErrorList {
	ctx := context.Background()
	beta := utilfeature.DefaultFeatureGate.Enabled(apiserverfeatures.DeclarativeValidationBeta)
	errs = errs.MarkFromImperative()
	enforced := validate.FilterEnforcedDeclarativeErrors(ctx, legacyscheme.Scheme.Validate(ctx, nil, versioned), beta)
	errs = validate.FilterCoveredHandwrittenErrors(ctx, errs, enforced, beta)
	return append(errs, enforced...)
}

// pathSegment is the API server's check that a name can be a URL path segment.
func pathSegment(name string, prefix bool) []string {
	if prefix {
		return content.IsPathSegmentPrefix(name)
	}
	return content.IsPathSegmentName(name)
}

// apiInvalid formats an object's errors as kubectl prints the API server's 422.
// The API server walks maps (data keys, labels, resources) in random order; the
// errors are sorted so the same input always reads the same.
func apiInvalid(o Object, errs field.ErrorList) string {
	errs = slices.Clone(errs)
	slices.SortStableFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Error(), b.Error()) })
	head := fmt.Sprintf("%s: The %s %q is invalid:", o.Where(), kindOf(o.Object), nameOf(o.Object))
	return head + bulleted(errs)
}

// bulleted is one error on the same line, or each on its own "* " line.
func bulleted(errs field.ErrorList) string {
	if len(errs) == 1 {
		return " " + errs[0].Error()
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n* " + e.Error())
	}
	return b.String()
}
