package plan

import (
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

// Build plans the pods that objs define.
func Build(objs []manifest.Object, opts Options) (*Plan, error) {
	return nil, errors.New("not implemented")
}

// Pod is the planned pod as the API server would show it.
func (p PodPlan) Pod() *corev1.Pod { return nil }

// Resolve expands the container's env, command, args and subPathExpr with the pod IP known.
func (c Container) Resolve(podIP string) (Resolved, error) { return Resolved{}, errors.New("not implemented") }
