package image

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// progress reports pulls: one line per finished image, or on a terminal one live
// line per image redrawn in place. A nil writer reports nothing.
type progress struct {
	w     io.Writer
	tty   bool
	store content.Store

	mu     sync.Mutex
	pulls  []*tracker
	drawn  int
	stopc  chan struct{}
	exited chan struct{}
}

func newProgress(w io.Writer, tty bool, store content.Store) *progress {
	p := &progress{w: w, tty: tty && w != nil, store: store}
	if p.tty {
		p.stopc = make(chan struct{})
		p.exited = make(chan struct{})
		go p.loop()
	}
	return p
}

// tracker follows one image pull.
type tracker struct {
	p     *progress
	name  string
	mu    sync.Mutex
	descs map[string]int64 // digest -> size of the blobs seen so far
	state string           // "" while pulling, then the final words
}

func (p *progress) start(name string) *tracker {
	t := &tracker{p: p, name: name, descs: map[string]int64{}}
	p.mu.Lock()
	p.pulls = append(p.pulls, t)
	p.mu.Unlock()
	return t
}

// handler records every blob of the image as the pull walks it.
func (t *tracker) handler() images.HandlerFunc {
	return func(_ context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		t.mu.Lock()
		t.descs[desc.Digest.String()] = desc.Size
		t.mu.Unlock()
		return nil, nil
	}
}

func (t *tracker) done(size int64, took time.Duration) {
	t.finish(fmt.Sprintf("Pulled %s (%s, %.1fs)", t.name, humanSize(size), took.Seconds()))
}

func (t *tracker) fail() { t.finish(fmt.Sprintf("Pulling %s failed", t.name)) }

func (t *tracker) finish(state string) {
	t.mu.Lock()
	t.state = state
	t.mu.Unlock()
	if t.p.w != nil && !t.p.tty && strings.HasPrefix(state, "Pulled") {
		t.p.mu.Lock()
		fmt.Fprintln(t.p.w, state)
		t.p.mu.Unlock()
	}
}

func (p *progress) loop() {
	defer close(p.exited)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stopc:
			p.draw()
			return
		case <-tick.C:
			p.draw()
		}
	}
}

func (p *progress) stop() {
	if p.tty {
		close(p.stopc)
		<-p.exited
	}
}

// draw rewrites the live lines: bytes in the content store for each image's blobs,
// counting blobs still downloading by their offset.
func (p *progress) draw() {
	ctx := context.Background()
	active := map[string]int64{}
	if statuses, err := p.store.ListStatuses(ctx); err == nil {
		for _, s := range statuses {
			if i := strings.Index(s.Ref, "sha256:"); i >= 0 {
				active[s.Ref[i:]] = s.Offset
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, t := range p.pulls {
		t.mu.Lock()
		line := t.state
		if line == "" {
			var n int64
			for d, size := range t.descs {
				if off, ok := active[d]; ok {
					n += off
				} else if _, err := p.store.Info(ctx, digest.Digest(d)); err == nil {
					n += size
				}
			}
			line = fmt.Sprintf("Pulling %s: %s", t.name, humanSize(n))
		}
		t.mu.Unlock()
		b.WriteString("\x1b[2K" + line + "\n")
	}
	p.drawn = len(p.pulls)
	io.WriteString(p.w, b.String())
}

func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGTP"[i-1])
}
