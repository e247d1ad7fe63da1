package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

// limitOptions are the flags that bound what kplay reads and plans.
type limitOptions struct {
	MaxManifestSize string
	MaxPods         int
}

// addFlags adds --max-manifest-size, and --max-pods when the command plans pods.
func (o *limitOptions) addFlags(f *pflag.FlagSet, pods bool) {
	f.StringVar(&o.MaxManifestSize, "max-manifest-size", manifest.FormatBytes(manifest.DefaultMaxBytes),
		"largest file or standard input kplay reads, in bytes or as a quantity (e.g. 64Mi, 1Gi)")
	if pods {
		f.IntVar(&o.MaxPods, "max-pods", manifest.DefaultMaxPods, "most pods one up may plan (every replica counts)")
	}
}

func (o *limitOptions) maxBytes() (int64, error) {
	n, err := manifest.ParseBytes(o.MaxManifestSize)
	if err != nil {
		return 0, usageError{fmt.Errorf("--max-manifest-size: %w", err)}
	}
	return n, nil
}

// interruptible runs the pure part of a command (reading files, planning) so that
// a signal ends it at once: it creates nothing, so nothing is left to undo, and a
// read of a stdin that never ends or a long parse is simply abandoned.
func interruptible[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
