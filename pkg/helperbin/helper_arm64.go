package helperbin

import _ "embed"

//go:embed kplay-helper-linux-arm64
var helper []byte
