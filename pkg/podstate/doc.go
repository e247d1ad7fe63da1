// Package podstate is kplay's state codec: how a pod, its owner and its containers
// are written into containerd labels and read back (labels.go), how they are named
// in containerd and CNI (ids.go), and where every file lives under --run-root and
// --data-root (layout.go). The label keys are in package labels; their values, IDs
// and paths are known here and nowhere else.
package podstate
