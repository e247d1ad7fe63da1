// Package image makes the images a plan needs available in containerd: pulled with
// the registry configuration of a hosts directory, loaded from archives, listed and
// removed. It works with containerd 1.6 and later (Pull and Import, no Transfer
// service).
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// Snapshotter is the snapshotter images are unpacked for.
const Snapshotter = defaults.DefaultSnapshotter

// PullPolicy is a corev1.PullPolicy value. The CLI's --pull always|missing|never
// maps to Always, IfNotPresent and Never.
type PullPolicy string

const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// Request is one image a pod needs.
type Request struct {
	Ref    string
	Policy PullPolicy
}

// Options configure pulls.
type Options struct {
	// HostsDir is the registry configuration directory (hosts.toml per registry).
	HostsDir string
	// Progress receives progress lines; nil pulls quietly.
	Progress io.Writer
	// TTY redraws one live line per image instead of one line per finished image.
	TTY bool
}

// Normalize gives the fully qualified form of ref: "httpd" is
// "docker.io/library/httpd:latest".
func Normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	return named.String(), nil
}

// Ensure makes every distinct image of reqs available and unpacked, pulling each
// at most once and all in parallel, and returns them by Ref as given.
//
// Content being pulled is protected from containerd's garbage collector by a lease:
// the lease already on ctx (client.WithLease) if the caller holds one, otherwise one
// that lasts as long as Ensure. Once pulled, the image record keeps the content and
// its unpacked snapshots alive.
func Ensure(ctx context.Context, c *client.Client, reqs []Request, opts Options) (map[string]client.Image, error) {
	type pull struct {
		name   string
		policy PullPolicy
		refs   []string
		image  client.Image
		err    error
	}
	pulls := map[string]*pull{}
	var order []*pull
	for _, r := range reqs {
		name, err := Normalize(r.Ref)
		if err != nil {
			return nil, err
		}
		p := pulls[name]
		if p == nil {
			p = &pull{name: name, policy: r.Policy}
			pulls[name] = p
			order = append(order, p)
		}
		p.refs = append(p.refs, r.Ref)
		p.policy = stronger(p.policy, r.Policy)
	}

	ctx, done, err := c.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("pulling images: creating a lease: %w", err)
	}
	defer done(context.WithoutCancel(ctx))

	resolver := newResolver(ctx, opts.HostsDir)
	progress := newProgress(opts.Progress, opts.TTY, c.ContentStore())
	defer progress.stop()
	var wg sync.WaitGroup
	for _, p := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.image, p.err = ensure(ctx, c, p.refs[0], p.name, p.policy, resolver, progress)
		}()
	}
	wg.Wait()

	images := map[string]client.Image{}
	var errs []error
	for _, p := range order {
		if p.err != nil {
			errs = append(errs, p.err)
			continue
		}
		for _, ref := range p.refs {
			images[ref] = p.image
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return images, nil
}

// stronger picks the policy that pulls more: one pod saying Always is enough.
func stronger(a, b PullPolicy) PullPolicy {
	rank := map[PullPolicy]int{PullNever: 0, PullIfNotPresent: 1, PullAlways: 2, "": 1}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// ensure makes one image available. Errors name it by ref, as the user wrote it.
func ensure(ctx context.Context, c *client.Client, ref, name string, policy PullPolicy, resolver resolverFunc, progress *progress) (client.Image, error) {
	if policy != PullAlways {
		img, err := c.GetImage(ctx, name)
		switch {
		case err == nil:
			if err := unpack(ctx, img); err != nil {
				return nil, fmt.Errorf("unpacking image %q: %w", ref, err)
			}
			return img, nil
		case !errdefs.IsNotFound(err):
			return nil, fmt.Errorf("looking up image %q: %w", ref, err)
		case policy == PullNever:
			return nil, fmt.Errorf("image %q is not present with pull policy of Never: %w", ref, errdefs.ErrNotFound)
		}
	}
	start := time.Now()
	track := progress.start(name)
	img, err := c.Pull(ctx, name,
		client.WithResolver(resolver()),
		client.WithPullUnpack,
		client.WithPullSnapshotter(Snapshotter),
		client.WithImageHandler(track.handler()),
	)
	if err != nil {
		track.fail()
		return nil, fmt.Errorf("pulling image %q: %w", ref, err)
	}
	size, _ := img.Size(ctx)
	track.done(size, time.Since(start))
	return img, nil
}

func unpack(ctx context.Context, img client.Image) error {
	ok, err := img.IsUnpacked(ctx, Snapshotter)
	if err != nil || ok {
		return err
	}
	return img.Unpack(ctx, Snapshotter)
}
