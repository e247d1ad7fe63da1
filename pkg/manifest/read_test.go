package manifest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// loadWithin runs Load and fails the test if it does not return within d: a
// read that blocks or a parse without bound shows up here.
func loadWithin(t *testing.T, d time.Duration, paths []string, stdin io.Reader, opts ...LoadOption) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, _, err := Load(paths, stdin, opts...)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("error does not wrap ErrInvalidArgument, so the CLI would not exit 2: %v", err)
		}
		return err
	case <-time.After(d):
		t.Fatalf("Load(%q) did not return within %s", paths, d)
		return nil
	}
}

func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestLoadLargeFile: a sparse 200 MB file is refused by its size, before it is read.
func TestLoadLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = loadWithin(t, 5*time.Second, []string{path}, nil)
	wantError(t, err, path+": larger than 64Mi: kplay reads at most 64Mi of manifests per run (--max-manifest-size)")
}

// TestLoadMaxBytes: the cap is exact, and MaxBytes moves it.
func TestLoadMaxBytes(t *testing.T) {
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
	path := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	n := int64(len(doc))
	if err := loadWithin(t, 5*time.Second, []string{path}, nil, MaxBytes(n)); err != nil {
		t.Errorf("a file of exactly the cap: %v", err)
	}
	err := loadWithin(t, 5*time.Second, []string{path}, nil, MaxBytes(n-1))
	wantError(t, err, fmt.Sprintf("%s: larger than %d: kplay reads at most %d of manifests per run (--max-manifest-size)", path, n-1, n-1))
	err = loadWithin(t, 5*time.Second, []string{"-"}, strings.NewReader(doc), MaxBytes(n-1))
	wantError(t, err, fmt.Sprintf("stdin: larger than %d: kplay reads at most %d of manifests per run (--max-manifest-size)", n-1, n-1))
}

// endless is standard input that never ends, like /dev/zero on stdin.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestLoadEndlessStdin: reading stops one byte after the cap.
func TestLoadEndlessStdin(t *testing.T) {
	in := &endless{}
	err := loadWithin(t, 5*time.Second, []string{"-"}, in)
	wantError(t, err, "stdin: larger than 64Mi: kplay reads at most 64Mi of manifests per run (--max-manifest-size)")
	if in.read > DefaultMaxBytes+1 {
		t.Errorf("read %d bytes of stdin, want at most %d", in.read, DefaultMaxBytes+1)
	}
}

// TestLoadNotRegular: -f refuses devices and FIFOs, named or in a directory,
// without waiting for a FIFO's writer.
func TestLoadNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: not a regular file (a character device): -f reads files and directories; pipe anything else to -f -"},
		{fifo, fifo + ": not a regular file (a FIFO): -f reads files and directories; pipe anything else to -f -"},
		{dir, fifo + ": not a regular file (a FIFO): -f reads files and directories; pipe anything else to -f -"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			wantError(t, loadWithin(t, 5*time.Second, []string{tt.path}, nil), tt.want)
		})
	}
}

func denseKeys(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n", name)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	return b.String()
}

// TestLoadManyKeys: a million keys are refused before they are parsed, which
// would take about 15 s and 600 MB.
func TestLoadManyKeys(t *testing.T) {
	err := loadWithin(t, 5*time.Second, []string{"-"}, strings.NewReader(denseKeys("big", 1_000_000)))
	wantError(t, err, "stdin: too many YAML nodes: kplay parses at most 262144 keys, list items and other nodes per run (it counts the characters : , - [ { ? * that start them)")
}

// TestLoadStructurePerRun: the node limit counts every file of the run, and
// names the file that crosses it.
func TestLoadStructurePerRun(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte(denseKeys("a", MaxStructure/2)), 0o644)
	if err := loadWithin(t, 10*time.Second, []string{a}, nil); err != nil {
		t.Fatalf("half the limit: %v", err)
	}
	os.WriteFile(b, []byte(denseKeys("b", MaxStructure/2)), 0o644)
	err := loadWithin(t, 10*time.Second, []string{a, b}, nil)
	wantError(t, err, b+": too many YAML nodes: kplay parses at most 262144 keys, list items and other nodes per run (it counts the characters : , - [ { ? * that start them)")
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"64Mi", 64 << 20, false},
		{"1Gi", 1 << 30, false},
		{"100M", 100_000_000, false},
		{"4096", 4096, false},
		{"0", 0, true},
		{"-1Mi", 0, true},
		{"lots", 0, true},
		{"100Ei", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := FormatBytes(DefaultMaxBytes); s != "64Mi" {
		t.Errorf("FormatBytes(DefaultMaxBytes) = %q, want 64Mi", s)
	}
}

// The byte cap holds for all of a run's files together: files just under it each
// must not add up past it.
func TestLoadMaxBytesIsPerRun(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
	var paths []string
	for _, name := range []string{"a.yaml", "b.yaml"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Replace(doc, "name: a", "name: "+name[:1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	n := int64(len(doc))
	if err := loadWithin(t, 5*time.Second, paths, nil, MaxBytes(2*n)); err != nil {
		t.Errorf("two files of exactly the cap together: %v", err)
	}
	err := loadWithin(t, 5*time.Second, paths, nil, MaxBytes(2*n-1))
	wantError(t, err, fmt.Sprintf("%s: larger than %d: kplay reads at most %d of manifests per run (--max-manifest-size)", paths[1], 2*n-1, 2*n-1))
}

// A run reads at most MaxFiles files.
func TestLoadMaxFiles(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i <= MaxFiles; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.yaml", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := loadWithin(t, 10*time.Second, []string{dir}, nil)
	wantError(t, err, fmt.Sprintf("%s: kplay reads at most %d files per run", filepath.Join(dir, fmt.Sprintf("f%05d.yaml", MaxFiles)), MaxFiles))
}

// A "billion laughs": a small file of aliases to one large anchored string expands
// past every cap when it turns into JSON; it is refused before that, fast.
func TestLoadAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  annotations:\n    big: &a " + strings.Repeat("A", 1<<20) + "\ndata:\n  list: [")
	for i := 0; i < 100; i++ {
		b.WriteString("*a, ")
	}
	b.WriteString("*a]\n")
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadWithin(t, 5*time.Second, []string{path}, nil)
	wantError(t, err, path+": YAML aliases expand to more than 64Mi or 262144 nodes: kplay refuses such a manifest, as it refuses one that large (--max-manifest-size)")
	// A few aliases to small anchors, as real manifests use them, are fine.
	ok := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  labels: &l {app: web}\n  annotations: *l\n"
	if err := os.WriteFile(path, []byte(ok), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, 5*time.Second, []string{path}, nil); err != nil {
		t.Errorf("a manifest with one small alias: %v", err)
	}
}
