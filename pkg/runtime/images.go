package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/content"
	ctdimages "github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kplay-dev/kplay/pkg/image"
	"github.com/kplay-dev/kplay/pkg/lease"
)

// Images lists the images in kplay's containerd namespace.
func (r *Runtime) Images(ctx context.Context) ([]image.Info, error) {
	return image.List(r.context(ctx), r.client)
}

// LoadImages imports a docker-save or OCI archive and unpacks it.
func (r *Runtime) LoadImages(ctx context.Context, archive io.Reader) ([]string, error) {
	ctx, release, err := lease.With(r.context(ctx), r.client)
	if err != nil {
		return nil, err
	}
	defer release()
	return image.Load(ctx, r.client, archive, r.cfg.Progress)
}

// RemoveImages removes images by reference.
func (r *Runtime) RemoveImages(ctx context.Context, refs []string) error {
	return image.Remove(r.context(ctx), r.client, refs)
}

// cachedImage is a pulled image whose config is read from containerd once per up
// instead of four times for every container (spec, security, image config, stop
// signal), each a walk from the manifest: what a digest names cannot change.
type cachedImage struct {
	client.Image
	blobs *blobCache
	once  sync.Once
	desc  ocispec.Descriptor
	err   error
}

func newCachedImage(img client.Image) *cachedImage {
	return &cachedImage{Image: img, blobs: &blobCache{Store: img.ContentStore(), blobs: map[digest.Digest][]byte{}}}
}

func (i *cachedImage) Config(ctx context.Context) (ocispec.Descriptor, error) {
	i.once.Do(func() { i.desc, i.err = ctdimages.Config(ctx, i.blobs, i.Target(), i.Platform()) })
	return i.desc, i.err
}

func (i *cachedImage) ContentStore() content.Store { return i.blobs }

func (i *cachedImage) Spec(ctx context.Context) (ocispec.Image, error) {
	var spec ocispec.Image
	desc, err := i.Config(ctx)
	if err != nil {
		return spec, fmt.Errorf("get image config descriptor: %w", err)
	}
	b, err := content.ReadBlob(ctx, i.blobs, desc)
	if err != nil {
		return spec, fmt.Errorf("read image config from content store: %w", err)
	}
	return spec, json.Unmarshal(b, &spec)
}

// blobCache keeps the small blobs (indexes, manifests, configs) read through it.
type blobCache struct {
	content.Store
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

// maxCachedBlob is larger than any manifest or config; layers are never read here.
const maxCachedBlob = 1 << 20

func (b *blobCache) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	if desc.Size > maxCachedBlob {
		return b.Store.ReaderAt(ctx, desc)
	}
	b.mu.Lock()
	p, ok := b.blobs[desc.Digest]
	b.mu.Unlock()
	if !ok {
		var err error
		if p, err = content.ReadBlob(ctx, b.Store, desc); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.blobs[desc.Digest] = p
		b.mu.Unlock()
	}
	return bytesReaderAt{bytes.NewReader(p)}, nil
}

type bytesReaderAt struct{ *bytes.Reader }

func (bytesReaderAt) Close() error { return nil }

// newSnapshot prepares the container's root filesystem on the image's unpacked layers
// in the snapshotter kplay unpacks to. client.WithNewSnapshot does the same after two
// calls to learn the default snapshotter and its capabilities.
func newSnapshot(id string, img client.Image) client.NewContainerOpts {
	return func(ctx context.Context, c *client.Client, ctr *containers.Container) error {
		diffIDs, err := img.RootFS(ctx)
		if err != nil {
			return err
		}
		sn := c.SnapshotService(image.Snapshotter)
		parent := identity.ChainID(diffIDs).String()
		_, err = sn.Prepare(ctx, id, parent)
		if errdefs.IsAlreadyExists(err) {
			// An up cut short between the snapshot and its container record (kplay
			// killed, containerd restarted) left it. Under the pod's lock, a snapshot
			// that no container record names is that debris: make it anew.
			if _, gerr := c.ContainerService().Get(ctx, id); !errdefs.IsNotFound(gerr) {
				return err
			}
			if rerr := sn.Remove(ctx, id); rerr != nil && !errdefs.IsNotFound(rerr) {
				return fmt.Errorf("removing the snapshot an interrupted up left: %w", rerr)
			}
			_, err = sn.Prepare(ctx, id, parent)
		}
		if err != nil {
			return err
		}
		ctr.Snapshotter, ctr.SnapshotKey = image.Snapshotter, id
		return nil
	}
}
