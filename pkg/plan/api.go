package plan

import (
	corev1 "k8s.io/api/core/v1"
)

// Options are the facts about the node that a plan needs. The CLI gathers them;
// Build itself does no I/O beyond reading hostPath metadata.
type Options struct {
	NodeName string // spec.nodeName and the hostname of hostNetwork pods
	HostIP   string // status.hostIP
	// NodeCPUMillis and NodeMemoryBytes are the node's allocatable resources,
	// used by resourceFieldRef when a container sets no limit.
	NodeCPUMillis   int64
	NodeMemoryBytes int64
	// NodeEphemeralStorageBytes stands in for a missing ephemeral-storage limit.
	NodeEphemeralStorageBytes int64
	// ExistingClaims are the PersistentVolumeClaims that already exist on the
	// machine, as "namespace/name". A claim a pod uses must be here or in the files.
	ExistingClaims map[string]bool
	// StoredConfigMaps and StoredSecrets are the objects earlier `up`s applied (kplay's
	// store). A pod may refer to them; an object of the same namespace and name in the
	// files wins.
	StoredConfigMaps []corev1.ConfigMap
	StoredSecrets    []corev1.Secret
	// Services are the Services that exist for the pods' service links (environment
	// variables), with their cluster IPs allocated: the stored ones and the files'. A
	// Service in the files that is not here is stored but gives no variables.
	Services []corev1.Service
}

// Resolved is a container's final environment and command line, after $(VAR)
// expansion with the pod's IP known.
type Resolved struct {
	Env     []string // "NAME=value" in kubelet order, one entry per name
	Command []string
	Args    []string
	// Mounts are the container's volumeMounts with subPathExpr expanded into subPath.
	Mounts []corev1.VolumeMount
}
