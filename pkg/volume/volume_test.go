package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount tmpfs")
	}
}

func newManager(t *testing.T) Manager {
	dir := t.TempDir()
	m := Manager{Layout: podstate.Layout{RunRoot: filepath.Join(dir, "run"), DataRoot: filepath.Join(dir, "data")}}
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
	paths, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"].Path
	if want := filepath.Join(m.Layout.DataRoot, "pods/uid1/volumes/cfg"); dir != want {
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
	paths, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["s"].Path
	if !strings.HasPrefix(dir, m.Layout.RunRoot) {
		t.Errorf("secret at %s, want under the run root %s", dir, m.Layout.RunRoot)
	}
	if fs := mountedAt(t, dir); fs != "tmpfs" {
		t.Fatalf("secret volume mounted as %q, want tmpfs", fs)
	}
	if got := readVolumeFile(t, dir, "password"); got != "hunter2" {
		t.Errorf("password: %q", got)
	}
	// Prepare again (a second `up`) must not stack a second tmpfs.
	if _, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(mustRead(t, "/proc/self/mountinfo"), " "+dir+" "); n != 1 {
		t.Errorf("%d mounts at %s after two Prepares, want 1", n, dir)
	}
	if err := m.Remove(m.Layout.PodByKey("uid2")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustRead(t, "/proc/self/mountinfo"), m.Layout.RunRoot) {
		t.Error("mounts left after Remove")
	}
	if _, err := os.Stat(m.Layout.PodByKey("uid2").Run); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run dir left after Remove: %v", err)
	}
	if err := m.Remove(m.Layout.PodByKey("uid2")); err != nil {
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
	paths, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"].Path
	// A container replaces the top-level link and the ..data link with links out of the volume.
	for _, name := range []string{"key", "..data"} {
		os.Remove(filepath.Join(dir, name))
		if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	pod.Volumes[0].ConfigMap.Files = files("key", "v2", "dir/f", "v2")
	if err := m.Update(m.Layout.PodByKey(pod.UID), pod.Volumes); err != nil {
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
	paths, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"].Path
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	// A reader holding the old directory open keeps reading old content.
	held, err := os.Open(filepath.Join(dir, first, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	// Unchanged content: no swap.
	if err := m.Update(m.Layout.PodByKey(pod.UID), pod.Volumes); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Fatalf("unchanged volume swapped from %s to %s", first, again)
	}

	pod.Volumes[0].ConfigMap.Files = files("a", "2", "c", "2")
	if err := m.Update(m.Layout.PodByKey(pod.UID), pod.Volumes); err != nil {
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
	paths, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"scratch", "mem", "data"} {
		st, err := os.Stat(paths[name].Path)
		if err != nil || st.Mode().Perm() != 0o777 {
			t.Errorf("%s: mode %v (%v), want 0777", name, st.Mode(), err)
		}
	}
	if fs := mountedAt(t, paths["mem"].Path); fs != "tmpfs" {
		t.Errorf("medium Memory mounted as %q, want tmpfs", fs)
	}
	if err := os.WriteFile(filepath.Join(paths["mem"].Path, "big"), make([]byte, 2<<20), 0o644); err == nil {
		t.Error("wrote 2 MiB to a 1Mi emptyDir")
	}
	os.WriteFile(filepath.Join(paths["data"].Path, "keep"), []byte("x"), 0o644)
	if err := m.Remove(m.Layout.PodByKey("uid5")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustRead(t, "/proc/self/mountinfo"), m.Layout.DataRoot) {
		t.Error("mounts left after Remove")
	}
	if _, err := os.Stat(paths["scratch"].Path); !errors.Is(err, os.ErrNotExist) {
		t.Error("emptyDir survived Remove")
	}
	if _, err := os.Stat(filepath.Join(paths["data"].Path, "keep")); err != nil {
		t.Errorf("claim data did not survive Remove: %v", err)
	}
	if err := m.RemoveClaim("default", "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths["data"].Path); !errors.Is(err, os.ErrNotExist) {
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

func TestBindSubPath(t *testing.T) {
	needRoot(t)
	m := newManager(t)
	vol := filepath.Join(m.Layout.DataRoot, "pods/p1/volumes/data")
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(vol, "sub/inner"), 0o755)
	os.WriteFile(filepath.Join(vol, "sub/inner/f"), []byte("inner"), 0o644)
	os.WriteFile(filepath.Join(vol, "file"), []byte("a file"), 0o644)
	os.Symlink(outside, filepath.Join(vol, "escape"))
	os.Symlink("/etc", filepath.Join(vol, "abs"))
	os.Symlink("sub/inner", filepath.Join(vol, "inside"))
	tests := []struct {
		subPath string
		want    string // relative to vol; "" means an error
		invalid bool
	}{
		{"sub", "sub", false},
		{"inside", "sub/inner", false},
		{"file", "file", false},
		{"new/dir", "new/dir", false},
		{"/etc", "", true},
		{"../x", "", true},
		{"sub/../../x", "", true},
		{"escape", "", true},
		{"escape/deeper", "", false},
		{"abs", "", true},
	}
	for i, tt := range tests {
		got, err := m.BindSubPath(SubPath{Pod: m.Layout.PodByKey("p1"), Container: "c", Index: i, Volume: vol, Path: tt.subPath})
		if tt.want == "" {
			if err == nil {
				t.Errorf("BindSubPath(%q) = %s, want an error", tt.subPath, got)
			} else if tt.invalid && !errdefs.IsInvalidArgument(err) {
				t.Errorf("BindSubPath(%q) error %v, want invalid argument", tt.subPath, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("BindSubPath(%q): %v", tt.subPath, err)
			continue
		}
		if want := filepath.Join(m.Layout.RunRoot, "pods/p1/volume-subpaths/c", strconv.Itoa(i)); got != want {
			t.Errorf("BindSubPath(%q) = %s, want the mount point %s", tt.subPath, got, want)
		}
		a, errA := os.Stat(got)
		b, errB := os.Stat(filepath.Join(vol, tt.want))
		if errA != nil || errB != nil || !os.SameFile(a, b) {
			t.Errorf("BindSubPath(%q): %s is not %s (%v, %v)", tt.subPath, got, tt.want, errA, errB)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("BindSubPath created %v outside the volume", entries)
	}
	if err := m.Remove(m.Layout.PodByKey("p1")); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(mustRead(t, "/proc/self/mountinfo"), m.Layout.RunRoot); n != 0 {
		t.Errorf("%d subPath mounts left after Remove", n)
	}
}

// The attack the bind mount stops: a container swaps a directory it mounted by
// subPath for a symlink to the host's /; a restart must still see the directory.
func TestBoundSubPathSurvivesASymlinkSwap(t *testing.T) {
	needRoot(t)
	m := newManager(t)
	vol := filepath.Join(m.Layout.DataRoot, "pods/p1/volumes/data")
	os.MkdirAll(filepath.Join(vol, "sub"), 0o777)
	os.WriteFile(filepath.Join(vol, "sub/mine"), []byte("mine"), 0o644)
	target, err := m.BindSubPath(SubPath{Pod: m.Layout.PodByKey("p1"), Container: "c", Volume: vol, Path: "sub"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(vol, "sub"), filepath.Join(vol, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(vol, "sub")); err != nil {
		t.Fatal(err)
	}
	if got := readVolumeFile(t, target, "mine"); got != "mine" {
		t.Errorf("after the swap the mount point shows %q, want the original directory", got)
	}
	if _, err := os.Stat(filepath.Join(target, "etc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the swap the mount point reaches the host's /etc (%v)", err)
	}
	// Binding again (the container is created anew) refuses the symlink.
	if _, err := m.BindSubPath(SubPath{Pod: m.Layout.PodByKey("p1"), Container: "c", Volume: vol, Path: "sub"}); err == nil {
		t.Errorf("BindSubPath followed a symlink to /")
	}
}

func TestOpenNoFollowRefusesASymlinkOnTheWay(t *testing.T) {
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "a/b"), 0o755)
	os.Symlink("a", filepath.Join(base, "link"))
	if fd, err := openNoFollow(base, "a/b"); err != nil {
		t.Errorf("a/b: %v", err)
	} else {
		unix.Close(fd)
	}
	for _, rel := range []string{"link/b", "link"} {
		if fd, err := openNoFollow(base, rel); err == nil {
			unix.Close(fd)
			t.Errorf("openNoFollow(%q) followed a symlink", rel)
		}
	}
}

// Every directory above a volume is closed to other users; the volume itself is
// as open as the containers need.
func TestPodDirectoriesArePrivate(t *testing.T) {
	needRoot(t)
	m := newManager(t)
	if err := m.SecureRoots(); err != nil {
		t.Fatal(err)
	}
	pod := &plan.PodPlan{UID: "uid9", Volumes: []plan.Volume{
		{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		{Name: "cfg", ConfigMap: &plan.FilesVolume{Files: files("k", "v")}},
		{Name: "s", Secret: &plan.FilesVolume{Files: files("k", "v")}},
		{Name: "db", Claim: &plan.ClaimVolume{Namespace: "shop", ClaimName: "db"}},
	}}
	vols, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	wantMode := map[string]os.FileMode{"scratch": 0o777, "cfg": 0o755, "s": 0o755, "db": 0o777}
	for name, v := range vols {
		st, err := os.Stat(v.Path)
		if err != nil || st.Mode().Perm() != wantMode[name] {
			t.Errorf("volume %s: mode %v (%v), want %v", name, st.Mode().Perm(), err, wantMode[name])
		}
		root := m.Layout.DataRoot
		if strings.HasPrefix(v.Path, m.Layout.RunRoot) {
			root = m.Layout.RunRoot
		}
		for dir := filepath.Dir(v.Path); ; dir = filepath.Dir(dir) {
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm()&0o007 != 0 || st.Sys().(*syscall.Stat_t).Uid != 0 {
				t.Errorf("volume %s: %s is %v, uid %d; want root's and closed to others", name, dir, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid)
			}
			if dir == root {
				break
			}
		}
	}
}

func TestSecureRootsTightensAnOpenRoot(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	m := Manager{Layout: podstate.Layout{RunRoot: filepath.Join(dir, "run"), DataRoot: filepath.Join(dir, "data")}}
	os.Mkdir(m.Layout.DataRoot, 0o777)
	os.Chmod(m.Layout.DataRoot, 0o777)
	os.Chown(m.Layout.DataRoot, 65534, 65534)
	// An older kplay's claims level, open to all; the claim itself stays open.
	claim := filepath.Join(m.Layout.DataRoot, "claims", "shop", "db")
	os.MkdirAll(claim, 0o777)
	for _, d := range []string{filepath.Join(m.Layout.DataRoot, "claims"), filepath.Join(m.Layout.DataRoot, "claims", "shop"), claim} {
		os.Chmod(d, 0o777)
	}
	if err := m.SecureRoots(); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{m.Layout.RunRoot, m.Layout.DataRoot} {
		st, err := os.Stat(root)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o027 != 0 || st.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s: %v uid %d after SecureRoots, want at most 0750 and root's", root, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid)
		}
	}
	for dir, want := range map[string]os.FileMode{
		filepath.Join(m.Layout.DataRoot, "claims"):         0o770,
		filepath.Join(m.Layout.DataRoot, "claims", "shop"): 0o770,
		claim: 0o777,
	} {
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v (%v) after SecureRoots, want %v", dir, st.Mode().Perm(), err, want)
		}
	}
}

func TestSecretTmpfsIsCapped(t *testing.T) {
	for _, tt := range []struct {
		data int
		want int64
	}{{0, 1 << 20}, {10, 2 << 20}, {1 << 20, 3 << 20}, {(1 << 20) + 1, 4 << 20}} {
		if got := secretTmpfsSize([]plan.File{{Path: "k", Data: make([]byte, tt.data)}}); got != tt.want {
			t.Errorf("secretTmpfsSize(%d bytes) = %d, want %d", tt.data, got, tt.want)
		}
	}
	needRoot(t)
	m := newManager(t)
	pod := &plan.PodPlan{UID: "uid3", Volumes: []plan.Volume{{Name: "s", Secret: &plan.FilesVolume{Files: files("k", "v")}}}}
	vols, err := m.Prepare(m.Layout.PodByKey(pod.UID), pod.Volumes)
	if err != nil {
		t.Fatal(err)
	}
	if !vols["s"].ReadOnly {
		t.Errorf("secret volume not marked read-only")
	}
	if err := os.WriteFile(filepath.Join(vols["s"].Path, "big"), make([]byte, 3<<20), 0o644); err == nil {
		t.Errorf("wrote 3 MiB into a secret volume of one key; want the tmpfs to be full")
	}
	// A larger secret later gets a larger tmpfs.
	pod.Volumes[0].Secret.Files = []plan.File{{Path: "k", Data: make([]byte, 4<<20), Mode: 0o644}}
	os.Remove(filepath.Join(vols["s"].Path, "big"))
	if err := m.Update(m.Layout.PodByKey(pod.UID), pod.Volumes); err != nil {
		t.Fatalf("updating to a 4 MiB secret: %v", err)
	}
}

func TestClaimsListsWhatHasData(t *testing.T) {
	m := Manager{Layout: podstate.Layout{DataRoot: t.TempDir()}}
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

// A container can make the root field of a bind mount into its volume longer than
// any line buffer (a deep directory tree): the mount points must still be read.
func TestParseMountPointsWithAHugeRootField(t *testing.T) {
	long := "/" + strings.Repeat("d/", 1<<20)
	info := "36 35 98:0 / / rw - ext4 /dev/root rw\n" +
		"40 36 98:0 " + long + " /run/kplay/pods/p/volume-subpaths/c/0 rw - ext4 /dev/root rw\n" +
		`41 36 0:5 / /run/with\040space rw - tmpfs tmpfs rw` + "\n"
	got := parseMountPoints([]byte(info))
	want := []string{"/", "/run/kplay/pods/p/volume-subpaths/c/0", "/run/with space"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mount points = %q, want %q", got, want)
	}
}

// A subPath kplay creates gets the volume's mode at every level, whatever the umask:
// a non-root container can write into an emptyDir's new subPath.
func TestMissingSubPathGetsTheVolumesMode(t *testing.T) {
	needRoot(t)
	m := newManager(t)
	vol := filepath.Join(m.Layout.DataRoot, "pods/p1/volumes/data")
	if err := mkdirOpen(vol); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	if _, err := m.BindSubPath(SubPath{Pod: m.Layout.PodByKey("p1"), Container: "c", Volume: vol, Path: "a/b"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "a/b"} {
		if st, err := os.Stat(filepath.Join(vol, d)); err != nil || st.Mode().Perm() != 0o777 {
			t.Errorf("%s: mode %v (%v), want 0777 like the volume", d, st.Mode().Perm(), err)
		}
	}
}

// FileOrCreate creates only a missing file: what is there is checked, never opened.
func TestHostPathFileOrCreateOpensNothingThere(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hostPath(fifo, corev1.HostPathFileOrCreate) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a File") {
			t.Errorf("FileOrCreate on a FIFO = %v, want a type check error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FileOrCreate on a FIFO blocked: it opened the FIFO")
	}
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if err := hostPath(link, corev1.HostPathFileOrCreate); err == nil {
		t.Errorf("FileOrCreate through a dangling symlink succeeded")
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("FileOrCreate created the symlink's target %s", target)
	}
	file := filepath.Join(dir, "a-dir")
	os.Mkdir(file, 0o755)
	if err := hostPath(file, corev1.HostPathDirectoryOrCreate); err != nil {
		t.Errorf("DirectoryOrCreate on a directory: %v", err)
	}
	if err := hostPath(fifo, corev1.HostPathDirectoryOrCreate); err == nil {
		t.Errorf("DirectoryOrCreate on a FIFO succeeded")
	}
}
