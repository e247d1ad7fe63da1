package runtime

import (
	"context"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/runtime/restart"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/logs"
)

// restartPolicyWarning is printed once per up when the daemon cannot honour a policy.
const restartPolicyWarning = "containerd 1.6 restarts containers only for restartPolicy Always; with OnFailure a failed container stays exited, as with Never"

// ttyRestartWarning says why a tty container is not restarted on containerd 1.6.
const ttyRestartWarning = "has tty: containerd 1.6's restart monitor cannot give a restarted container a terminal, so it is not restarted when it exits (containerd 1.7+ restarts it)"

// restarts reports whether a failed container of a pod with this policy is started
// again: never with Never, and with OnFailure only where the daemon knows policies.
func (r *Runtime) restarts(policy corev1.RestartPolicy) bool {
	return policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && r.restartPolicies)
}

// setRestartLabels hands the container to containerd's restart monitor. It runs after
// the task started, so the monitor never races kplay's own first start.
func (r *Runtime) setRestartLabels(ctx context.Context, ctr client.Container, podUID, name string, policy corev1.RestartPolicy, tty bool) error {
	if tty && !r.restartPolicies {
		return nil // see ttyRestartWarning
	}
	var monitorPolicy string
	switch policy {
	case corev1.RestartPolicyAlways:
		monitorPolicy = "always"
	case corev1.RestartPolicyOnFailure:
		monitorPolicy = "on-failure"
	default:
		return nil
	}
	if !r.restartPolicies && monitorPolicy != "always" {
		return nil
	}
	uri, err := logs.LogURI(r.infra.Binary, logs.Driver{Path: r.dirs(podUID).Log(name), Rotation: r.cfg.LogRotation})
	if err != nil {
		return err
	}
	l := map[string]string{
		restart.StatusLabel: string(client.Running),
		restart.LogURILabel: uri.String(),
	}
	if r.restartPolicies {
		l[restart.PolicyLabel] = monitorPolicy
	}
	return r.setLabels(ctx, ctr.ID(), l)
}

// clearRestartLabels takes the container id away from the restart monitor, so
// stopping it does not bring it back.
func (r *Runtime) clearRestartLabels(ctx context.Context, id string) error {
	return r.setLabels(ctx, id, map[string]string{
		restart.StatusLabel: "",
		restart.PolicyLabel: "",
		restart.LogURILabel: "",
	})
}

// setLabels sets labels on the container record id in one call (client.Container's
// SetLabels reads the record first); an empty value deletes a label.
func (r *Runtime) setLabels(ctx context.Context, id string, labels map[string]string) error {
	paths := make([]string, 0, len(labels))
	for k := range labels {
		paths = append(paths, "labels."+k)
	}
	_, err := r.client.ContainerService().Update(ctx, containers.Container{ID: id, Labels: labels}, paths...)
	return err
}
