// Package e2e drives the built kplay binary against a real containerd, runc, the CNI plugins
// and a local registry (all set up by e2e/env/deps.sh), and checks after every test that
// nothing kplay created is left on the machine. Run it with `make e2e`, as root.
package e2e
