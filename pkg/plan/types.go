// Package plan turns validated objects into fully resolved pods: Deployments expanded,
// ConfigMap and Secret references looked up, env ordered as the kubelet orders it,
// volumes decided and a spec hash computed. It does no I/O beyond reading hostPath metadata.
package plan

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/hostport"
)

// Plan is everything one `up` will create.
type Plan struct {
	Pods []PodPlan
	// Claims are the PersistentVolumeClaims the files declare, as "namespace/name".
	Claims []string
	// Objects are the ConfigMaps, Secrets and PersistentVolumeClaims the files declare,
	// in file order: `up` keeps them in kplay's store for later commands.
	Objects []Object
	// Owners are the objects that declare pods, each once, also a Deployment scaled to
	// zero: `up --replace` removes the pods such an object no longer declares.
	Owners []NamespacedOwner
	// Warnings are things the user should know that do not stop the run
	// (ignored kinds, ignored fields). One line each, no trailing newline.
	Warnings []string
}

// NamespacedOwner is an owner in its namespace.
type NamespacedOwner struct {
	Namespace string
	Owner     Owner
}

// Object is one object the files declare and the file that declares it.
type Object struct {
	Object runtime.Object // *corev1.ConfigMap, *corev1.Secret or *corev1.PersistentVolumeClaim, namespace set
	Source string         // absolute path of the declaring file, "-" for stdin
}

// Owner is the object that declared a pod.
type Owner struct {
	Kind string // "Pod" or "Deployment"
	Name string
}

func (o Owner) String() string { return o.Kind + "/" + o.Name }

// PodPlan is one pod as it will run.
type PodPlan struct {
	Namespace   string
	Name        string
	UID         string // deterministic: same namespace, name and hash give the same UID
	Labels      map[string]string
	Annotations map[string]string
	Owner       Owner
	Source      string // absolute path of the declaring file, "-" for stdin
	Hash        string // spec hash over everything that decides what runs
	// VolumeDataHash covers the files of configMap and secret volumes, which
	// Hash leaves out: when only it changes, the files can be updated in place.
	VolumeDataHash string
	Hostname       string // spec.hostname, or the pod name truncated to 63 characters; the node name with hostNetwork

	// Spec is the pod spec with Kubernetes defaults applied (restartPolicy,
	// terminationGracePeriodSeconds, dnsPolicy, imagePullPolicy, protocols...).
	// Containers in it are as written; use InitContainers/Containers for the resolved view.
	Spec corev1.PodSpec

	InitContainers []Container
	Containers     []Container
	Volumes        []Volume
	// HostPorts are the ports published on the host. For a hostNetwork pod
	// they are every containerPort (hostPort equals containerPort there): they
	// claim the host's ports for conflict checks but need no port mapping.
	HostPorts []HostPort
}

// Container is one container with its environment resolved.
type Container struct {
	Name       string
	Init       bool
	Image      string
	PullPolicy corev1.PullPolicy
	// Spec is the container as written (after defaults): ports, mounts,
	// securityContext, resources, workingDir, command and args before expansion.
	Spec corev1.Container
	// Env is the final environment in kubelet order (envFrom first, then env,
	// later entries overriding earlier ones of the same name), not yet $(VAR)-expanded.
	// It has one entry per name, at the position the name was first assigned,
	// with the value of its last assignment. Use Resolve for the expanded values.
	Env []EnvVar

	// steps are the kubelet's assignments in order, which Resolve replays: a
	// literal sees only the variables assigned before it.
	steps []envStep
}

// EnvSource says where an environment value comes from, which decides whether it
// is $(VAR)-expanded and whether it may be printed.
type EnvSource int

const (
	// EnvLiteral is a `value:` from the manifest; it is $(VAR)-expanded.
	EnvLiteral EnvSource = iota
	// EnvResolved came from a ConfigMap, fieldRef or resourceFieldRef; never expanded.
	EnvResolved
	// EnvSecret came from a Secret; never expanded and never printed.
	EnvSecret
	// EnvPodIP is status.podIP (or status.podIPs), known only once the pod has its IP.
	EnvPodIP
)

// EnvVar is one entry of a container's final environment.
type EnvVar struct {
	Name   string
	Value  string // empty for EnvPodIP
	Source EnvSource
	// Ref is how the value is shown in a dry run when it is not printed as a value
	// (secretKeyRef for EnvSecret, fieldRef for EnvPodIP).
	Ref *corev1.EnvVarSource
}

// Volume is one pod volume, decided.
type Volume struct {
	Name string
	// Exactly one of the following is set.
	HostPath  *HostPathVolume
	EmptyDir  *corev1.EmptyDirVolumeSource
	ConfigMap *FilesVolume
	Secret    *FilesVolume
	Claim     *ClaimVolume
}

// HostPathVolume is a hostPath with its path made absolute.
type HostPathVolume struct {
	Path string
	Type corev1.HostPathType
}

// FilesVolume is the content of a configMap or secret volume.
type FilesVolume struct {
	Source string // ConfigMap or Secret name
	Files  []File
}

// File is one file of a configMap or secret volume.
type File struct {
	Path string // relative to the volume root, may contain directories
	Data []byte
	Mode int32 // permission bits, e.g. 0644
}

// ClaimVolume is a persistentVolumeClaim volume.
type ClaimVolume struct {
	Namespace string
	ClaimName string
	ReadOnly  bool
}

// HostPort is one port a pod takes on the host; hostport holds the rule for
// when two of them clash.
type HostPort = hostport.Port
