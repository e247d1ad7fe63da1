// Package labels holds every containerd label and OCI annotation key kplay writes.
// Labels are kplay's source of truth: any cache on disk can be rebuilt from them.
package labels

import "strings"

const (
	prefix = "io.kplay."

	// PodNamespace and PodName identify the Kubernetes pod a container belongs to.
	PodNamespace = prefix + "pod.namespace"
	PodName      = prefix + "pod.name"
	// PodUID is the pod's metadata.uid, stable for one pod name and spec.
	PodUID = prefix + "pod.uid"
	// Container is the Kubernetes container name; empty for the infra container.
	Container = prefix + "container.name"
	// Role is one of RoleInfra, RoleInit or RoleApp.
	Role = prefix + "role"
	// Owner is the object that declared the pod, "Deployment/web" or "Pod/web".
	Owner = prefix + "owner"
	// Source is the absolute path of the file that declared the pod ("-" for stdin).
	Source = prefix + "source"
	// SpecHash is the plan's hash over everything that decides what runs.
	SpecHash = prefix + "spec-hash"
	// Created is the RFC 3339 time at which kplay created the pod.
	Created = prefix + "created"
	// PodIP is the IP address CNI gave the pod, on the infra container.
	PodIP = prefix + "pod.ip"
	// Ports is the pod's published host ports, "8080:80/tcp,..." on the infra container.
	Ports = prefix + "ports"
	// Index is a container's position in the pod: init containers first, then app containers.
	Index = prefix + "container.index"
	// Claims lists the PersistentVolumeClaims a pod uses, "namespace/name,...", on the infra container.
	Claims = prefix + "claims"
	// HostNetwork is "true" on the infra container of a hostNetwork pod.
	HostNetwork = prefix + "host-network"
	// ExitCode is the exit code of a finished init container, kept after its task is deleted.
	ExitCode = prefix + "exit-code"
	// ExitReason is the kubelet's reason for that exit when it is not its exit code's
	// (OOMKilled), and FinishedAt the RFC 3339 time of the exit.
	ExitReason = prefix + "exit-reason"
	FinishedAt = prefix + "finished-at"
	// VolumeDataHash is the plan's hash over configMap and secret volume contents,
	// which are updated in place rather than recreating the pod.
	VolumeDataHash = prefix + "volume-data-hash"
	// PodLabels is the pod's own metadata.labels as JSON, on the infra container.
	PodLabels = prefix + "pod.labels"
	// PodPorts is the containers' declared ports as JSON, on the infra container, so a
	// Service's named targetPort resolves without the pod's spec.
	PodPorts = prefix + "pod.ports"
	// PodHostname and PodSubdomain are spec.hostname and spec.subdomain, on the infra
	// container, for the DNS names of pods behind a headless Service.
	PodHostname  = prefix + "pod.hostname"
	PodSubdomain = prefix + "pod.subdomain"
	// Containers lists the pod's app container names, "a,b", on the infra container,
	// so ps can show those not created yet.
	Containers = prefix + "containers"
	// DefaultContainer is the pod's kubectl.kubernetes.io/default-container annotation,
	// on the infra container: logs and exec without -c pick that container, as kubectl does.
	DefaultContainer = prefix + "default-container"
	// Complete is "true" on the infra container once every container of the pod
	// was created and started.
	Complete = prefix + "complete"
	// Ready is "false" on a container whose readiness kplay has not seen pass (it has
	// a readiness or startup probe), "true" once `up --wait` saw it pass.
	Ready = prefix + "ready"
	// ConfigError prefixes a label on the infra container, one per container name,
	// holding why kplay refused to create that container (CreateContainerConfigError).
	ConfigError = prefix + "config-error."
	// GracePeriod is the pod's terminationGracePeriodSeconds.
	GracePeriod = prefix + "grace-period"
	// RestartPolicy is the pod's restartPolicy, kept so ps can tell Error from CrashLoopBackOff.
	RestartPolicy = prefix + "restart-policy"

	// Binary is the program a pod's shim runs (pause, log driver, hook), on the infra
	// container: kplay-helper, or for pods of an older kplay a copy of that kplay.
	// Programs no pod uses can go.
	Binary = prefix + "binary"
	// LeasePID is the process ID of the kplay that holds a containerd lease.
	LeasePID = prefix + "pid"
	// LeaseProcess tells that process from a later one with the same ID: the boot
	// and the process's start time ("<boot id>/<start ticks>").
	LeaseProcess = prefix + "process"

	RoleInfra = "infra"
	RoleInit  = "init"
	RoleApp   = "app"

	// ShimGroup is the OCI annotation that makes containerd-shim-runc-v2 serve every
	// container of a pod from one shim process.
	ShimGroup = "io.containerd.runc.v2.group"
)

// MaxSize is containerd's limit on one label: key and value together, in bytes.
const MaxSize = 4096

// List is the value of a label that holds a list, such as Containers: "a,b".
func List(values []string) string { return strings.Join(values, ",") }
