package image

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeStore has blob "a" complete and blob "b" half downloaded.
type fakeStore struct{ content.Store }

func (fakeStore) ListStatuses(context.Context, ...string) ([]content.Status, error) {
	return []content.Status{{Ref: "layer-sha256:b", Offset: 50, Total: 200}}, nil
}

func (fakeStore) Info(_ context.Context, d digest.Digest) (content.Info, error) {
	if d == "sha256:a" {
		return content.Info{Digest: d}, nil
	}
	return content.Info{}, errdefs.ErrNotFound
}

func TestLiveProgress(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out, tty: true, store: fakeStore{}}
	pulling := p.start("docker.io/library/httpd:latest")
	for _, d := range []ocispec.Descriptor{{Digest: "sha256:a", Size: 1000}, {Digest: "sha256:b", Size: 2000}, {Digest: "sha256:c", Size: 4000}} {
		pulling.handler()(context.Background(), d)
	}
	p.start("docker.io/library/nginx:latest").done(1_500_000, 1200*time.Millisecond)
	p.draw()
	p.draw()
	want := "\x1b[2KPulling docker.io/library/httpd:latest: 1.1 kB\n" +
		"\x1b[2KPulled docker.io/library/nginx:latest (1.5 MB, 1.2s)\n"
	if got := out.String(); got != want+"\x1b[2A"+want {
		t.Errorf("live lines %q", got)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1_234_567: "1.2 MB", 3_000_000_000: "3.0 GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
