package podstate

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Layout is where kplay keeps its files: RunRoot (--run-root, tmpfs: what must not
// outlive a boot or touch disk) and DataRoot (--data-root: what must survive). Both
// may be shared by kplays working in several containerd namespaces; Namespace is this
// one's. Everything here is a cache that can be rebuilt from labels and the store,
// but for claim data and the store itself.
//
//	<run-root>/pods/<pod key>/{hosts,hostname,resolv.conf}  generated /etc files
//	<run-root>/pods/<pod key>/ns/{ipc,uts,pid}               pinned namespaces
//	<run-root>/pods/<pod key>/shm                            the pod's /dev/shm
//	<run-root>/pods/<pod key>/volumes/<name>                 secret volumes (tmpfs)
//	<run-root>/pods/<pod key>/volume-subpaths/<c>/<i>        subPath bind mounts
//	<run-root>/netns/<net id>                                pinned network namespaces
//	<run-root>/network/{ipam,cache,cni.lock}                 CNI state
//	<run-root>/locks/<name>.lock                             kplay's file locks
//	<data-root>/pods/<pod key>/logs/<container>.log          container logs
//	<data-root>/pods/<pod key>/starts/<container>            start times (package hook)
//	<data-root>/pods/<pod key>/volumes/<name>                emptyDir, configMap volumes
//	<data-root>/claims/<namespace>/<name>                    PersistentVolumeClaim data
//	<data-root>/bin/                                         kplay-helper (older kplays: copies of kplay)
//	<data-root>/pause/rootfs                                 the offline pause rootfs
//	<data-root>/seccomp/                                     Localhost seccomp profiles
//	<data-root>/store/kplay.db                               kplay's store
type Layout struct {
	RunRoot, DataRoot string
	Namespace         string // containerd namespace
}

// Pod is where the pod with metadata.uid uid keeps its files.
func (l Layout) Pod(uid string) PodDirs { return l.PodByKey(PodKey(l.Namespace, uid)) }

// PodByKey is where the pod with directory key key keeps its files.
func (l Layout) PodByKey(key string) PodDirs {
	return PodDirs{Key: key, Run: filepath.Join(l.RunRoot, "pods", key), Data: filepath.Join(l.DataRoot, "pods", key)}
}

// PodKeys lists the keys of every pod directory under both roots, of every
// containerd namespace.
func (l Layout) PodKeys() []string {
	var keys []string
	seen := map[string]bool{}
	for _, root := range []string{filepath.Join(l.RunRoot, "pods"), filepath.Join(l.DataRoot, "pods")} {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				keys = append(keys, e.Name())
			}
		}
	}
	return keys
}

// Lock is the file of the lock called name.
func (l Layout) Lock(name string) string { return filepath.Join(l.LockDir(), name+".lock") }

// PodLock names the lock of a pod of this layout's containerd namespace.
func (l Layout) PodLock(podID string) string { return "pod-" + l.Namespace + "_" + podID }

// PodOfLockFile is the pod whose lock file (a name in LockDir) this is, when it is
// one of this namespace's.
func (l Layout) PodOfLockFile(file string) (podID string, ok bool) {
	id, ok := strings.CutPrefix(file, l.PodLock(""))
	if !ok {
		return "", false
	}
	return strings.CutSuffix(id, ".lock")
}

// LockDir holds every lock file.
func (l Layout) LockDir() string { return filepath.Join(l.RunRoot, "locks") }

// NetworkDirs are the network's files.
type NetworkDirs struct {
	NetNS string // pinned network namespaces, one file per pod
	Root  string // everything below
	IPAM  string // host-local's reservations
	Cache string // libcni's cache of ADD results, read back on DEL
	Lock  string // serialises CNI calls
}

// Network is where the network keeps its files.
func (l Layout) Network() NetworkDirs {
	root := filepath.Join(l.RunRoot, "network")
	return NetworkDirs{
		NetNS: filepath.Join(l.RunRoot, "netns"),
		Root:  root,
		IPAM:  filepath.Join(root, "ipam"),
		Cache: filepath.Join(root, "cache"),
		Lock:  filepath.Join(root, "cni.lock"),
	}
}

// BinDir holds the programs pods' shims run: kplay-helper, and the copies of the
// whole kplay binary that pods of older kplays run.
func (l Layout) BinDir() string { return filepath.Join(l.DataRoot, "bin") }

// PauseRootfs is the read-only rootfs of the offline pause container.
func (l Layout) PauseRootfs() string { return filepath.Join(l.DataRoot, "pause", "rootfs") }

// SeccompDir holds the Localhost seccomp profiles, as the kubelet's seccomp root.
func (l Layout) SeccompDir() string { return filepath.Join(l.DataRoot, "seccomp") }

// StoreDir holds kplay's store.
func (l Layout) StoreDir() string { return filepath.Join(l.DataRoot, "store") }

// StorePath is kplay's store file.
func (l Layout) StorePath() string { return filepath.Join(l.StoreDir(), "kplay.db") }

// ClaimsDir holds the data of every claim, by namespace and name.
func (l Layout) ClaimsDir() string { return filepath.Join(l.DataRoot, "claims") }

// Claim is where a PersistentVolumeClaim's data lives; it survives the pod.
func (l Layout) Claim(namespace, name string) string {
	return filepath.Join(l.ClaimsDir(), namespace, name)
}

// PodDirs are one pod's two directories and what lives in them.
type PodDirs struct {
	Key  string // the pod's directory key (PodKey)
	Run  string // under the run root
	Data string // under the data root
}

// Etc is one of the pod's generated files: "hosts", "hostname" or "resolv.conf".
func (d PodDirs) Etc(name string) string { return filepath.Join(d.Run, name) }

// Namespaces holds the pod's pinned IPC, UTS and PID namespaces.
func (d PodDirs) Namespaces() string { return filepath.Join(d.Run, "ns") }

// Namespace is the pin of the namespace kind ("ipc", "uts", "pid").
func (d PodDirs) Namespace(kind string) string { return filepath.Join(d.Namespaces(), kind) }

// Shm is the pod's /dev/shm.
func (d PodDirs) Shm() string { return filepath.Join(d.Run, "shm") }

// Log is a container's log file.
func (d PodDirs) Log(container string) string {
	return filepath.Join(d.Data, "logs", container+".log")
}

// Starts counts a container's starts (see package hook).
func (d PodDirs) Starts(container string) string { return filepath.Join(d.Data, "starts", container) }

// Volume is an emptyDir or configMap volume.
func (d PodDirs) Volume(name string) string { return filepath.Join(d.Data, "volumes", name) }

// SecretVolume is a secret volume: on the run root, never on disk.
func (d PodDirs) SecretVolume(name string) string { return filepath.Join(d.Run, "volumes", name) }

// SubPath is the mount point of a container's volumeMount number index with a subPath.
func (d PodDirs) SubPath(container string, index int) string {
	return filepath.Join(d.Run, "volume-subpaths", container, strconv.Itoa(index))
}
