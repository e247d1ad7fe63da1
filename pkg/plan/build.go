package plan

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/containerd/errdefs"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

const defaultNamespace = "default"

// invalidf is bad input: the CLI exits 2 on it. The message is the whole error.
func invalidf(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// notFound is a ConfigMap or Secret a pod needs that neither the files nor the store hold.
func notFound(kind, name string) error {
	return invalidf("%s %q not found: declare it in the files or apply it first with kplay up -f FILE", kind, name)
}

// objectStore holds the ConfigMaps, Secrets and claims the files declare, by
// "namespace/name".
type objectStore struct {
	configMaps map[string]*corev1.ConfigMap
	// secrets is each Secret's data with stringData merged over it.
	secrets map[string]map[string][]byte
	claims  map[string]bool
	// services give the service links, by "namespace/name".
	services map[string]*corev1.Service
	where    map[string]string // "kind ns/name" -> where it was declared
}

func (s *objectStore) configMap(ns, name string) *corev1.ConfigMap { return s.configMaps[ns+"/"+name] }

func (s *objectStore) secret(ns, name string) map[string][]byte { return s.secrets[ns+"/"+name] }

// declare records where an object was declared and fails on a second declaration.
func (s *objectStore) declare(kind, key string, o manifest.Object) error {
	id := kind + " " + key
	if prev, ok := s.where[id]; ok {
		return invalidf("%s %q is declared twice: %s and %s", kind, key, prev, o.Where())
	}
	s.where[id] = o.Where()
	return nil
}

// podSeed is one pod to plan, before anything is resolved.
type podSeed struct {
	obj         manifest.Object
	namespace   string
	name        string
	labels      map[string]string
	annotations map[string]string
	owner       Owner
	spec        corev1.PodSpec
}

type builder struct {
	opts     Options
	objs     *objectStore
	warnings []string
	warned   map[string]bool
}

func (b *builder) warn(w string) {
	if !b.warned[w] {
		b.warned[w] = true
		b.warnings = append(b.warnings, w)
	}
}

// Build plans the pods that objs define. objs are expected to be validated
// already; odd input gives an error, never a panic. Pods come in the order of
// the objects, a Deployment's replicas in index order.
func Build(objs []manifest.Object, opts Options) (*Plan, error) {
	b := &builder{
		opts: opts,
		objs: &objectStore{
			configMaps: map[string]*corev1.ConfigMap{},
			secrets:    map[string]map[string][]byte{},
			claims:     map[string]bool{},
			services:   map[string]*corev1.Service{},
			where:      map[string]string{},
		},
		warned: map[string]bool{},
	}
	for i := range opts.StoredConfigMaps {
		cm := &opts.StoredConfigMaps[i]
		b.objs.configMaps[namespaceOf(cm.Namespace)+"/"+cm.Name] = cm
	}
	for i := range opts.StoredSecrets {
		s := &opts.StoredSecrets[i]
		b.objs.secrets[namespaceOf(s.Namespace)+"/"+s.Name] = secretData(s)
	}
	for i := range opts.Services {
		s := &opts.Services[i]
		b.objs.services[namespaceOf(s.Namespace)+"/"+s.Name] = s
	}
	p := &Plan{}
	var seeds []podSeed
	for _, o := range objs {
		switch obj := o.Object.(type) {
		case *corev1.ConfigMap:
			key := namespaceOf(obj.Namespace) + "/" + obj.Name
			if err := b.objs.declare("configmap", key, o); err != nil {
				return nil, err
			}
			b.objs.configMaps[key] = obj
			p.Objects = append(p.Objects, declared(o, obj))
		case *corev1.Secret:
			key := namespaceOf(obj.Namespace) + "/" + obj.Name
			if err := b.objs.declare("secret", key, o); err != nil {
				return nil, err
			}
			b.objs.secrets[key] = secretData(obj)
			p.Objects = append(p.Objects, declared(o, obj))
		case *corev1.PersistentVolumeClaim:
			key := namespaceOf(obj.Namespace) + "/" + obj.Name
			if err := b.objs.declare("persistentvolumeclaim", key, o); err != nil {
				return nil, err
			}
			b.objs.claims[key] = true
			p.Claims = append(p.Claims, key)
			p.Objects = append(p.Objects, declared(o, obj))
		case *corev1.Service:
			key := namespaceOf(obj.Namespace) + "/" + obj.Name
			if err := b.objs.declare("service", key, o); err != nil {
				return nil, err
			}
			p.Objects = append(p.Objects, declared(o, obj))
		case *corev1.Pod:
			if obj.Name == "" {
				return nil, invalidf("%s: pod has no name", o.Where())
			}
			seeds = append(seeds, podSeed{
				obj:         o,
				namespace:   namespaceOf(obj.Namespace),
				name:        obj.Name,
				labels:      copyMap(obj.Labels),
				annotations: copyMap(obj.Annotations),
				owner:       Owner{Kind: "Pod", Name: obj.Name},
				spec:        *obj.Spec.DeepCopy(),
			})
			p.Owners = append(p.Owners, NamespacedOwner{namespaceOf(obj.Namespace), Owner{Kind: "Pod", Name: obj.Name}})
		case *appsv1.Deployment:
			s, err := deploymentSeeds(o, obj)
			if err != nil {
				return nil, err
			}
			seeds = append(seeds, s...)
			p.Owners = append(p.Owners, NamespacedOwner{namespaceOf(obj.Namespace), Owner{Kind: "Deployment", Name: obj.Name}})
		case nil:
			return nil, invalidf("%s: no object", o.Where())
		default:
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			if kind == "" {
				kind = fmt.Sprintf("%T", obj)
			}
			b.warn(fmt.Sprintf("%s: kind %s is not supported by kplay and is ignored", o.Where(), kind))
		}
	}

	declaredBy := map[string]podSeed{}
	for _, s := range seeds {
		key := s.namespace + "/" + s.name
		if prev, ok := declaredBy[key]; ok {
			return nil, invalidf("pod %q is declared twice: by %s (%s) and by %s (%s)",
				key, prev.owner, prev.obj.Where(), s.owner, s.obj.Where())
		}
		declaredBy[key] = s
		pp, err := b.pod(s)
		if err != nil {
			return nil, fmt.Errorf("pod %q: %w", key, err)
		}
		p.Pods = append(p.Pods, pp)
	}
	p.Warnings = b.warnings
	return p, nil
}

// absSource is a declaring file's absolute path; "-" (stdin) stays.
func absSource(src string) string {
	if src != "-" {
		if abs, err := filepath.Abs(src); err == nil {
			return abs
		}
	}
	return src
}

// declared is an object of the files for the store, a copy with its namespace set.
func declared(o manifest.Object, obj runtime.Object) Object {
	c := obj.DeepCopyObject()
	if m, ok := c.(metav1.Object); ok && m.GetNamespace() == "" {
		m.SetNamespace(defaultNamespace)
	}
	return Object{Object: c, Source: absSource(o.Source)}
}

// secretData is a Secret's data with stringData merged over it, as the API server stores it.
func secretData(s *corev1.Secret) map[string][]byte {
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data
}

func namespaceOf(ns string) string {
	if ns == "" {
		return defaultNamespace
	}
	return ns
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// deploymentSeeds expands a Deployment into its replicas, named <name>-<i>,
// labelled with pod-template-hash as the ReplicaSet controller labels them.
func deploymentSeeds(o manifest.Object, d *appsv1.Deployment) ([]podSeed, error) {
	if d.Name == "" {
		return nil, invalidf("%s: deployment has no name", o.Where())
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if replicas < 0 {
		return nil, invalidf("deployment %q: spec.replicas must not be negative, got %d", namespaceOf(d.Namespace)+"/"+d.Name, replicas)
	}
	hash, err := templateHash(&d.Spec.Template)
	if err != nil {
		return nil, err
	}
	seeds := make([]podSeed, 0, replicas)
	for i := int32(0); i < replicas; i++ {
		labels := copyMap(d.Spec.Template.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
		seeds = append(seeds, podSeed{
			obj:         o,
			namespace:   namespaceOf(d.Namespace),
			name:        d.Name + "-" + strconv.Itoa(int(i)),
			labels:      labels,
			annotations: copyMap(d.Spec.Template.Annotations),
			owner:       Owner{Kind: "Deployment", Name: d.Name},
			spec:        *d.Spec.Template.Spec.DeepCopy(),
		})
	}
	return seeds, nil
}

// pod plans one pod. Errors name what inside the pod is wrong; Build adds the pod.
func (b *builder) pod(s podSeed) (PodPlan, error) {
	spec := s.spec
	applyPodDefaults(&spec, b.opts.NodeName)
	pp := PodPlan{
		Namespace:   s.namespace,
		Name:        s.name,
		Labels:      s.labels,
		Annotations: s.annotations,
		Owner:       s.owner,
		Source:      s.obj.Source,
		Hostname:    podHostname(&spec, s.name, b.opts.NodeName),
	}
	pp.Source = absSource(pp.Source)
	vols, err := b.volumes(&spec, s.namespace, s.obj.Dir)
	if err != nil {
		return pp, err
	}
	pp.Volumes = vols
	pp.Spec = spec

	env := &envResolver{
		objs: b.objs,
		opts: b.opts,
		pod: podFacts{
			namespace:   s.namespace,
			name:        s.name,
			labels:      s.labels,
			annotations: s.annotations,
			spec:        &pp.Spec,
		},
		warn: func(w string) {
			b.warn(fmt.Sprintf("%s %q: %s", lowerKind(s.owner.Kind), s.namespace+"/"+s.owner.Name, w))
		},
	}
	for _, group := range []struct {
		specs []corev1.Container
		init  bool
		out   *[]Container
	}{{pp.Spec.InitContainers, true, &pp.InitContainers}, {pp.Spec.Containers, false, &pp.Containers}} {
		for i := range group.specs {
			cs := &group.specs[i]
			steps, err := env.steps(cs)
			if err != nil {
				return pp, fmt.Errorf("container %q: %w", cs.Name, err)
			}
			*group.out = append(*group.out, Container{
				Name:       cs.Name,
				Init:       group.init,
				Image:      cs.Image,
				PullPolicy: cs.ImagePullPolicy,
				Spec:       *cs.DeepCopy(),
				steps:      steps,
			})
		}
	}
	pp.HostPorts = hostPorts(&pp.Spec)

	if pp.Hash, err = specHash(&pp, true); err != nil {
		return pp, err
	}
	uidHash, err := specHash(&pp, false)
	if err != nil {
		return pp, err
	}
	pp.UID = uidFor(pp.Namespace, pp.Name, uidHash)
	// Service links come first, so $(VAR) can use them and the pod's own variables win;
	// they are not in the hash: like the kubelet, kplay sets them when it creates a pod
	// and a Service added later does not make running pods outdated.
	var links []envStep
	if pp.Spec.EnableServiceLinks == nil || *pp.Spec.EnableServiceLinks {
		links = serviceEnv(b.objs.services, pp.Namespace)
	}
	for _, list := range [][]Container{pp.InitContainers, pp.Containers} {
		for i := range list {
			c := &list[i]
			if len(links) > 0 {
				c.steps = append(append([]envStep{}, links...), c.steps...)
			}
			for j := range c.steps {
				if c.steps[j].uid {
					c.steps[j].Value = pp.UID
				}
			}
			c.Env = finalEnv(c.steps)
			// Catch a subPathExpr that can never expand now, not when the pod
			// starts; the pod IP is not known yet, so any address stands in.
			if _, err := c.Resolve(b.placeholderIP(&pp.Spec)); err != nil {
				return pp, err
			}
		}
	}
	if pp.VolumeDataHash, err = volumeDataHash(pp.Volumes); err != nil {
		return pp, err
	}
	return pp, nil
}

func (b *builder) placeholderIP(spec *corev1.PodSpec) string {
	if spec.HostNetwork && b.opts.HostIP != "" {
		return b.opts.HostIP
	}
	return "192.0.2.1"
}

func lowerKind(kind string) string {
	switch kind {
	case "Deployment":
		return "deployment"
	case "Pod":
		return "pod"
	}
	return kind
}
