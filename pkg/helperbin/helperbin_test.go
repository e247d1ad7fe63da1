package helperbin

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/kplay-dev/kplay/pkg/hook"
)

var committed = []string{"kplay-helper-linux-amd64", "kplay-helper-linux-arm64"}

// A helper that does not match its sources would run old code in every new pod:
// make helper (go generate ./pkg/helperbin) must have been run after the last change.
func TestEmbeddedHelperIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the helper")
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("no go command to rebuild the helper with: %v", err)
	}
	info, err := buildinfo.ReadFile(committed[0])
	if err != nil {
		t.Fatal(err)
	}
	if have := strings.TrimSpace(string(goVersion)); have != info.GoVersion {
		t.Skipf("cannot check that the committed helpers are current: they were built with %s and this go is %s, so the bytes differ anyway; run this test with %s (go.mod's toolchain), or, to move to %s, run make helper and commit the helpers and go.mod's toolchain line",
			info.GoVersion, have, info.GoVersion, have)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "mkhelper.go", "-o", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rebuilding the helper: %v\n%s", err, out)
	}
	for _, name := range committed {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("pkg/helperbin/%s is stale: it differs from a build of the sources (%d bytes, built %d); run make helper and commit the result", name, len(have), len(want))
		}
	}
	if embedded := "kplay-helper-linux-" + runtime.GOARCH; !bytes.Equal(helper, mustRead(t, embedded)) {
		t.Errorf("the embedded helper is not %s", embedded)
	}
}

// The helper runs inside the pause container with nothing but itself mounted, and
// stays resident in every pod: it must be static and link none of kplay's heavy
// dependencies.
func TestHelperIsStaticAndSmall(t *testing.T) {
	const maxSize = 4 << 20
	heavy := []string{"k8s.io/", "sigs.k8s.io/", "github.com/containerd/containerd", "github.com/spf13/cobra", "google.golang.org/grpc", "github.com/miekg/dns"}
	for _, name := range committed {
		f, err := elf.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a program interpreter: it is not static", name)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs shared libraries %v", name, libs)
		}
		f.Close()
		if st, err := os.Stat(name); err != nil || st.Size() > maxSize {
			t.Errorf("%s: %v, %v; want at most %d bytes: its pages are most of each pause and logger process's memory", name, st.Size(), err, maxSize)
		}
		info, err := buildinfo.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, dep := range info.Deps {
			for _, h := range heavy {
				if strings.HasPrefix(dep.Path, h) {
					t.Errorf("%s links %s", name, dep.Path)
				}
			}
		}
	}
}

func TestPrepare(t *testing.T) {
	root := t.TempDir()
	bin, rootfs := filepath.Join(root, "bin"), filepath.Join(root, "pause", "rootfs")
	infra, err := Prepare(bin, rootfs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(infra.Binary)
	if err != nil || st.Mode().Perm() != 0o755 || !bytes.Equal(mustRead(t, infra.Binary), helper) {
		t.Fatalf("installed helper %s: %v %v, want a 0755 copy of the embedded one", infra.Binary, st, err)
	}
	if len(infra.Mounts) != 1 || infra.Mounts[0].Destination != "/pause" || infra.Mounts[0].Source != infra.Binary {
		t.Fatalf("mounts %+v, want the helper at /pause alone", infra.Mounts)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "pause")); err != nil {
		t.Errorf("no mount point for /pause in the rootfs: %v", err)
	}
	if len(infra.Args) != 1 || infra.Args[0] != "/pause" {
		t.Errorf("args %q, want /pause", infra.Args)
	}
	again, err := Prepare(bin, rootfs)
	if err != nil || again.Binary != infra.Binary {
		t.Fatalf("second Prepare gave %+v, %v; want the same as %+v", again, err, infra)
	}
	entries, _ := os.ReadDir(bin)
	if len(entries) != 1 {
		t.Fatalf("bin holds %d entries after two Prepares, want 1", len(entries))
	}
}

// The installed helper runs as each of its roles; an unknown invocation is refused.
func TestInstalledHelperRefusesOtherInvocations(t *testing.T) {
	path, err := Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "up").CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), "started by kplay's pods only") {
		t.Fatalf("kplay-helper up: %v, %q; want exit 2 and a word on what it is for", err, out)
	}
	starts := filepath.Join(t.TempDir(), "starts")
	run := exec.Command(path, hook.Arg, starts)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("hook: %v %s", err, out)
	}
	if b, _ := os.ReadFile(starts); len(bytes.Fields(b)) != 1 {
		t.Fatalf("hook recorded %q, want one start", b)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The installed helper runs as root on the host under a predictable name: a file at
// that name is used only if it is the helper, a regular file of root's that no one
// else can write. Anything else is replaced by a good copy.
func TestInstallReplacesUntrustedFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make files of another owner")
	}
	name, err := Name()
	if err != nil {
		t.Fatal(err)
	}
	genuine := filepath.Join(t.TempDir(), "genuine")
	if err := os.WriteFile(genuine, helper, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what  string
		plant func(path string) error
	}{
		{"same size, other bytes (a crash or a plant)", func(p string) error {
			return os.WriteFile(p, make([]byte, len(helper)), 0o755)
		}},
		{"the helper, group and other writable", func(p string) error {
			if err := os.WriteFile(p, helper, 0o755); err != nil {
				return err
			}
			return os.Chmod(p, 0o777)
		}},
		{"the helper, owned by another user", func(p string) error {
			if err := os.WriteFile(p, helper, 0o755); err != nil {
				return err
			}
			return os.Chown(p, 1, 1)
		}},
		{"a symlink to the helper", func(p string) error { return os.Symlink(genuine, p) }},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			if err := tc.plant(path); err != nil {
				t.Fatal(err)
			}
			got, err := Install(dir)
			if err != nil || got != path {
				t.Fatalf("Install: %q, %v; want %s", got, err, path)
			}
			st, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Mode().IsRegular() || st.Mode().Perm() != 0o755 || st.Sys().(*syscall.Stat_t).Uid != 0 || !bytes.Equal(mustRead(t, path), helper) {
				t.Errorf("after Install %s is %v, uid %d; want root's regular 0755 copy of the helper", path, st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
			}
		})
	}
}

// The bin directory holds what runs as root: one made looser by hand is tightened.
func TestInstallTightensTheDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o750 {
		t.Fatalf("bin directory %v, %v; want mode 0750", st.Mode(), err)
	}
}

// Another kplay's cleanup may remove the helper between Install's check and its
// touch: Install then writes it anew rather than return a path to nothing.
func TestInstallAfterConcurrentRemoval(t *testing.T) {
	dir := t.TempDir()
	path, err := Install(dir)
	if err != nil {
		t.Fatal(err)
	}
	beforeTouch = func(p string) { os.Remove(p) }
	defer func() { beforeTouch = func(string) {} }()
	again, err := Install(dir)
	if err != nil || again != path {
		t.Fatalf("Install: %q, %v; want %s", again, err, path)
	}
	if !bytes.Equal(mustRead(t, path), helper) {
		t.Fatal("the helper is not there after Install")
	}
}
