package helperbin

import _ "embed"

//go:embed kplay-helper-linux-amd64
var helper []byte
