package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// Load imports a docker-save or OCI archive for the default platform, unpacks its
// images and returns their names. An OCI image with only a tag for a name, or none,
// is named "import-<date>@<digest>".
func Load(ctx context.Context, c *client.Client, r io.Reader, progress io.Writer) ([]string, error) {
	ctx, done, err := c.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading images: creating a lease: %w", err)
	}
	defer done(context.WithoutCancel(ctx))

	prefix := "import-" + time.Now().UTC().Format("2006-01-02")
	imgs, err := c.Import(ctx, r,
		client.WithImageRefTranslator(fullName),
		client.WithDigestRef(func(d digest.Digest) string { return prefix + "@" + d.String() }),
		client.WithSkipDigestRef(func(name string) bool { return name != "" }),
	)
	if err != nil {
		return nil, fmt.Errorf("loading images: %w", err)
	}
	var names []string
	for _, img := range imgs {
		start := time.Now()
		if err := unpack(ctx, client.NewImage(c, img)); err != nil {
			return names, fmt.Errorf("loading images: unpacking %q: %w", img.Name, err)
		}
		if progress != nil {
			fmt.Fprintf(progress, "Loaded %s (%.1fs)\n", img.Name, time.Since(start).Seconds())
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// fullName keeps OCI ref.name annotations that name an image ("busybox:1.36") in
// their normalized form and drops bare tags ("latest"), which name nothing.
func fullName(name string) string {
	if !strings.ContainsAny(name, ":/@") {
		return ""
	}
	n, err := Normalize(name)
	if err != nil {
		return ""
	}
	return n
}

// Info describes one image for `kplay image ls`.
type Info struct {
	Name    string
	Digest  string
	Size    int64 // compressed size of the content for this platform
	Created time.Time
}

// List returns the images of the namespace.
func List(ctx context.Context, c *client.Client) ([]Info, error) {
	imgs, err := c.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	infos := make([]Info, 0, len(imgs))
	for _, img := range imgs {
		size, _ := img.Size(ctx)
		infos = append(infos, Info{
			Name:    img.Name(),
			Digest:  img.Target().Digest.String(),
			Size:    size,
			Created: img.Metadata().CreatedAt,
		})
	}
	return infos, nil
}

// Remove deletes images by reference ("httpd" removes docker.io/library/httpd:latest).
// Containers created from an image keep their snapshots; the content goes once
// nothing references it. Every reference is tried; missing ones are reported.
func Remove(ctx context.Context, c *client.Client, refs []string) error {
	var errs []error
	for _, ref := range refs {
		name := ref
		if _, err := c.ImageService().Get(ctx, ref); errdefs.IsNotFound(err) {
			if n, nerr := Normalize(ref); nerr == nil {
				name = n
			}
		}
		if err := c.ImageService().Delete(ctx, name, images.SynchronousDelete()); err != nil {
			errs = append(errs, fmt.Errorf("removing image %q: %w", ref, err))
		}
	}
	return errors.Join(errs...)
}
