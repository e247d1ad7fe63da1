//go:build !amd64 && !arm64

package helperbin

// helper is not built for this architecture (see mkhelper.go): Prepare fails.
var helper []byte
