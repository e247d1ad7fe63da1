package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// volumes decides every volume of spec. It rewrites a hostPath in spec to the
// absolute path that will be mounted, so the dry run and the hash show it.
func (b *builder) volumes(spec *corev1.PodSpec, ns, dir string) ([]Volume, error) {
	out := make([]Volume, 0, len(spec.Volumes))
	for i := range spec.Volumes {
		v, err := b.volume(&spec.Volumes[i], ns, dir)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", spec.Volumes[i].Name, err)
		}
		if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
			v.EmptyDir.SizeLimit = memoryVolumeSize(spec, v.EmptyDir.SizeLimit)
		}
		out = append(out, v)
	}
	return out, nil
}

// memoryVolumeSize sizes a memory-backed emptyDir as the kubelet does: its
// sizeLimit, but never more than the pod's memory limit when every container has one
// (a tmpfs mounted without a size would take half the machine's memory).
func memoryVolumeSize(spec *corev1.PodSpec, sizeLimit *resource.Quantity) *resource.Quantity {
	var pod resource.Quantity
	for _, c := range spec.Containers {
		l, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || l.IsZero() {
			return sizeLimit
		}
		pod.Add(l)
	}
	// Init containers run one at a time, before the app containers.
	for _, c := range spec.InitContainers {
		if l, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && l.Cmp(pod) > 0 {
			pod = l.DeepCopy()
		}
	}
	if len(spec.Containers) == 0 || (sizeLimit != nil && !sizeLimit.IsZero() && sizeLimit.Cmp(pod) <= 0) {
		return sizeLimit
	}
	return &pod
}

func (b *builder) volume(v *corev1.Volume, ns, dir string) (Volume, error) {
	out := Volume{Name: v.Name}
	s := &v.VolumeSource
	switch {
	case s.HostPath != nil:
		hp, err := hostPath(s.HostPath, dir)
		if err != nil {
			return out, err
		}
		s.HostPath.Path = hp.Path
		out.HostPath = hp
	case s.EmptyDir != nil:
		out.EmptyDir = s.EmptyDir.DeepCopy()
	case s.ConfigMap != nil:
		src := s.ConfigMap
		cm := b.objs.configMap(ns, src.Name)
		if cm == nil && !isTrue(src.Optional) {
			return out, notFound("configmap", src.Name)
		}
		var data map[string][]byte
		if cm != nil {
			data = make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
			for k, v := range cm.Data {
				data[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				data[k] = v
			}
		}
		files, err := projectFiles("configmap", src.Name, data, src.Items, src.DefaultMode, isTrue(src.Optional))
		if err != nil {
			return out, err
		}
		out.ConfigMap = &FilesVolume{Source: src.Name, Files: files}
	case s.Secret != nil:
		src := s.Secret
		data := b.objs.secret(ns, src.SecretName)
		if data == nil && !isTrue(src.Optional) {
			return out, notFound("secret", src.SecretName)
		}
		files, err := projectFiles("secret", src.SecretName, data, src.Items, src.DefaultMode, isTrue(src.Optional))
		if err != nil {
			return out, err
		}
		out.Secret = &FilesVolume{Source: src.SecretName, Files: files}
	case s.PersistentVolumeClaim != nil:
		c := s.PersistentVolumeClaim
		key := ns + "/" + c.ClaimName
		if !b.objs.claims[key] && !b.opts.ExistingClaims[key] {
			return out, invalidf("persistentVolumeClaim %q is neither declared in the files nor present on this machine", c.ClaimName)
		}
		out.Claim = &ClaimVolume{Namespace: ns, ClaimName: c.ClaimName, ReadOnly: c.ReadOnly}
	default:
		return out, invalidf("this volume type is not supported by kplay: use hostPath, emptyDir, configMap, secret or persistentVolumeClaim")
	}
	return out, nil
}

// hostPath makes the path absolute (a relative path is relative to the declaring
// file's directory, a kplay extension) and checks its type the way the kubelet
// does before mounting. Types ending in OrCreate are fine when missing: the
// runtime creates them.
func hostPath(src *corev1.HostPathVolumeSource, dir string) (*HostPathVolume, error) {
	p := src.Path
	if p == "" {
		return nil, invalidf("hostPath: path is required")
	}
	if hasDotDot(filepath.ToSlash(p)) {
		return nil, invalidf("hostPath %q must not contain '..'", p)
	}
	if !filepath.IsAbs(p) {
		if dir == "" {
			return nil, invalidf("hostPath %q is relative and its file has no directory to resolve it against", p)
		}
		p = filepath.Join(dir, p)
	}
	p = filepath.Clean(p)
	t := corev1.HostPathUnset
	if src.Type != nil {
		t = *src.Type
	}
	if err := checkHostPathType(p, t); err != nil {
		return nil, err
	}
	return &HostPathVolume{Path: p, Type: t}, nil
}

func checkHostPathType(p string, t corev1.HostPathType) error {
	var want fs.FileMode
	var what string
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory:
		want, what = fs.ModeDir, "a directory"
	case corev1.HostPathFileOrCreate, corev1.HostPathFile:
		want, what = 0, "a file"
	case corev1.HostPathSocket:
		want, what = fs.ModeSocket, "a socket file"
	case corev1.HostPathCharDev:
		want, what = fs.ModeDevice|fs.ModeCharDevice, "a character device"
	case corev1.HostPathBlockDev:
		want, what = fs.ModeDevice, "a block device"
	default:
		return invalidf("hostPath %s: type %q is not a hostPath type", p, t)
	}
	// Stat follows symlinks, as the kubelet's check does.
	info, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && (t == corev1.HostPathDirectoryOrCreate || t == corev1.HostPathFileOrCreate) {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return invalidf("hostPath type check failed: %s is not %s: it does not exist", p, what)
		}
		return invalidf("hostPath type check failed: %s: %v", p, err)
	}
	if info.Mode().Type() != want {
		return invalidf("hostPath type check failed: %s is not %s", p, what)
	}
	return nil
}

// projectFiles lays out a configMap or secret volume as the kubelet does: every
// key as a file, or only the listed items at their paths. A missing optional
// object gives an empty volume; a missing item key is an error unless optional.
func projectFiles(kind, name string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool) ([]File, error) {
	mode := corev1.ConfigMapVolumeSourceDefaultMode
	if defaultMode != nil {
		mode = *defaultMode
	}
	var files []File
	if len(items) == 0 {
		for k, v := range data {
			files = append(files, File{Path: k, Data: v, Mode: mode})
		}
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, invalidf("key %q not found in %s %q", it.Key, kind, name)
		}
		if it.Path == "" || path.IsAbs(it.Path) || hasDotDot(it.Path) {
			return nil, invalidf("item %q: path %q must be relative and must not contain '..'", it.Key, it.Path)
		}
		f := File{Path: it.Path, Data: v, Mode: mode}
		if it.Mode != nil {
			f.Mode = *it.Mode
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}
