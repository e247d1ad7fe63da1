// Package volume creates a pod's volumes on the host: emptyDir, hostPath, configMap
// and secret volumes in the kubelet's atomic layout, and claim directories.
package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// Manager places volumes where the layout says: a pod's under its directories
// (secret tmpfs on the run root, never on disk), claims under the data root.
type Manager struct {
	Layout podstate.Layout
}

// Claims lists the claims that have data on this machine, as "namespace/name".
func (m Manager) Claims() map[string]bool {
	claims := map[string]bool{}
	root := m.Layout.ClaimsDir()
	nss, _ := os.ReadDir(root)
	for _, ns := range nss {
		names, _ := os.ReadDir(filepath.Join(root, ns.Name()))
		for _, n := range names {
			claims[ns.Name()+"/"+n.Name()] = true
		}
	}
	return claims
}

// ClaimPath is where a persistentVolumeClaim's data lives; it survives the pod.
func (m Manager) ClaimPath(namespace, name string) string {
	return m.Layout.Claim(namespace, name)
}

// EnsureClaim creates a claim's directory if it is missing and returns its path. It is
// world-writable like a provisioned local volume, so non-root containers can write.
func (m Manager) EnsureClaim(namespace, name string) (string, error) {
	if err := checkName(namespace); err != nil {
		return "", err
	}
	if err := checkName(name); err != nil {
		return "", err
	}
	path := m.ClaimPath(namespace, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return path, mkdirOpen(path)
	}
	return path, nil
}

// Prepared is a volume ready to be bound into containers.
type Prepared struct {
	Path string
	// ReadOnly is set for the volumes Kubernetes always mounts read-only, whatever
	// the volumeMount says: configMap and secret.
	ReadOnly bool
}

// Prepare creates every volume of the pod whose directories are pod and returns them
// by volume name. Calling it again for an existing pod is safe.
func (m Manager) Prepare(pod podstate.PodDirs, volumes []plan.Volume) (map[string]Prepared, error) {
	vols := make(map[string]Prepared, len(volumes))
	for _, v := range volumes {
		path, err := m.prepare(pod, v)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		vols[v.Name] = Prepared{Path: path, ReadOnly: v.ConfigMap != nil || v.Secret != nil}
	}
	return vols, nil
}

// Update rewrites the configMap and secret volumes whose content changed, with the
// atomic ..data swap, so running containers see old or new files, never a mix.
func (m Manager) Update(pod podstate.PodDirs, volumes []plan.Volume) error {
	for _, v := range volumes {
		if v.ConfigMap == nil && v.Secret == nil {
			continue
		}
		if _, err := m.prepare(pod, v); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	}
	return nil
}

func (m Manager) prepare(pod podstate.PodDirs, v plan.Volume) (string, error) {
	switch {
	case v.EmptyDir != nil:
		path := pod.Volume(v.Name)
		if err := mkdirOpen(path); err != nil {
			return "", err
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			opts := "mode=0777"
			if v.EmptyDir.SizeLimit != nil && !v.EmptyDir.SizeLimit.IsZero() {
				opts += ",size=" + strconv.FormatInt(v.EmptyDir.SizeLimit.Value(), 10)
			}
			if err := mountTmpfs(path, opts); err != nil {
				return "", err
			}
		}
		return path, nil
	case v.ConfigMap != nil:
		path := pod.Volume(v.Name)
		if err := mkdirVolume(path, 0o755); err != nil {
			return "", err
		}
		return path, writeAtomic(path, v.ConfigMap.Files)
	case v.Secret != nil:
		path := pod.SecretVolume(v.Name)
		if err := mkdirVolume(path, 0o755); err != nil {
			return "", err
		}
		if err := mountSized(path, "mode=0755", secretTmpfsSize(v.Secret.Files)); err != nil {
			return "", err
		}
		return path, writeAtomic(path, v.Secret.Files)
	case v.HostPath != nil:
		return v.HostPath.Path, hostPath(v.HostPath.Path, v.HostPath.Type)
	case v.Claim != nil:
		return m.EnsureClaim(v.Claim.Namespace, v.Claim.ClaimName)
	}
	return "", fmt.Errorf("no volume source: %w", errdefs.ErrInvalidArgument)
}

// PodShm mounts the pod's /dev/shm, a tmpfs every container of the pod binds, of
// the 64 MiB a container's own /dev/shm has by default.
func (m Manager) PodShm(pod podstate.PodDirs) (string, error) {
	if err := checkName(pod.Key); err != nil {
		return "", err
	}
	path := pod.Shm()
	if err := mkdirVolume(path, 0o1777|os.ModeSticky); err != nil {
		return "", err
	}
	return path, mountTmpfs(path, "mode=1777,size=67108864")
}

// secretTmpfsSize caps a secret volume's tmpfs so a container cannot fill the
// machine's memory through it: room for the data twice (an update writes the new
// files before it removes the old ones) plus 1 MiB for directories and links, in
// whole MiB. The API server caps a Secret at 1 MiB, so the cap stays a few MiB.
func secretTmpfsSize(files []plan.File) int64 {
	const mib = 1 << 20
	var n int64
	for _, f := range files {
		n += int64(len(f.Data))
	}
	return (2*n+mib-1)/mib*mib + mib
}

// mkdirOpen creates a volume directory that every user inside the pod may write
// (emptyDir, claims): 0777 whatever the umask, under private parents.
func mkdirOpen(dir string) error { return mkdirVolume(dir, 0o777) }

// mkdirVolume creates a volume's own directory with exactly mode, its parents private.
func mkdirVolume(dir string, mode os.FileMode) error {
	if err := mkdirPrivate(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chmod(dir, mode)
}

func hostPath(path string, typ corev1.HostPathType) error {
	switch typ {
	case corev1.HostPathDirectoryOrCreate:
		if err := os.MkdirAll(path, 0o755); err != nil {
			return err
		}
		typ = corev1.HostPathDirectory // what is there must be a directory
	case corev1.HostPathFileOrCreate:
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		// Only a missing file is created, without following a symlink planted there
		// and without opening what is there: a FIFO would block, a device would open.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
		if err == nil {
			return f.Close()
		}
		if !errors.Is(err, os.ErrExist) {
			return err
		}
		typ = corev1.HostPathFile // what is there must be a file
	case corev1.HostPathUnset:
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %w", err)
	}
	var ok bool
	switch mode := st.Mode(); typ {
	case corev1.HostPathDirectory:
		ok = mode.IsDir()
	case corev1.HostPathFile:
		ok = mode.IsRegular()
	case corev1.HostPathSocket:
		ok = mode&os.ModeSocket != 0
	case corev1.HostPathCharDev:
		ok = mode&os.ModeCharDevice != 0
	case corev1.HostPathBlockDev:
		ok = mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0
	default:
		return fmt.Errorf("unknown hostPath type %q: %w", typ, errdefs.ErrInvalidArgument)
	}
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", path, typ)
	}
	return nil
}
