package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockingReader is a stdin that never sends a byte. reading closes when the
// first read begins.
type blockingReader struct {
	reading chan struct{}
	once    sync.Once
	unblock chan struct{}
}

func (r *blockingReader) Read([]byte) (int, error) {
	r.once.Do(func() { close(r.reading) })
	<-r.unblock
	return 0, io.EOF
}

// TestUpInterruptedWhileReading: a signal (the cancelled context) ends up at
// once while it waits for standard input.
func TestUpInterruptedWhileReading(t *testing.T) {
	stdin := &blockingReader{reading: make(chan struct{}), unblock: make(chan struct{})}
	defer close(stdin.unblock)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCommand()
	cmd.SetArgs([]string{"up", "--dry-run", "-f", "-"})
	cmd.SetIn(stdin)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("up returned before it read stdin: %v", err)
	case <-stdin.reading:
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("up did not end within 1 s of the signal")
	}
}

func TestLimitFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--dry-run", "--max-manifest-size=lots", "-f", "-"}, `--max-manifest-size: invalid size "lots": use a number of bytes or a quantity such as 64Mi`},
		{[]string{"up", "--dry-run", "--max-pods=0", "-f", "-"}, "--max-pods must be at least 1, got 0"},
		{[]string{"down", "--max-manifest-size=0", "-f", "-"}, `--max-manifest-size: invalid size "0": use a number of bytes or a quantity such as 64Mi`},
		{[]string{"up", "--dry-run", "--max-manifest-size=10", "-f", "-"}, "stdin: larger than 10: kplay reads at most 10 of manifests per run (--max-manifest-size)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := newRootCommand()
			cmd.SetArgs(tt.args)
			cmd.SetIn(strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"))
			cmd.SetOut(io.Discard)
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.ExecuteContext(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
		})
	}
}
