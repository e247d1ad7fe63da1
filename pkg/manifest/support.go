package manifest

import (
	"fmt"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// support is what kplay does with a field. docs/kubernetes-support.md is
// generated from the tables below (go test ./pkg/manifest -run TestSupportDoc -update).
type support int

const (
	// supported: kplay does what Kubernetes does with it.
	supported support = iota
	// noEffect: only cluster components read it; running on one machine changes nothing.
	noEffect
	// ignored: accepted, but kplay does not do what Kubernetes would; Validate warns.
	ignored
	// rejected: kplay cannot run the object faithfully; Validate fails.
	rejected
)

func (s support) String() string {
	return [...]string{"supported", "no effect", "ignored with a warning", "rejected"}[s]
}

// fieldRule is kplay's support for one field of a Kubernetes type.
type fieldRule struct {
	field   string // JSON name, or a dotted path into a nested struct ("os.name")
	support support
	note    string
	// unless lists values that are the default or mean "not used": such a value is
	// neither warned about nor rejected (e.g. schedulerName: default-scheduler).
	unless []string
}

// ruleSet is the rules for every field of one type.
type ruleSet struct {
	title string
	typ   reflect.Type
	rules []fieldRule
}

const otherVolumes = "kplay supports only hostPath, emptyDir, configMap, secret and persistentVolumeClaim volumes"

var (
	objectMetaRules = ruleSet{"metadata (every kind)", reflect.TypeOf(metav1.ObjectMeta{}), []fieldRule{
		{"name", supported, "required: kplay needs a stable name, so generateName alone is rejected", nil},
		{"generateName", rejected, "kplay needs a fixed name; set metadata.name", nil},
		{"namespace", supported, "defaults to `default`; objects refer to each other within a namespace", nil},
		{"labels", supported, "", nil},
		{"annotations", supported, "", nil},
		{"selfLink", noEffect, "set by an API server", nil},
		{"uid", noEffect, "kplay assigns its own", nil},
		{"resourceVersion", noEffect, "set by an API server", nil},
		{"generation", noEffect, "set by an API server", nil},
		{"creationTimestamp", noEffect, "set by an API server", nil},
		{"deletionTimestamp", noEffect, "set by an API server", nil},
		{"deletionGracePeriodSeconds", noEffect, "set by an API server", nil},
		{"ownerReferences", noEffect, "no garbage collector; kplay tracks owners in container labels", nil},
		{"finalizers", noEffect, "no controllers run finalizers", nil},
		{"managedFields", noEffect, "server-side apply bookkeeping", nil},
	}}

	podSpecRules = ruleSet{"Pod spec (`spec`, and `spec.template.spec` of a Deployment)", reflect.TypeOf(corev1.PodSpec{}), []fieldRule{
		{"volumes", supported, "see the volume table; other volume types are rejected", nil},
		{"initContainers", supported, "run in order before the app containers; sidecars (restartPolicy: Always) are rejected", nil},
		{"containers", supported, "", nil},
		{"ephemeralContainers", rejected, "added only through the API server's ephemeralcontainers subresource", nil},
		{"restartPolicy", supported, "Always, OnFailure or Never; Deployments need Always. On containerd 1.6 OnFailure acts as Never, with a warning", nil},
		{"terminationGracePeriodSeconds", supported, "time between the stop signal and SIGKILL (default 30)", nil},
		{"activeDeadlineSeconds", ignored, "kplay does not stop pods after a deadline", nil},
		{"dnsPolicy", supported, "ClusterFirst (the default) uses the pod's own responder for Service names (see Services), Default the host's resolv.conf, None dnsConfig alone", nil},
		{"nodeSelector", ignored, "kplay runs every pod on this machine", nil},
		{"serviceAccountName", ignored, "only visible through fieldRef spec.serviceAccountName; no token is mounted", []string{"default"}},
		{"serviceAccount", ignored, "deprecated alias of serviceAccountName; no token is mounted", []string{"default"}},
		{"automountServiceAccountToken", ignored, "kplay never mounts a service account token", []string{"false"}},
		{"nodeName", ignored, "kplay runs every pod on this machine and uses its name", nil},
		{"hostNetwork", supported, "no network namespace; hostPort must equal containerPort", nil},
		{"hostPID", rejected, "kplay cannot run a pod in the host's PID namespace", []string{"false"}},
		{"hostIPC", rejected, "kplay cannot run a pod in the host's IPC namespace", []string{"false"}},
		{"shareProcessNamespace", supported, "containers join the pause container's PID namespace", nil},
		{"securityContext", supported, "see the pod securityContext table", nil},
		{"imagePullSecrets", ignored, "kplay pulls with containerd's registry configuration", nil},
		{"hostname", supported, "", nil},
		{"subdomain", supported, "", nil},
		{"affinity", ignored, "kplay runs every pod on this machine", nil},
		{"schedulerName", ignored, "kplay runs every pod on this machine", []string{"default-scheduler"}},
		{"tolerations", ignored, "kplay runs every pod on this machine", nil},
		{"hostAliases", supported, "appended to /etc/hosts as the kubelet does", nil},
		{"priorityClassName", ignored, "no scheduling or preemption", nil},
		{"priority", ignored, "no scheduling or preemption", nil},
		{"dnsConfig", supported, "", nil},
		{"readinessGates", ignored, "no controllers set pod conditions", nil},
		{"runtimeClassName", ignored, "every pod runs with runc", nil},
		{"enableServiceLinks", supported, "default true: the Services of the pod's namespace that exist when it is created give `<NAME>_SERVICE_HOST` and the other link variables", nil},
		{"preemptionPolicy", ignored, "no scheduling or preemption", nil},
		{"overhead", ignored, "set by RuntimeClass admission, which kplay does not run", nil},
		{"topologySpreadConstraints", ignored, "kplay runs every pod on this machine", nil},
		{"setHostnameAsFQDN", ignored, "the hostname is the short name", []string{"false"}},
		{"os.name", rejected, "kplay runs Linux pods only", []string{"linux"}},
		{"hostUsers", ignored, "kplay does not use user namespaces", []string{"true"}},
		{"schedulingGates", ignored, "the pod runs at once", nil},
		{"resourceClaims", rejected, "dynamic resource allocation needs a cluster", nil},
		{"resources", ignored, "pod-level resources are not applied; use container limits", nil},
		{"hostnameOverride", rejected, "kplay sets the hostname from hostname and subdomain only", nil},
		{"schedulingGroup", ignored, "no scheduling", nil},
		{"evictionResponders", ignored, "kplay does not evict pods", nil},
	}}

	podSecurityRules = ruleSet{"Pod `securityContext`", reflect.TypeOf(corev1.PodSecurityContext{}), []fieldRule{
		{"runAsUser", supported, "default for every container", nil},
		{"runAsGroup", supported, "default for every container", nil},
		{"supplementalGroups", supported, "", nil},
		{"runAsNonRoot", supported, "default for every container: a container whose user is root (runAsUser 0, or the image's USER unset, 0 or non-numeric) is not created and waits with CreateContainerConfigError, as with the kubelet", nil},
		{"seLinuxOptions", ignored, "no SELinux labels", nil},
		{"windowsOptions", ignored, "Linux only", nil},
		{"supplementalGroupsPolicy", ignored, "groups from the image's /etc/group are merged as the runtime decides", nil},
		{"fsGroup", ignored, "volume ownership is not changed; the group is only added to every container's supplementary groups, as the kubelet adds it", nil},
		{"sysctls", ignored, "sysctls are not set", nil},
		{"fsGroupChangePolicy", ignored, "volume ownership is not changed", nil},
		{"seccompProfile", supported, "default for every container: RuntimeDefault is containerd's default profile, Localhost reads `<data-root>/seccomp/<localhostProfile>`; unset is Unconfined unless `--seccomp-default`", nil},
		{"appArmorProfile", supported, "default for every container: RuntimeDefault is containerd's default profile, Localhost a loaded profile; on a kernel without AppArmor nothing is applied and kplay warns", nil},
		{"seLinuxChangePolicy", ignored, "no SELinux labels", nil},
	}}

	containerRules = ruleSet{"Container (`containers[*]`, `initContainers[*]`)", reflect.TypeOf(corev1.Container{}), []fieldRule{
		{"name", supported, "DNS-1123 label, unique across init and app containers", nil},
		{"image", supported, "required", nil},
		{"command", supported, "`$(VAR)` expanded as the kubelet does", nil},
		{"args", supported, "`$(VAR)` expanded as the kubelet does", nil},
		{"workingDir", supported, "kplay needs an absolute path (the API server takes a relative one, which the OCI runtime refuses)", nil},
		{"ports", supported, "hostPort is published through CNI portmap; hostIP must be an IP address (the API server takes any string)", nil},
		{"envFrom", supported, "configMapRef, secretRef, prefix", nil},
		{"env", supported, "value, configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef", nil},
		{"resources", supported, "see the resources table", nil},
		{"resizePolicy", noEffect, "kplay never resizes a running container", nil},
		{"restartPolicy", rejected, "sidecar init containers are not supported", nil},
		{"restartPolicyRules", rejected, "per-exit-code restart rules are not supported", nil},
		{"volumeMounts", supported, "see the volumeMount table", nil},
		{"volumeDevices", rejected, "raw block devices are not supported", nil},
		{"livenessProbe", ignored, "containers are not restarted by probes", nil},
		{"readinessProbe", supported, "evaluated only while `kplay up --wait` waits (there is no daemon): exec, httpGet, tcpSocket, grpc; initialDelaySeconds, periodSeconds, timeoutSeconds; one success makes the container ready (successThreshold is not counted)", nil},
		{"startupProbe", supported, "evaluated only while `kplay up --wait` waits, before the readiness probe; failureThreshold failures do not restart the container (up --wait waits to its --timeout)", nil},
		{"lifecycle", ignored, "postStart and preStop hooks do not run", nil},
		{"terminationMessagePath", noEffect, "termination messages appear only in pod status", nil},
		{"terminationMessagePolicy", noEffect, "termination messages appear only in pod status", nil},
		{"imagePullPolicy", supported, "Always, IfNotPresent or Never; `kplay up --pull` overrides", nil},
		{"securityContext", supported, "see the container securityContext table", nil},
		{"stdin", ignored, "containers get no standard input", []string{"false"}},
		{"stdinOnce", ignored, "containers get no standard input", []string{"false"}},
		{"tty", supported, "a terminal; its output is the container's log (stdout). On containerd 1.6 a tty container is not restarted when it exits (a warning says so)", nil},
	}}

	containerSecurityRules = ruleSet{"Container `securityContext`", reflect.TypeOf(corev1.SecurityContext{}), []fieldRule{
		{"capabilities", supported, "add and drop", nil},
		{"privileged", supported, "", nil},
		{"runAsUser", supported, "", nil},
		{"runAsGroup", supported, "", nil},
		{"readOnlyRootFilesystem", supported, "", nil},
		{"allowPrivilegeEscalation", supported, "false sets no_new_privs; unset or true leaves it off, so setuid binaries work, as with the kubelet", nil},
		{"runAsNonRoot", supported, "a container whose user is root is not created and waits with CreateContainerConfigError, as with the kubelet", nil},
		{"seLinuxOptions", ignored, "no SELinux labels", nil},
		{"windowsOptions", ignored, "Linux only", nil},
		{"procMount", ignored, "/proc is always masked as by default", []string{"Default"}},
		{"seccompProfile", supported, "overrides the pod's; privileged containers stay unconfined", nil},
		{"appArmorProfile", supported, "overrides the pod's and the `container.apparmor.security.beta.kubernetes.io/<name>` annotation", nil},
	}}

	resourceRules = ruleSet{"Container `resources`", reflect.TypeOf(corev1.ResourceRequirements{}), []fieldRule{
		{"limits", supported, "cpu becomes a CFS quota (period 100ms, at least 1ms), memory the cgroup memory limit, as with the kubelet; other resource names are ignored with a warning", nil},
		{"requests", supported, "cpu becomes cpu.shares (milliCPU × 1024 / 1000, 2 to 262144; without a request, the cpu limit), as with the kubelet; nothing is reserved, and a memory request sets nothing, as with the kubelet by default. resourceFieldRef reads them", nil},
		{"claims", rejected, "dynamic resource allocation needs a cluster", nil},
	}}

	volumeMountRules = ruleSet{"Container `volumeMounts[*]`", reflect.TypeOf(corev1.VolumeMount{}), []fieldRule{
		{"name", supported, "must name a volume of the pod", nil},
		{"readOnly", supported, "", nil},
		{"recursiveReadOnly", ignored, "read-only mounts are not made recursively read-only", []string{"Disabled"}},
		{"mountPath", supported, "required, unique within the container; kplay needs it absolute (the API server takes a relative one, which the kubelet prefixes with `/`)", nil},
		{"subPath", supported, "relative, without `..`; opened without following symlinks and bind-mounted, so a container cannot swap it (see docs/security.md)", nil},
		{"mountPropagation", ignored, "mounts are private", []string{"None"}},
		{"subPathExpr", supported, "expanded with the container's env", nil},
		{"bindMountOptions", ignored, "no extra mount options are applied", nil},
	}}

	envSourceRules = ruleSet{"Env `valueFrom`", reflect.TypeOf(corev1.EnvVarSource{}), []fieldRule{
		{"fieldRef", supported, "metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP, status.podIPs", nil},
		{"resourceFieldRef", supported, "limits.* and requests.* of cpu, memory and ephemeral-storage", nil},
		{"configMapKeyRef", supported, "from the files or an earlier `up` (kplay's store)", nil},
		{"secretKeyRef", supported, "from the files or an earlier `up` (kplay's store)", nil},
		{"fileKeyRef", rejected, "env from files in volumes is not supported", nil},
	}}

	volumeSourceRules = ruleSet{"Volume (`volumes[*]`)", reflect.TypeOf(corev1.VolumeSource{}), []fieldRule{
		{"hostPath", supported, "path and type; a relative path is a kplay extension, resolved against the directory of the file; `..` is rejected", nil},
		{"emptyDir", supported, "medium \"\" or Memory, sizeLimit; HugePages media are rejected", nil},
		{"configMap", supported, "items, defaultMode, per-item mode, optional; always mounted read-only, as Kubernetes does", nil},
		{"secret", supported, "items, defaultMode, per-item mode, optional; kept on a tmpfs of a few MiB; always mounted read-only", nil},
		{"persistentVolumeClaim", supported, "a directory under kplay's data root; the claim must be in the files, applied by an earlier `up`, or have data already", nil},
		{"gcePersistentDisk", rejected, otherVolumes, nil},
		{"awsElasticBlockStore", rejected, otherVolumes, nil},
		{"gitRepo", rejected, otherVolumes, nil},
		{"nfs", rejected, otherVolumes, nil},
		{"iscsi", rejected, otherVolumes, nil},
		{"glusterfs", rejected, otherVolumes, nil},
		{"rbd", rejected, otherVolumes, nil},
		{"flexVolume", rejected, otherVolumes, nil},
		{"cinder", rejected, otherVolumes, nil},
		{"cephfs", rejected, otherVolumes, nil},
		{"flocker", rejected, otherVolumes, nil},
		{"downwardAPI", rejected, otherVolumes, nil},
		{"fc", rejected, otherVolumes, nil},
		{"azureFile", rejected, otherVolumes, nil},
		{"vsphereVolume", rejected, otherVolumes, nil},
		{"quobyte", rejected, otherVolumes, nil},
		{"azureDisk", rejected, otherVolumes, nil},
		{"photonPersistentDisk", rejected, otherVolumes, nil},
		{"projected", rejected, otherVolumes, nil},
		{"portworxVolume", rejected, otherVolumes, nil},
		{"scaleIO", rejected, otherVolumes, nil},
		{"storageos", rejected, otherVolumes, nil},
		{"csi", rejected, otherVolumes, nil},
		{"ephemeral", rejected, otherVolumes, nil},
		{"image", rejected, otherVolumes, nil},
	}}

	emptyDirRules = ruleSet{"`emptyDir` volume", reflect.TypeOf(corev1.EmptyDirVolumeSource{}), []fieldRule{
		{"medium", supported, "\"\" (disk under kplay's data root) or Memory (tmpfs)", nil},
		{"sizeLimit", supported, "the size of a Memory emptyDir's tmpfs (a write past it fails), never more than the pod's memory limit when every container has one, as the kubelet sizes it; on disk it is not enforced (the kubelet evicts the pod past it, and kplay has no daemon to watch)", nil},
		{"mode", ignored, "the directory gets kplay's default mode", nil},
	}}

	deploymentSpecRules = ruleSet{"Deployment spec", reflect.TypeOf(appsv1.DeploymentSpec{}), []fieldRule{
		{"replicas", supported, "default 1, 0 allowed; pods are named `<name>-0` ... `<name>-<N-1>`", nil},
		{"selector", supported, "required, non-empty, must match the template labels", nil},
		{"template", supported, "", nil},
		{"strategy", ignored, "`up --replace` replaces changed pods at once", nil},
		{"minReadySeconds", ignored, "there are no rollouts", nil},
		{"revisionHistoryLimit", noEffect, "there are no ReplicaSets", nil},
		{"paused", ignored, "the pods run anyway", []string{"false"}},
		{"progressDeadlineSeconds", noEffect, "there are no rollouts", nil},
	}}

	claimSpecRules = ruleSet{"PersistentVolumeClaim spec", reflect.TypeOf(corev1.PersistentVolumeClaimSpec{}), []fieldRule{
		{"accessModes", supported, "required as in Kubernetes; the directory serves every mode", nil},
		{"resources", supported, "requests.storage required as in Kubernetes; the size is not enforced", nil},
		{"selector", ignored, "there are no PersistentVolumes to select", nil},
		{"volumeName", ignored, "there are no PersistentVolumes to bind", nil},
		{"storageClassName", ignored, "claims are directories under kplay's data root", nil},
		{"volumeMode", rejected, "only Filesystem claims are supported", []string{"Filesystem"}},
		{"dataSource", rejected, "claims start empty", nil},
		{"dataSourceRef", rejected, "claims start empty", nil},
		{"volumeAttributesClassName", ignored, "claims are directories under kplay's data root", nil},
	}}

	configMapRules = ruleSet{"ConfigMap", reflect.TypeOf(corev1.ConfigMap{}), []fieldRule{
		{"data", supported, "", nil},
		{"binaryData", supported, "", nil},
		{"immutable", ignored, "`up --replace` updates volumes anyway", []string{"false"}},
	}}

	secretRules = ruleSet{"Secret", reflect.TypeOf(corev1.Secret{}), []fieldRule{
		{"data", supported, "values must be base64", nil},
		{"stringData", supported, "merged into data on load, stringData winning, as the API server does", nil},
		{"type", supported, "stored; the keys a type requires are checked as the API server does (tls.crt and tls.key for kubernetes.io/tls, ...)", nil},
		{"immutable", ignored, "`up --replace` updates volumes anyway", []string{"false"}},
	}}
)

var serviceSpecRules = ruleSet{"Service spec", reflect.TypeOf(corev1.ServiceSpec{}), []fieldRule{
	{"type", supported, "ClusterIP, NodePort (every host address, 127.0.0.1 included), LoadBalancer (NodePort plus `port` on every host address, the host address in status, as k3s's ServiceLB) or ExternalName (a DNS CNAME)", nil},
	{"selector", supported, "the pods of the Service's namespace whose labels match and that run and are ready; without a selector the Service has no endpoints (kplay does not read Endpoints objects)", nil},
	{"ports", supported, "TCP and UDP; targetPort a number or a container port's name; nodePort from 30000-32767", nil},
	{"clusterIP", supported, "from --service-cidr when unset, stable across ups; None makes the Service headless", nil},
	{"clusterIPs", supported, "set from clusterIP", nil},
	{"sessionAffinity", supported, "ClientIP sends a client to the endpoint it used last", nil},
	{"sessionAffinityConfig", supported, "clientIP.timeoutSeconds, default 10800", nil},
	{"externalName", supported, "answered as a CNAME", nil},
	{"externalIPs", rejected, "kplay serves Services on the host's own addresses (NodePort, LoadBalancer)", nil},
	{"publishNotReadyAddresses", ignored, "only ready pods are endpoints", []string{"false"}},
	{"externalTrafficPolicy", ignored, "there is one node: traffic from outside is masqueraded as with Cluster", []string{"Cluster"}},
	{"internalTrafficPolicy", ignored, "there is one node", []string{"Cluster"}},
	{"healthCheckNodePort", ignored, "there is no external load balancer to check it", nil},
	{"loadBalancerIP", ignored, "a LoadBalancer listens on the host's addresses", nil},
	{"loadBalancerSourceRanges", ignored, "not enforced", nil},
	{"loadBalancerClass", ignored, "kplay is the only load balancer", nil},
	{"allocateLoadBalancerNodePorts", ignored, "a LoadBalancer always gets nodePorts", []string{"true"}},
	{"ipFamilies", ignored, "Services are IPv4", []string{"[IPv4]"}},
	{"ipFamilyPolicy", ignored, "Services are IPv4", []string{"SingleStack"}},
	{"trafficDistribution", ignored, "there is one node", nil},
}}

// supportTables are every table, in the order the docs show them.
var supportTables = []ruleSet{
	objectMetaRules, podSpecRules, podSecurityRules, containerRules, containerSecurityRules,
	resourceRules, volumeMountRules, envSourceRules, volumeSourceRules, emptyDirRules,
	deploymentSpecRules, claimSpecRules, configMapRules, secretRules, serviceSpecRules,
}

// checkFields applies a rule set to one value: a warning for each ignored field
// that is set, an error for each rejected one.
func checkFields(rs ruleSet, v any, path *field.Path) (warnings []string, errs field.ErrorList) {
	rv := reflect.ValueOf(v)
	for _, r := range rs.rules {
		if r.support != ignored && r.support != rejected {
			continue
		}
		val, ok := fieldValue(rv, r.field)
		if !ok || contains(r.unless, fmt.Sprint(val.Interface())) {
			continue
		}
		p := path.Child(r.field)
		if r.support == ignored {
			warnings = append(warnings, fmt.Sprintf("%s is ignored: %s", p, r.note))
		} else {
			errs = append(errs, field.Forbidden(p, r.note))
		}
	}
	return warnings, errs
}

// fieldValue finds the field at a dotted JSON path and reports whether the user
// set it: a nil pointer, an empty list or map, or a zero plain value is unset; a
// pointer to a zero value was written explicitly. Pointers are dereferenced.
func fieldValue(v reflect.Value, path string) (reflect.Value, bool) {
	for _, name := range strings.Split(path, ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		idx, ok := fieldIndex(v.Type(), name)
		if !ok {
			panic(fmt.Sprintf("manifest: %s has no field %q", v.Type(), name))
		}
		v = v.FieldByIndex(idx)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		return v.Elem(), true
	case reflect.Slice, reflect.Map:
		return v, v.Len() > 0
	}
	return v, !v.IsZero()
}

func fieldIndex(t reflect.Type, name string) ([]int, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name {
			return f.Index, true
		}
	}
	return nil, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
