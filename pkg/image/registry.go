package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
)

// resolverFunc gives a resolver per pull: a resolver caches tokens and is not
// meant to be shared across parallel pulls of different repositories.
type resolverFunc func() remotes.Resolver

// newResolver configures registries from hostsDir (the hosts.toml layout containerd,
// ctr and nerdctl read) with credentials from the Docker config. Credential helpers
// (credsStore, credHelpers) are not supported.
func newResolver(ctx context.Context, hostsDir string) resolverFunc {
	auths := dockerAuths()
	opts := config.HostOptions{
		Credentials: func(host string) (string, string, error) {
			a := auths.lookup(host)
			return a.user, a.secret, nil
		},
	}
	// An empty root would look for registry directories relative to the working directory.
	if hostsDir != "" {
		opts.HostDir = config.HostDirFromRoot(hostsDir)
	}
	hosts := config.ConfigureHosts(ctx, opts)
	return func() remotes.Resolver {
		return docker.NewResolver(docker.ResolverOptions{Hosts: hosts})
	}
}

type credential struct{ user, secret string }

type authMap map[string]credential

// dockerAuths reads `auths` of $DOCKER_CONFIG/config.json or ~/.docker/config.json.
// A missing or unreadable file means anonymous pulls.
func dockerAuths() authMap {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(home, ".docker")
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil
	}
	auths, _ := parseDockerConfig(b)
	return auths
}

func parseDockerConfig(b []byte) (authMap, error) {
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("reading docker config: %w", err)
	}
	auths := authMap{}
	for key, a := range cfg.Auths {
		c := credential{user: a.Username, secret: a.Password}
		if a.Auth != "" {
			if dec, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
				if user, pass, ok := strings.Cut(string(dec), ":"); ok {
					c = credential{user: user, secret: pass}
				}
			}
		}
		if a.IdentityToken != "" {
			// containerd's authorizer takes a refresh token as the secret with no user.
			c = credential{secret: a.IdentityToken}
		}
		auths[registryHost(key)] = c
	}
	return auths, nil
}

// registryHost turns a Docker config key ("https://index.docker.io/v1/",
// "registry.example.com:5000") into the host containerd asks credentials for.
func registryHost(key string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	switch host {
	case "index.docker.io", "docker.io":
		return "registry-1.docker.io"
	}
	return host
}

func (a authMap) lookup(host string) credential {
	if a == nil {
		return credential{}
	}
	return a[host]
}
