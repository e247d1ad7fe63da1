package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kplay-dev/kplay/pkg/plan"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount tmpfs")
	}
}

func newManager(t *testing.T) Manager {
	dir := t.TempDir()
	m := Manager{RunRoot: filepath.Join(dir, "run"), DataRoot: filepath.Join(dir, "data")}
	t.Cleanup(func() {
		unmountUnder(dir)
	})
	return m
}

// mountedAt reports the filesystem type mounted exactly at dir, "" if none.
func mountedAt(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			for i, x := range f {
				if x == "-" && i+1 < len(f) {
					return f[i+1]
				}
			}
		}
	}
	return ""
}

func files(kv ...string) []plan.File {
	var fs []plan.File
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, plan.File{Path: kv[i], Data: []byte(kv[i+1]), Mode: 0o644})
	}
	return fs
}

func readVolumeFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigMapLayout(t *testing.T) {
	m := newManager(t)
	cm := files("key1", "value1", "conf/nested/app.conf", "x=1")
	cm = append(cm, plan.File{Path: "secret-ish", Data: []byte("s"), Mode: 0o400})
	pod := &plan.PodPlan{UID: "uid1", Volumes: []plan.Volume{{Name: "cfg", ConfigMap: &plan.FilesVolume{Source: "c", Files: cm}}}}
	paths, err := m.Prepare(pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"]
	if want := filepath.Join(m.DataRoot, "pods/uid1/volumes/cfg"); dir != want {
		t.Fatalf("path %s, want %s", dir, want)
	}
	data, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(data, "..20") {
		t.Fatalf("..data -> %q (%v), want a timestamped dir", data, err)
	}
	for name, want := range map[string]string{"key1": "..data/key1", "conf": "..data/conf", "secret-ish": "..data/secret-ish"} {
		if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", name, got, err, want)
		}
	}
	if got := readVolumeFile(t, dir, "conf/nested/app.conf"); got != "x=1" {
		t.Errorf("nested file: %q", got)
	}
	st, err := os.Stat(filepath.Join(dir, "secret-ish"))
	if err != nil || st.Mode().String() != "-r--------" {
		t.Errorf("mode 0400 shows as %v (%v), want -r--------", st.Mode(), err)
	}
	if mountedAt(t, dir) != "" {
		t.Errorf("configMap volume is on a mount; only secrets get a tmpfs")
	}
}

func TestSecretOnTmpfs(t *testing.T) {
	needRoot(t)
	m := newManager(t)
	pod := &plan.PodPlan{UID: "uid2", Volumes: []plan.Volume{{Name: "s", Secret: &plan.FilesVolume{Files: files("password", "hunter2")}}}}
	paths, err := m.Prepare(pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["s"]
	if !strings.HasPrefix(dir, m.RunRoot) {
		t.Errorf("secret at %s, want under the run root %s", dir, m.RunRoot)
	}
	if fs := mountedAt(t, dir); fs != "tmpfs" {
		t.Fatalf("secret volume mounted as %q, want tmpfs", fs)
	}
	if got := readVolumeFile(t, dir, "password"); got != "hunter2" {
		t.Errorf("password: %q", got)
	}
	// Prepare again (a second `up`) must not stack a second tmpfs.
	if _, err := m.Prepare(pod); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(mustRead(t, "/proc/self/mountinfo"), " "+dir+" "); n != 1 {
		t.Errorf("%d mounts at %s after two Prepares, want 1", n, dir)
	}
	if err := m.Remove("uid2"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustRead(t, "/proc/self/mountinfo"), m.RunRoot) {
		t.Error("mounts left after Remove")
	}
	if _, err := os.Stat(m.podRun("uid2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run dir left after Remove: %v", err)
	}
	if err := m.Remove("uid2"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlantedSymlinkNotFollowed(t *testing.T) {
	m := newManager(t)
	outside := filepath.Join(t.TempDir(), "x")
	pod := &plan.PodPlan{UID: "uid3", Volumes: []plan.Volume{{Name: "cfg", ConfigMap: &plan.FilesVolume{Files: files("key", "v1", "dir/f", "v1")}}}}
	paths, err := m.Prepare(pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"]
	// A container replaces the top-level link and the ..data link with links out of the volume.
	for _, name := range []string{"key", "..data"} {
		os.Remove(filepath.Join(dir, name))
		if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	pod.Volumes[0].ConfigMap.Files = files("key", "v2", "dir/f", "v2")
	if err := m.Update(pod); err != nil {
		t.Fatalf("Update after planted symlinks: %v", err)
	}
	if _, err := os.Lstat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("kplay wrote through a planted symlink to %s", outside)
	}
	if got := readVolumeFile(t, dir, "key"); got != "v2" {
		t.Errorf("key = %q after Update, want v2", got)
	}
}

func TestUpdateSwap(t *testing.T) {
	m := newManager(t)
	pod := &plan.PodPlan{UID: "uid4", Volumes: []plan.Volume{{Name: "cfg", ConfigMap: &plan.FilesVolume{Files: files("a", "1", "b", "1")}}}}
	paths, err := m.Prepare(pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"]
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	// A reader holding the old directory open keeps reading old content.
	held, err := os.Open(filepath.Join(dir, first, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	// Unchanged content: no swap.
	if err := m.Update(pod); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Fatalf("unchanged volume swapped from %s to %s", first, again)
	}

	pod.Volumes[0].ConfigMap.Files = files("a", "2", "c", "2")
	if err := m.Update(pod); err != nil {
		t.Fatal(err)
	}
	second, _ := os.Readlink(filepath.Join(dir, "..data"))
	if second == first {
		t.Fatal("..data not swapped after a change")
	}
	if got := readVolumeFile(t, dir, "a"); got != "2" {
		t.Errorf("a = %q, want 2", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed key b still linked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old timestamped dir %s left: %v", first, err)
	}
	buf := make([]byte, 8)
	if n, _ := held.Read(buf); string(buf[:n]) != "1" {
		t.Errorf("an open old file reads %q, want 1", buf[:n])
	}
}

func TestEmptyDirAndClaim(t *testing.T) {
	needRoot(t)
	m := newManager(t)
	limit := resource.MustParse("1Mi")
	pod := &plan.PodPlan{UID: "uid5", Volumes: []plan.Volume{
		{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		{Name: "mem", EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &limit}},
		{Name: "data", Claim: &plan.ClaimVolume{Namespace: "default", ClaimName: "db"}},
	}}
	paths, err := m.Prepare(pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"scratch", "mem", "data"} {
		st, err := os.Stat(paths[name])
		if err != nil || st.Mode().Perm() != 0o777 {
			t.Errorf("%s: mode %v (%v), want 0777", name, st.Mode(), err)
		}
	}
	if fs := mountedAt(t, paths["mem"]); fs != "tmpfs" {
		t.Errorf("medium Memory mounted as %q, want tmpfs", fs)
	}
	if err := os.WriteFile(filepath.Join(paths["mem"], "big"), make([]byte, 2<<20), 0o644); err == nil {
		t.Error("wrote 2 MiB to a 1Mi emptyDir")
	}
	os.WriteFile(filepath.Join(paths["data"], "keep"), []byte("x"), 0o644)
	if err := m.Remove("uid5"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustRead(t, "/proc/self/mountinfo"), m.DataRoot) {
		t.Error("mounts left after Remove")
	}
	if _, err := os.Stat(paths["scratch"]); !errors.Is(err, os.ErrNotExist) {
		t.Error("emptyDir survived Remove")
	}
	if _, err := os.Stat(filepath.Join(paths["data"], "keep")); err != nil {
		t.Errorf("claim data did not survive Remove: %v", err)
	}
	if err := m.RemoveClaim("default", "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths["data"]); !errors.Is(err, os.ErrNotExist) {
		t.Error("claim survived RemoveClaim")
	}
}

func TestHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		path    string
		typ     corev1.HostPathType
		wantErr bool
	}{
		{filepath.Join(dir, "new/dir"), corev1.HostPathDirectoryOrCreate, false},
		{filepath.Join(dir, "new2/file"), corev1.HostPathFileOrCreate, false},
		{dir, corev1.HostPathDirectory, false},
		{file, corev1.HostPathDirectory, true},
		{file, corev1.HostPathFile, false},
		{dir, corev1.HostPathFile, true},
		{filepath.Join(dir, "missing"), corev1.HostPathDirectory, true},
		{filepath.Join(dir, "missing"), corev1.HostPathUnset, false},
		{dir, corev1.HostPathSocket, true},
		{"/dev/null", corev1.HostPathCharDev, false},
	}
	for _, tt := range tests {
		err := hostPath(tt.path, tt.typ)
		if (err != nil) != tt.wantErr {
			t.Errorf("hostPath(%s, %q) = %v, want error %v", tt.path, tt.typ, err, tt.wantErr)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "new2/file")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("FileOrCreate made %v, %v", st, err)
	}
}

func TestMountSource(t *testing.T) {
	vol := t.TempDir()
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(vol, "sub/inner"), 0o755)
	os.Symlink(outside, filepath.Join(vol, "escape"))
	os.Symlink("/etc", filepath.Join(vol, "abs"))
	os.Symlink("sub/inner", filepath.Join(vol, "inside"))
	tests := []struct {
		subPath string
		want    string // relative to vol; "" means an error
		invalid bool
	}{
		{"", ".", false},
		{"sub", "sub", false},
		{"inside", "sub/inner", false},
		{"new/dir", "new/dir", false},
		{"/etc", "", true},
		{"../x", "", true},
		{"sub/../../x", "", true},
		{"escape", "", false},
		{"escape/deeper", "", false},
		{"abs", "", false},
	}
	for _, tt := range tests {
		got, err := MountSource(vol, tt.subPath)
		if tt.want == "" {
			if err == nil {
				t.Errorf("MountSource(%q) = %s, want an error", tt.subPath, got)
			} else if tt.invalid && !errdefs.IsInvalidArgument(err) {
				t.Errorf("MountSource(%q) error %v, want invalid argument", tt.subPath, err)
			}
			continue
		}
		if want := filepath.Join(vol, tt.want); err != nil || got != want {
			t.Errorf("MountSource(%q) = %s, %v; want %s", tt.subPath, got, err, want)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("MountSource created %v outside the volume", entries)
	}
}

func TestClaimsListsWhatHasData(t *testing.T) {
	m := Manager{DataRoot: t.TempDir()}
	if got := m.Claims(); len(got) != 0 {
		t.Fatalf("Claims on a new machine = %v, want none", got)
	}
	if err := os.MkdirAll(m.ClaimPath("shop", "db"), 0o777); err != nil {
		t.Fatal(err)
	}
	if got := m.Claims(); len(got) != 1 || !got["shop/db"] {
		t.Errorf("Claims = %v, want shop/db", got)
	}
}
