package plan

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func podWithVolume(v corev1.VolumeSource) *corev1.Pod {
	p := podObj("web", corev1.Container{Name: "c", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}})
	p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: v}}
	return p
}

func TestConfigMapAndSecretVolumes(t *testing.T) {
	cm := configMapObj("cfg", map[string]string{"a.conf": "A", "b.conf": "B"})
	cm.BinaryData = map[string][]byte{"blob": {0, 1, 2}}
	sec := secretObj("sec", map[string]string{"tls.key": "KEY", "tls.crt": "CRT"})
	sec.StringData = map[string]string{"extra": "E"}
	item := func(key, path string, mode *int32) corev1.KeyToPath {
		return corev1.KeyToPath{Key: key, Path: path, Mode: mode}
	}
	tests := []struct {
		name    string
		src     corev1.VolumeSource
		want    []File
		secret  bool
		wantErr string
	}{
		{
			name: "configMap: every key with the default mode, binaryData included",
			src:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			want: []File{{"a.conf", []byte("A"), 0o644}, {"b.conf", []byte("B"), 0o644}, {"blob", []byte{0, 1, 2}, 0o644}},
		},
		{
			name: "configMap: items, paths, per-item and default modes",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				DefaultMode:          ptr(int32(0o440)),
				Items:                []corev1.KeyToPath{item("b.conf", "conf/b", ptr(int32(0o400))), item("a.conf", "a", nil)},
			}},
			want: []File{{"a", []byte("A"), 0o440}, {"conf/b", []byte("B"), 0o400}},
		},
		{
			name: "configMap: optional and missing is empty",
			src:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
			want: nil,
		},
		{
			name: "configMap: optional item missing is skipped",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Optional: ptr(true),
				Items: []corev1.KeyToPath{item("nokey", "x", nil), item("a.conf", "a", nil)},
			}},
			want: []File{{"a", []byte("A"), 0o644}},
		},
		{
			name:    "configMap: missing",
			src:     corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}},
			wantErr: `pod "default/web": volume "v": configmap "nope" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name: "configMap: missing item key",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				Items:                []corev1.KeyToPath{item("nokey", "x", nil)},
			}},
			wantErr: `pod "default/web": volume "v": key "nokey" not found in configmap "cfg"`,
		},
		{
			name: "configMap: item path escaping the volume",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				Items:                []corev1.KeyToPath{item("a.conf", "../a", nil)},
			}},
			wantErr: `pod "default/web": volume "v": item "a.conf": path "../a" must be relative and must not contain '..'`,
		},
		{
			name:   "secret: data and stringData",
			src:    corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: ptr(int32(0o400))}},
			secret: true,
			want:   []File{{"extra", []byte("E"), 0o400}, {"tls.crt", []byte("CRT"), 0o400}, {"tls.key", []byte("KEY"), 0o400}},
		},
		{
			name:    "secret: missing",
			src:     corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope"}},
			wantErr: `pod "default/web": volume "v": secret "nope" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name: "secret: missing item key",
			src: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec",
				Items: []corev1.KeyToPath{item("nokey", "x", nil)}}},
			wantErr: `pod "default/web": volume "v": key "nokey" not found in secret "sec"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(objects(cm, sec, podWithVolume(tt.src)), testOpts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := p.Pods[0].Volumes[0]
			fv := v.ConfigMap
			if tt.secret {
				fv = v.Secret
			}
			if fv == nil {
				t.Fatalf("volume = %+v", v)
			}
			if !slices.EqualFunc(fv.Files, tt.want, func(a, b File) bool {
				return a.Path == b.Path && string(a.Data) == string(b.Data) && a.Mode == b.Mode
			}) {
				t.Errorf("files\n got %+v\nwant %+v", fv.Files, tt.want)
			}
		})
	}
}

func TestDefaultModeShowsInSpec(t *testing.T) {
	p := mustBuild(t, configMapObj("cfg", nil), podWithVolume(corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}))
	if m := p.Pods[0].Spec.Volumes[0].ConfigMap.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("defaultMode = %v, want 0644 (420)", m)
	}
}

func TestEmptyDirAndClaims(t *testing.T) {
	ed := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr(mustQuantity("64Mi"))}}
	p := mustBuild(t, podWithVolume(ed))
	if got := p.Pods[0].Volumes[0].EmptyDir; got == nil || got.Medium != corev1.StorageMediumMemory || got.SizeLimit.String() != "64Mi" {
		t.Errorf("emptyDir = %+v", got)
	}

	pvc := corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data", ReadOnly: true}}
	p = mustBuild(t, claimObj("data"), podWithVolume(pvc))
	if got := p.Pods[0].Volumes[0].Claim; got == nil || *got != (ClaimVolume{Namespace: "default", ClaimName: "data", ReadOnly: true}) {
		t.Errorf("claim = %+v", got)
	}
	if !slices.Equal(p.Claims, []string{"default/data"}) {
		t.Errorf("claims = %q", p.Claims)
	}

	opts := testOpts
	opts.ExistingClaims = map[string]bool{"default/data": true}
	if _, err := Build(objects(podWithVolume(pvc)), opts); err != nil {
		t.Errorf("an existing claim: %v", err)
	}

	other := claimObj("data")
	other.Namespace = "elsewhere"
	_, err := Build(objects(other, podWithVolume(pvc)), testOpts)
	want := `pod "default/web": volume "v": persistentVolumeClaim "data" is neither declared in the files nor present on this machine`
	if err == nil || err.Error() != want || !errdefs.IsInvalidArgument(err) {
		t.Errorf("missing claim: error = %v, want %q", err, want)
	}
}

func TestHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name     string
		path     string
		typ      *corev1.HostPathType
		wantPath string
		wantErr  string
	}{
		{"relative resolves against the file's directory", "data/www", nil, filepath.Join(dir, "data/www"), ""},
		{"dot", ".", nil, dir, ""},
		{"absolute", "/var/log", nil, "/var/log", ""},
		{"backstep", "../etc", nil, "", `pod "default/web": volume "v": hostPath "../etc" must not contain '..'`},
		{"backstep inside", "/srv/../etc", nil, "", `pod "default/web": volume "v": hostPath "/srv/../etc" must not contain '..'`},
		{"Directory", dir, ptr(corev1.HostPathDirectory), dir, ""},
		{"Directory missing", missing, ptr(corev1.HostPathDirectory), "",
			`pod "default/web": volume "v": hostPath type check failed: ` + missing + ` is not a directory: it does not exist`},
		{"Directory is a file", file, ptr(corev1.HostPathDirectory), "",
			`pod "default/web": volume "v": hostPath type check failed: ` + file + ` is not a directory`},
		{"DirectoryOrCreate missing", missing, ptr(corev1.HostPathDirectoryOrCreate), missing, ""},
		{"DirectoryOrCreate on a file", file, ptr(corev1.HostPathDirectoryOrCreate), "",
			`pod "default/web": volume "v": hostPath type check failed: ` + file + ` is not a directory`},
		{"File", file, ptr(corev1.HostPathFile), file, ""},
		{"File is a directory", dir, ptr(corev1.HostPathFile), "",
			`pod "default/web": volume "v": hostPath type check failed: ` + dir + ` is not a file`},
		{"FileOrCreate missing", missing, ptr(corev1.HostPathFileOrCreate), missing, ""},
		{"FileOrCreate on a directory", dir, ptr(corev1.HostPathFileOrCreate), "",
			`pod "default/web": volume "v": hostPath type check failed: ` + dir + ` is not a file`},
		{"Socket", sock, ptr(corev1.HostPathSocket), sock, ""},
		{"Socket is a file", file, ptr(corev1.HostPathSocket), "",
			`pod "default/web": volume "v": hostPath type check failed: ` + file + ` is not a socket file`},
		{"CharDevice", "/dev/null", ptr(corev1.HostPathCharDev), "/dev/null", ""},
		{"BlockDevice is a char device", "/dev/null", ptr(corev1.HostPathBlockDev), "",
			`pod "default/web": volume "v": hostPath type check failed: /dev/null is not a block device`},
		{"unknown type", dir, ptr(corev1.HostPathType("Dir")), "",
			`pod "default/web": volume "v": hostPath ` + dir + `: type "Dir" is not a hostPath type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := podWithVolume(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: tt.path, Type: tt.typ}})
			p, err := Build([]manifest.Object{{Source: filepath.Join(dir, "app.yaml"), Dir: dir, Doc: 1, Object: pod}}, testOpts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := p.Pods[0].Volumes[0].HostPath
			if got == nil || got.Path != tt.wantPath {
				t.Fatalf("hostPath = %+v, want path %q", got, tt.wantPath)
			}
			if spec := p.Pods[0].Spec.Volumes[0].HostPath; spec.Path != tt.wantPath || spec.Type == nil {
				t.Errorf("spec hostPath = %+v: want the absolute path and a defaulted type", spec)
			}
		})
	}
}

func TestUnsupportedVolume(t *testing.T) {
	_, err := Build(objects(podWithVolume(corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}})), testOpts)
	want := `pod "default/web": volume "v": this volume type is not supported by kplay: use hostPath, emptyDir, configMap, secret or persistentVolumeClaim`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// Conflicts between host ports are validation's job (pkg/manifest); the plan lists
// what each pod publishes, for the runtime's checks and port mappings.
func TestHostPorts(t *testing.T) {
	hostNet := podObj("hn", corev1.Container{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 9090}}})
	hostNet.Spec.HostNetwork = true
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []HostPort
	}{
		{"hostPort", podObj("a", corev1.Container{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{
			{ContainerPort: 80, HostPort: 8080, HostIP: "127.0.0.1"}, {ContainerPort: 53, HostPort: 5353, Protocol: corev1.ProtocolUDP}}}),
			[]HostPort{{Container: "c", HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: corev1.ProtocolTCP},
				{Container: "c", HostPort: 5353, ContainerPort: 53, Protocol: corev1.ProtocolUDP}}},
		{"containerPort alone publishes nothing", podObj("b", corev1.Container{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}), nil},
		{"hostNetwork claims its container ports", hostNet,
			[]HostPort{{Container: "c", HostPort: 9090, ContainerPort: 9090, Protocol: corev1.ProtocolTCP}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(objects(tt.pod), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Pods[0].HostPorts; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("HostPorts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A memory-backed emptyDir is no larger than the pod's memory limit, as the kubelet
// sizes it; without a limit on every container its sizeLimit stands.
func TestMemoryEmptyDirIsSizedByThePodsLimit(t *testing.T) {
	mem := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}}
	}
	for _, tt := range []struct {
		name      string
		limits    []string // per container, "" for none
		sizeLimit string
		want      string // "" for no size
	}{
		{"no limits", []string{"", ""}, "", ""},
		{"no limits, sizeLimit", []string{""}, "1Gi", "1Gi"},
		{"limits sum", []string{"64Mi", "32Mi"}, "", "96Mi"},
		{"sizeLimit below the limit", []string{"64Mi"}, "16Mi", "16Mi"},
		{"sizeLimit above the limit", []string{"64Mi"}, "1Gi", "64Mi"},
		{"one container without", []string{"64Mi", ""}, "", ""},
	} {
		spec := corev1.PodSpec{Volumes: []corev1.Volume{{Name: "m", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}}
		if tt.sizeLimit != "" {
			q := resource.MustParse(tt.sizeLimit)
			spec.Volumes[0].EmptyDir.SizeLimit = &q
		}
		for i, l := range tt.limits {
			c := corev1.Container{Name: fmt.Sprintf("c%d", i)}
			if l != "" {
				c.Resources = mem(l)
			}
			spec.Containers = append(spec.Containers, c)
		}
		got := memoryVolumeSize(&spec, spec.Volumes[0].EmptyDir.SizeLimit)
		switch {
		case tt.want == "" && got != nil:
			t.Errorf("%s: size %s, want none", tt.name, got)
		case tt.want != "" && (got == nil || got.Cmp(resource.MustParse(tt.want)) != 0):
			t.Errorf("%s: size %v, want %s", tt.name, got, tt.want)
		}
	}
}
