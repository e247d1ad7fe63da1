package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
)

// callCounter counts the calls kplay makes to containerd, by gRPC method: the cost of
// a pod in round trips (docs/design.md, "Cost of a pod"), which an e2e test keeps from
// growing. It is on only when Config.CountCalls names a file.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) add(method string) {
	c.mu.Lock()
	c.n[method]++
	c.mu.Unlock()
}

func (c *callCounter) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			c.add(method)
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			c.add(method)
			return streamer(ctx, desc, cc, method, opts...)
		}),
	}
}

// write replaces path with the counts as a JSON object, method to calls.
func (c *callCounter) write(path string) error {
	c.mu.Lock()
	b, err := json.MarshalIndent(c.n, "", "  ")
	c.mu.Unlock()
	if err != nil {
		return err
	}
	// Root writes where a user pointed: never through a symlink planted there.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, f.Close())
}
