package runtime

import (
	"context"
	"io"

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
