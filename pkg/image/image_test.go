package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"httpd", "docker.io/library/httpd:latest"},
		{"nginx:1.27", "docker.io/library/nginx:1.27"},
		{"user/app", "docker.io/user/app:latest"},
		{"127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1"},
		{"ghcr.io/o/r@sha256:" + strings.Repeat("a", 64), "ghcr.io/o/r@sha256:" + strings.Repeat("a", 64)},
		{"Bad:Ref", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if tt.want == "" {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("Normalize(%q) = %q, %v; want invalid argument", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDockerConfig(t *testing.T) {
	cfg := `{"auths": {
		"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNzOndvcmQ="},
		"registry.example.com:5000": {"username": "u2", "password": "p2"},
		"http://plain.example/": {"identitytoken": "tok"}
	}}`
	auths, err := parseDockerConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want credential
	}{
		{"registry-1.docker.io", credential{"user", "pass:word"}},
		{"registry.example.com:5000", credential{"u2", "p2"}},
		{"plain.example", credential{"", "tok"}},
		{"other.example", credential{}},
	}
	for _, tt := range tests {
		if got := auths.lookup(tt.host); got != tt.want {
			t.Errorf("lookup(%s) = %+v, want %+v", tt.host, got, tt.want)
		}
	}
}

func TestStronger(t *testing.T) {
	tests := []struct{ a, b, want PullPolicy }{
		{PullNever, PullAlways, PullAlways},
		{PullAlways, PullNever, PullAlways},
		{PullNever, PullIfNotPresent, PullIfNotPresent},
		{PullNever, PullNever, PullNever},
	}
	for _, tt := range tests {
		if got := stronger(tt.a, tt.b); got != tt.want {
			t.Errorf("stronger(%s, %s) = %s", tt.a, tt.b, got)
		}
	}
}

// testClient connects to the system containerd in a private namespace that is
// removed after the test.
func testClient(t *testing.T) (context.Context, *client.Client) {
	t.Helper()
	const socket = "/run/containerd/containerd.sock"
	if _, err := os.Stat(socket); err != nil {
		t.Skip("containerd is not running (no " + socket + ")")
	}
	c, err := client.New(socket, client.WithTimeout(2*time.Second))
	if err != nil {
		t.Skipf("containerd is not serving: %v", err)
	}
	ns := fmt.Sprintf("kplay-image-test-%d", os.Getpid())
	ctx := namespaces.WithNamespace(context.Background(), ns)
	t.Cleanup(func() {
		imgs, _ := c.ImageService().List(ctx)
		for _, img := range imgs {
			// Synchronous: the garbage collection runs before the namespace goes.
			c.ImageService().Delete(ctx, img.Name, images.SynchronousDelete())
		}
		if err := c.NamespaceService().Delete(ctx, ns); err != nil {
			t.Errorf("test left content behind: removing namespace %s: %v", ns, err)
		}
		c.Close()
	})
	return ctx, c
}

// blob is one file of an image archive.
type blob struct {
	name string
	data []byte
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func tarOf(t *testing.T, files ...blob) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	return buf.Bytes()
}

// tinyImage returns a one-layer image: its layer and config.
func tinyImage(t *testing.T, content string) (layer, config []byte) {
	layer = tarOf(t, blob{"hello.txt", []byte(content)})
	config, _ = json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"/hello"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sha(layer)}},
	})
	return layer, config
}

func dockerArchive(t *testing.T, tag string) []byte {
	layer, config := tinyImage(t, "docker")
	manifest, _ := json.Marshal([]map[string]any{{
		"Config": "config.json", "RepoTags": []string{tag}, "Layers": []string{"layer.tar"},
	}})
	return tarOf(t, blob{"manifest.json", manifest}, blob{"config.json", config}, blob{"layer.tar", layer})
}

func ociArchive(t *testing.T, refName string) []byte {
	layer, config := tinyImage(t, "oci")
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha(config), "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + sha(layer), "size": len(layer)}},
	})
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(manifest), "size": len(manifest),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": refName},
		}},
	})
	return tarOf(t,
		blob{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		blob{"index.json", index},
		blob{"blobs/sha256/" + sha(config), config},
		blob{"blobs/sha256/" + sha(layer), layer},
		blob{"blobs/sha256/" + sha(manifest), manifest},
	)
}

func TestLoadListRemove(t *testing.T) {
	ctx, c := testClient(t)
	tests := []struct {
		name    string
		archive []byte
		want    *regexp.Regexp
	}{
		{"docker-save", dockerArchive(t, "kplaytest/tiny:v1"), regexp.MustCompile(`^docker\.io/kplaytest/tiny:v1$`)},
		{"oci named", ociArchive(t, "kplaytest/oci:v2"), regexp.MustCompile(`^docker\.io/kplaytest/oci:v2$`)},
		{"oci tag only", ociArchive(t, "latest"), regexp.MustCompile(`^import-\d{4}-\d\d-\d\d@sha256:[0-9a-f]{64}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var progress bytes.Buffer
			names, err := Load(ctx, c, bytes.NewReader(tt.archive), &progress)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 || !tt.want.MatchString(names[0]) {
				t.Fatalf("Load named %v, want one matching %s", names, tt.want)
			}
			if !strings.HasPrefix(progress.String(), "Loaded "+names[0]) {
				t.Errorf("progress %q", progress.String())
			}
			img, err := c.GetImage(ctx, names[0])
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := img.IsUnpacked(ctx, Snapshotter); !ok || err != nil {
				t.Errorf("not unpacked after Load: %v", err)
			}
			infos, err := List(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, i := range infos {
				found = found || (i.Name == names[0] && i.Size > 0 && strings.HasPrefix(i.Digest, "sha256:"))
			}
			if !found {
				t.Errorf("List = %+v, want %s with a size", infos, names[0])
			}
		})
	}
	// Short names work for Remove, as for pulls.
	if err := Remove(ctx, c, []string{"kplaytest/tiny:v1", "docker.io/kplaytest/oci:v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetImage(ctx, "docker.io/kplaytest/tiny:v1"); !errdefs.IsNotFound(err) {
		t.Errorf("image still there after Remove: %v", err)
	}
	err := Remove(ctx, c, []string{"kplaytest/none"})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), `"kplaytest/none"`) {
		t.Errorf("Remove of a missing image: %v", err)
	}
}

func TestEnsureNeverAbsent(t *testing.T) {
	ctx, c := testClient(t)
	_, err := Ensure(ctx, c, []Request{{Ref: "kplaytest/absent:1", Policy: PullNever}}, Options{})
	if err == nil || !strings.Contains(err.Error(), `image "kplaytest/absent:1" is not present`) || !strings.Contains(err.Error(), "Never") {
		t.Fatalf("Ensure with Never of an absent image: %v", err)
	}
	if !errdefs.IsNotFound(err) {
		t.Errorf("error %v is not NotFound", err)
	}
}

func TestEnsureNeverPresent(t *testing.T) {
	ctx, c := testClient(t)
	if _, err := Load(ctx, c, bytes.NewReader(dockerArchive(t, "kplaytest/local:v1")), nil); err != nil {
		t.Fatal(err)
	}
	imgs, err := Ensure(ctx, c, []Request{{Ref: "kplaytest/local:v1", Policy: PullNever}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if img := imgs["kplaytest/local:v1"]; img == nil || img.Name() != "docker.io/kplaytest/local:v1" {
		t.Fatalf("Ensure returned %v", imgs)
	}
}

// e2eHostsDir is the hosts directory e2e/env/deps.sh writes, which makes a local
// registry a mirror of docker.io.
func e2eHostsDir(t *testing.T) string {
	dir := os.Getenv("KPLAY_HOSTS_DIR")
	if dir == "" {
		dir = "/var/lib/kplay-e2e/certs.d"
	}
	b, err := os.ReadFile(filepath.Join(dir, "docker.io", "hosts.toml"))
	if err != nil {
		t.Skipf("no local registry configuration (run `make deps`): %v", err)
	}
	m := regexp.MustCompile(`\[host\."(http://[^"]+)"\]`).FindSubmatch(b)
	if m == nil {
		t.Skipf("%s/docker.io/hosts.toml names no plain-HTTP mirror", dir)
	}
	resp, err := http.Get(string(m[1]) + "/v2/")
	if err != nil {
		t.Skipf("local registry %s is not serving: %v", m[1], err)
	}
	resp.Body.Close()
	return dir
}

func TestEnsurePullsOncePerImage(t *testing.T) {
	ctx, c := testClient(t)
	hosts := e2eHostsDir(t)
	var progress bytes.Buffer
	reqs := []Request{
		{Ref: "busybox", Policy: PullIfNotPresent},
		{Ref: "docker.io/library/busybox:latest", Policy: PullAlways},
		{Ref: "httpd", Policy: PullAlways},
	}
	imgs, err := Ensure(ctx, c, reqs, Options{HostsDir: hosts, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 3 || imgs["busybox"] == nil || imgs["busybox"].Name() != imgs["docker.io/library/busybox:latest"].Name() {
		t.Fatalf("Ensure returned %v", imgs)
	}
	t.Log(progress.String())
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("progress %q, want one line per distinct image", progress.String())
	}
	for _, l := range lines {
		if !regexp.MustCompile(`^Pulled docker\.io/library/(busybox|httpd):latest \([\d.]+ [kM]?B, [\d.]+s\)$`).MatchString(l) {
			t.Errorf("progress line %q", l)
		}
	}
	if ok, err := imgs["httpd"].IsUnpacked(ctx, Snapshotter); !ok || err != nil {
		t.Errorf("httpd not unpacked: %v", err)
	}

	// IfNotPresent with the image present: no pull, no progress.
	progress.Reset()
	if _, err := Ensure(ctx, c, []Request{{Ref: "httpd:latest", Policy: PullIfNotPresent}}, Options{HostsDir: hosts, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if progress.Len() != 0 {
		t.Errorf("IfNotPresent pulled a present image: %q", progress.String())
	}

	// A missing image names itself in the error.
	_, err = Ensure(ctx, c, []Request{{Ref: "kplaytest/missing:1", Policy: PullIfNotPresent}}, Options{HostsDir: hosts})
	if err == nil || !strings.HasPrefix(err.Error(), `pulling image "kplaytest/missing:1": `) {
		t.Errorf("pull of a missing image: %v", err)
	}
}

func TestEnsureTTYProgress(t *testing.T) {
	ctx, c := testClient(t)
	hosts := e2eHostsDir(t)
	var progress bytes.Buffer
	if _, err := Ensure(ctx, c, []Request{{Ref: "nginx", Policy: PullAlways}}, Options{HostsDir: hosts, Progress: &progress, TTY: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "\x1b[2KPulled docker.io/library/nginx:latest (") {
		t.Errorf("tty progress %q", progress.String())
	}
}
