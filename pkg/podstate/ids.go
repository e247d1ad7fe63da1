package podstate

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/containerd/containerd/v2/pkg/identifiers"
)

// PodID is the containerd ID of a pod's infra container and the prefix of its other
// containers' IDs. Kubernetes names are DNS labels and subdomains, which contain no '_',
// so "<namespace>_<name>" is unique. A name that is no valid containerd identifier
// ("--" or "..") or too long falls back to a hash: labels, not IDs, identify pods.
func PodID(namespace, name string) string {
	id := namespace + "_" + name
	if identifiers.Validate(id) == nil && len(id) <= maxPodID {
		return id
	}
	return HashID(namespace + "/" + name)
}

// maxPodID leaves room in containerd's 76 characters for "_<container name>" of
// usual length; longer combinations fall back to a hash in ContainerID.
const maxPodID = 48

// HashID is a valid containerd identifier (and file name) of 33 characters derived from s.
func HashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:])[:32]
}

// ContainerID is the containerd ID of one container of a pod.
func ContainerID(pod, container string) string {
	id := pod + "_" + container
	if identifiers.Validate(id) == nil {
		return id
	}
	return HashID(id)
}

// NetID is the pod's CNI container ID. CNI IDs are global to the host (they name
// iptables chains), so the containerd namespace is part of it: two namespaces may hold
// pods of the same name.
func NetID(namespace, podID string) string { return namespace + "_" + podID }

// PodKey names a pod's directories under the roots. The containerd namespace is part
// of it: the same pod may run in two namespaces that share the roots.
func PodKey(namespace, uid string) string { return namespace + "_" + uid }

// OwnerKey is an owner in one namespace, "namespace/Kind/name", as down selects pods
// and locks owners. owner is the label's "Kind/name".
func OwnerKey(namespace, owner string) string { return namespace + "/" + owner }
