package manifest

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	restartPolicies  = []string{string(corev1.RestartPolicyAlways), string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}
	dnsPolicies      = []string{string(corev1.DNSClusterFirstWithHostNet), string(corev1.DNSClusterFirst), string(corev1.DNSDefault), string(corev1.DNSNone)}
	pullPolicies     = []string{string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever)}
	protocols        = []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}
	emptyDirMedia    = []string{"", string(corev1.StorageMediumMemory)}
	hostPathTypes    = []string{"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"}
	resourceFieldRef = []string{"limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage"}
	envFieldPaths    = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	// labelOrAnnotationRef is fieldRef's metadata.labels['key'] and metadata.annotations['key'].
	labelOrAnnotationRef = regexp.MustCompile(`^metadata\.(labels|annotations)\['(.+)'\]$`)
)

// validatePodSpec checks a Pod's spec, or a Deployment's template spec (whose
// pods must always restart).
func validatePodSpec(spec *corev1.PodSpec, p *field.Path, template bool) ([]string, field.ErrorList) {
	warnings, errs := checkFields(podSpecRules, spec, p)
	if sc := spec.SecurityContext; sc != nil {
		sp := p.Child("securityContext")
		w, e := checkFields(podSecurityRules, sc, sp)
		warnings, errs = append(warnings, w...), append(errs, e...)
		errs = append(errs, validateIDs(sc.RunAsUser, sc.RunAsGroup, sp)...)
		for i, g := range sc.SupplementalGroups {
			for _, msg := range validation.IsValidGroupID(g) {
				errs = append(errs, field.Invalid(sp.Child("supplementalGroups").Index(i), g, msg))
			}
		}
	}

	volumes, e := validateVolumes(spec.Volumes, p.Child("volumes"))
	errs = append(errs, e...)

	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	errs = append(errs, containerLabels(spec, p)...)
	pod := podInfo{spec: spec, volumes: volumes, names: map[string]bool{}}
	for _, c := range spec.Containers {
		pod.names[c.Name] = true
	}
	seen := map[string]bool{}
	for _, group := range []struct {
		name string
		list []corev1.Container
		init bool
	}{{"initContainers", spec.InitContainers, true}, {"containers", spec.Containers, false}} {
		for i := range group.list {
			c := &group.list[i]
			cp := p.Child(group.name).Index(i)
			if c.Name != "" && seen[c.Name] {
				errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
			}
			seen[c.Name] = true
			w, e := validateContainer(c, cp, pod, group.init)
			warnings, errs = append(warnings, w...), append(errs, e...)
		}
	}
	_, e = podHostPorts(spec, p)
	errs = append(errs, e...)

	switch rp := string(spec.RestartPolicy); {
	case template && rp != "" && rp != string(corev1.RestartPolicyAlways):
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	case rp != "" && !contains(restartPolicies, rp):
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), rp, restartPolicies))
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	errs = append(errs, validateNetworkIdentity(spec, p)...)
	return warnings, errs
}

// podInfo is what a container's checks need to know about its pod.
type podInfo struct {
	spec    *corev1.PodSpec
	volumes map[string]bool
	names   map[string]bool // app container names, for resourceFieldRef
}

func validateIDs(user, group *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if user != nil {
		for _, msg := range validation.IsValidUserID(*user) {
			errs = append(errs, field.Invalid(p.Child("runAsUser"), *user, msg))
		}
	}
	if group != nil {
		for _, msg := range validation.IsValidGroupID(*group) {
			errs = append(errs, field.Invalid(p.Child("runAsGroup"), *group, msg))
		}
	}
	return errs
}

// validateNetworkIdentity checks hostname, subdomain, hostAliases and DNS.
func validateNetworkIdentity(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"hostname", spec.Hostname}, {"subdomain", spec.Subdomain}} {
		if f.value == "" {
			continue
		}
		for _, msg := range validation.IsDNS1123Label(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	for i, ha := range spec.HostAliases {
		hp := p.Child("hostAliases").Index(i)
		errs = append(errs, validation.IsValidIP(hp.Child("ip"), ha.IP)...)
		for j, h := range ha.Hostnames {
			for _, msg := range validation.IsDNS1123Subdomain(h) {
				errs = append(errs, field.Invalid(hp.Child("hostnames").Index(j), h, msg))
			}
		}
	}
	if dp := string(spec.DNSPolicy); dp != "" && !contains(dnsPolicies, dp) {
		errs = append(errs, field.NotSupported(p.Child("dnsPolicy"), dp, dnsPolicies))
	}
	if spec.DNSPolicy == corev1.DNSNone && spec.DNSConfig == nil {
		errs = append(errs, field.Required(p.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	if dc := spec.DNSConfig; dc != nil {
		dp := p.Child("dnsConfig")
		if len(dc.Nameservers) > 3 {
			errs = append(errs, field.Invalid(dp.Child("nameservers"), dc.Nameservers, "must not have more than 3 nameservers"))
		}
		for i, ns := range dc.Nameservers {
			errs = append(errs, validation.IsValidIP(dp.Child("nameservers").Index(i), ns)...)
		}
		if len(dc.Searches) > 32 {
			errs = append(errs, field.Invalid(dp.Child("searches"), dc.Searches, "must not have more than 32 search paths"))
		}
		for i, s := range dc.Searches {
			for _, msg := range validation.IsDNS1123Subdomain(strings.TrimSuffix(s, ".")) {
				errs = append(errs, field.Invalid(dp.Child("searches").Index(i), s, msg))
			}
		}
		for i, o := range dc.Options {
			if o.Name == "" {
				errs = append(errs, field.Required(dp.Child("options").Index(i).Child("name"), "must not be empty"))
			}
		}
	}
	return errs
}

// validateVolumes checks the pod's volumes and returns the names they define.
func validateVolumes(vols []corev1.Volume, p *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case names[v.Name]:
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
			}
		}
		names[v.Name] = true

		var sources []string
		for _, r := range volumeSourceRules.rules {
			if _, set := fieldValue(reflect.ValueOf(&v.VolumeSource), r.field); set {
				sources = append(sources, r.field)
			}
		}
		switch {
		case len(sources) == 0:
			errs = append(errs, field.Required(vp, "must specify a volume type"))
			continue
		case len(sources) > 1:
			errs = append(errs, field.Forbidden(vp.Child(sources[1]), "may not specify more than 1 volume type"))
			continue
		}
		_, e := checkFields(volumeSourceRules, &v.VolumeSource, vp)
		errs = append(errs, e...)
		errs = append(errs, validateVolumeSource(&v.VolumeSource, vp)...)
	}
	return names, errs
}

func validateVolumeSource(v *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case v.HostPath != nil:
		hp := p.Child("hostPath")
		if v.HostPath.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		}
		if hasBackstep(v.HostPath.Path) {
			errs = append(errs, field.Invalid(hp.Child("path"), v.HostPath.Path, "must not contain '..'"))
		}
		if t := v.HostPath.Type; t != nil && !contains(hostPathTypes, string(*t)) {
			errs = append(errs, field.NotSupported(hp.Child("type"), *t, hostPathTypes))
		}
	case v.EmptyDir != nil:
		ep := p.Child("emptyDir")
		_, e := checkFields(emptyDirRules, v.EmptyDir, ep)
		errs = append(errs, e...)
		if m := string(v.EmptyDir.Medium); !contains(emptyDirMedia, m) {
			errs = append(errs, field.NotSupported(ep.Child("medium"), m, emptyDirMedia))
		}
		if q := v.EmptyDir.SizeLimit; q != nil && q.Sign() < 0 {
			errs = append(errs, field.Invalid(ep.Child("sizeLimit"), q.String(), "must be greater than or equal to 0"))
		}
	case v.ConfigMap != nil:
		cp := p.Child("configMap")
		errs = append(errs, validateObjectRef(v.ConfigMap.Name, cp.Child("name"))...)
		errs = append(errs, validateProjection(v.ConfigMap.Items, v.ConfigMap.DefaultMode, cp)...)
	case v.Secret != nil:
		sp := p.Child("secret")
		errs = append(errs, validateObjectRef(v.Secret.SecretName, sp.Child("secretName"))...)
		errs = append(errs, validateProjection(v.Secret.Items, v.Secret.DefaultMode, sp)...)
	case v.PersistentVolumeClaim != nil:
		errs = append(errs, validateObjectRef(v.PersistentVolumeClaim.ClaimName, p.Child("persistentVolumeClaim", "claimName"))...)
	}
	return errs
}

// validateObjectRef checks the name of a ConfigMap, Secret or claim a pod uses.
func validateObjectRef(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

const modeMessage = "must be a number between 0 and 0777 (octal), both inclusive"

// validateProjection checks a configMap or secret volume's items and modes.
func validateProjection(items []corev1.KeyToPath, defaultMode *int32, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if defaultMode != nil && (*defaultMode < 0 || *defaultMode > 0777) {
		errs = append(errs, field.Invalid(p.Child("defaultMode"), *defaultMode, modeMessage))
	}
	for i, it := range items {
		ip := p.Child("items").Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		} else {
			errs = append(errs, validateKey(ip.Child("key"), it.Key)...)
		}
		if it.Path == "" {
			errs = append(errs, field.Required(ip.Child("path"), ""))
		} else {
			errs = append(errs, validateLocalPath(it.Path, ip.Child("path"))...)
		}
		if it.Mode != nil && (*it.Mode < 0 || *it.Mode > 0777) {
			errs = append(errs, field.Invalid(ip.Child("mode"), *it.Mode, modeMessage))
		}
	}
	return errs
}

// validateLocalPath checks a path that must stay below a directory: relative
// and without "..".
func validateLocalPath(s string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(s) {
		errs = append(errs, field.Invalid(p, s, "must be a relative path"))
	}
	if hasBackstep(s) {
		errs = append(errs, field.Invalid(p, s, "must not contain '..'"))
	}
	return errs
}

func hasBackstep(s string) bool {
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func validateContainer(c *corev1.Container, p *field.Path, pod podInfo, init bool) ([]string, field.ErrorList) {
	warnings, errs := checkFields(containerRules, c, p)
	if c.SecurityContext != nil {
		w, e := checkFields(containerSecurityRules, c.SecurityContext, p.Child("securityContext"))
		warnings, errs = append(warnings, w...), append(errs, e...)
		errs = append(errs, validateSecurityContext(c.SecurityContext, p.Child("securityContext"))...)
	}
	w, e := validateResources(&c.Resources, p.Child("resources"))
	warnings, errs = append(warnings, w...), append(errs, e...)

	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
	}
	switch {
	case c.Image == "":
		errs = append(errs, field.Required(p.Child("image"), ""))
	case strings.TrimSpace(c.Image) != c.Image:
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		errs = append(errs, field.Invalid(p.Child("workingDir"), c.WorkingDir, "must be an absolute path"))
	}
	if pp := string(c.ImagePullPolicy); pp != "" && !contains(pullPolicies, pp) {
		errs = append(errs, field.NotSupported(p.Child("imagePullPolicy"), pp, pullPolicies))
	}
	errs = append(errs, validatePorts(c.Ports, p.Child("ports"), pod.spec.HostNetwork)...)
	errs = append(errs, validateEnv(c, p, pod)...)
	w, e = validateMounts(c.VolumeMounts, p.Child("volumeMounts"), pod.volumes)
	warnings, errs = append(warnings, w...), append(errs, e...)

	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if probe.probe == nil {
			continue
		}
		if init {
			errs = append(errs, field.Forbidden(p.Child(probe.name), "may not be set for init containers"))
			continue
		}
		errs = append(errs, validateProbe(probe.probe, p.Child(probe.name), probe.name != "readinessProbe")...)
	}
	return warnings, errs
}

func validateSecurityContext(sc *corev1.SecurityContext, p *field.Path) field.ErrorList {
	errs := validateIDs(sc.RunAsUser, sc.RunAsGroup, p)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	return errs
}

// validateResources checks quantities and that requests fit the limits; limits
// other than cpu and memory are accepted with a warning.
func validateResources(r *corev1.ResourceRequirements, p *field.Path) ([]string, field.ErrorList) {
	warnings, errs := checkFields(resourceRules, r, p)
	for _, list := range []struct {
		name string
		res  corev1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, name := range sortedKeys(list.res) {
			q := list.res[corev1.ResourceName(name)]
			rp := p.Child(list.name).Key(name)
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(rp, q.String(), "must be greater than or equal to 0"))
			}
			if list.name == "limits" && name != string(corev1.ResourceCPU) && name != string(corev1.ResourceMemory) {
				warnings = append(warnings, fmt.Sprintf("%s is ignored: kplay applies only cpu and memory limits", rp))
			}
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		limit, hasLimit := r.Limits[name]
		if hasReq && hasLimit && req.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return warnings, errs
}

func validatePorts(ports []corev1.ContainerPort, p *field.Path, hostNetwork bool) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		pp := p.Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
			if names[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, msg))
			}
		}
		if hostNetwork && port.HostPort != 0 && port.HostPort != port.ContainerPort {
			errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
		}
		if pr := string(port.Protocol); pr != "" && !contains(protocols, pr) {
			errs = append(errs, field.NotSupported(pp.Child("protocol"), pr, protocols))
		}
		if port.HostIP != "" {
			errs = append(errs, validation.IsValidIP(pp.Child("hostIP"), port.HostIP)...)
		}
	}
	return errs
}

// validateEnv checks env and envFrom. Names follow the API server's current rule
// (any printable ASCII but '='), which kubelets and runc both accept.
func validateEnv(c *corev1.Container, p *field.Path, pod podInfo) field.ErrorList {
	var errs field.ErrorList
	for i, env := range c.Env {
		ep := p.Child("env").Index(i)
		if env.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(env.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), env.Name, msg))
			}
		}
		if env.ValueFrom != nil {
			errs = append(errs, validateEnvSource(env, ep.Child("valueFrom"), c, pod)...)
		}
	}
	for i, from := range c.EnvFrom {
		fp := p.Child("envFrom").Index(i)
		if from.Prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(from.Prefix) {
				errs = append(errs, field.Invalid(fp.Child("prefix"), from.Prefix, msg))
			}
		}
		switch {
		case from.ConfigMapRef != nil && from.SecretRef != nil:
			errs = append(errs, field.Invalid(fp, "", "may not have more than one field specified at a time"))
		case from.ConfigMapRef != nil:
			errs = append(errs, validateObjectRef(from.ConfigMapRef.Name, fp.Child("configMapRef", "name"))...)
		case from.SecretRef != nil:
			errs = append(errs, validateObjectRef(from.SecretRef.Name, fp.Child("secretRef", "name"))...)
		default:
			errs = append(errs, field.Invalid(fp, "", "must specify one of: `configMapRef` or `secretRef`"))
		}
	}
	return errs
}

func validateEnvSource(env corev1.EnvVar, p *field.Path, c *corev1.Container, pod podInfo) field.ErrorList {
	var errs field.ErrorList
	src := env.ValueFrom
	if env.Value != "" {
		errs = append(errs, field.Invalid(p, "", "may not be specified when `value` is not empty"))
	}
	var set []string
	for _, r := range envSourceRules.rules {
		if _, ok := fieldValue(reflect.ValueOf(src), r.field); ok {
			set = append(set, r.field)
		}
	}
	switch {
	case len(set) == 0:
		return append(errs, field.Invalid(p, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case len(set) > 1:
		return append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
	}
	_, e := checkFields(envSourceRules, src, p)
	errs = append(errs, e...)
	switch {
	case src.FieldRef != nil:
		fp := p.Child("fieldRef")
		if v := src.FieldRef.APIVersion; v != "" && v != "v1" {
			errs = append(errs, field.NotSupported(fp.Child("apiVersion"), v, []string{"v1"}))
		}
		fpath := src.FieldRef.FieldPath
		if m := labelOrAnnotationRef.FindStringSubmatch(fpath); m != nil {
			for _, msg := range validation.IsQualifiedName(strings.ToLower(m[2])) {
				errs = append(errs, field.Invalid(fp.Child("fieldPath"), fpath, msg))
			}
		} else if fpath == "" {
			errs = append(errs, field.Required(fp.Child("fieldPath"), ""))
		} else if !contains(envFieldPaths, fpath) {
			errs = append(errs, field.NotSupported(fp.Child("fieldPath"), fpath,
				append([]string{"metadata.annotations['<key>']", "metadata.labels['<key>']"}, envFieldPaths...)))
		}
	case src.ResourceFieldRef != nil:
		rp := p.Child("resourceFieldRef")
		if r := src.ResourceFieldRef.Resource; !contains(resourceFieldRef, r) {
			errs = append(errs, field.NotSupported(rp.Child("resource"), r, resourceFieldRef))
		}
		if n := src.ResourceFieldRef.ContainerName; n != "" && n != c.Name && !pod.names[n] {
			errs = append(errs, field.NotFound(rp.Child("containerName"), n))
		}
		if d := src.ResourceFieldRef.Divisor; !d.IsZero() && d.Sign() < 0 {
			errs = append(errs, field.Invalid(rp.Child("divisor"), d.String(), "must be greater than 0"))
		}
	case src.ConfigMapKeyRef != nil:
		kp := p.Child("configMapKeyRef")
		errs = append(errs, validateObjectRef(src.ConfigMapKeyRef.Name, kp.Child("name"))...)
		errs = append(errs, validateRefKey(src.ConfigMapKeyRef.Key, kp.Child("key"))...)
	case src.SecretKeyRef != nil:
		kp := p.Child("secretKeyRef")
		errs = append(errs, validateObjectRef(src.SecretKeyRef.Name, kp.Child("name"))...)
		errs = append(errs, validateRefKey(src.SecretKeyRef.Key, kp.Child("key"))...)
	}
	return errs
}

func validateRefKey(key string, p *field.Path) field.ErrorList {
	if key == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return validateKey(p, key)
}

func validateMounts(mounts []corev1.VolumeMount, p *field.Path, volumes map[string]bool) ([]string, field.ErrorList) {
	var (
		warnings []string
		errs     field.ErrorList
		paths    = map[string]bool{}
	)
	for i := range mounts {
		m := &mounts[i]
		mp := p.Index(i)
		w, e := checkFields(volumeMountRules, m, mp)
		warnings, errs = append(warnings, w...), append(errs, e...)
		switch {
		case m.Name == "":
			errs = append(errs, field.Required(mp.Child("name"), ""))
		case !volumes[m.Name]:
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		case !path.IsAbs(m.MountPath):
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path"))
		case paths[path.Clean(m.MountPath)]:
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[path.Clean(m.MountPath)] = true
		if m.SubPath != "" {
			errs = append(errs, validateLocalPath(m.SubPath, mp.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, validateLocalPath(m.SubPathExpr, mp.Child("subPathExpr"))...)
		}
	}
	return warnings, errs
}

// validateProbe checks a probe's handler and numbers. Liveness and startup
// probes must succeed once to count.
func validateProbe(pr *corev1.Probe, p *field.Path, singleSuccess bool) field.ErrorList {
	var errs field.ErrorList
	var handlers []string
	h := pr.ProbeHandler
	if h.Exec != nil {
		handlers = append(handlers, "exec")
		if len(h.Exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	}
	if h.HTTPGet != nil {
		handlers = append(handlers, "httpGet")
		errs = append(errs, validateProbePort(h.HTTPGet.Port.String(), h.HTTPGet.Port.IntValue(), h.HTTPGet.Port.Type == 0, p.Child("httpGet", "port"))...)
		if s := string(h.HTTPGet.Scheme); s != "" && s != "HTTP" && s != "HTTPS" {
			errs = append(errs, field.NotSupported(p.Child("httpGet", "scheme"), s, []string{"HTTP", "HTTPS"}))
		}
	}
	if h.TCPSocket != nil {
		handlers = append(handlers, "tcpSocket")
		errs = append(errs, validateProbePort(h.TCPSocket.Port.String(), h.TCPSocket.Port.IntValue(), h.TCPSocket.Port.Type == 0, p.Child("tcpSocket", "port"))...)
	}
	if h.GRPC != nil {
		handlers = append(handlers, "grpc")
		for _, msg := range validation.IsValidPortNum(int(h.GRPC.Port)) {
			errs = append(errs, field.Invalid(p.Child("grpc", "port"), h.GRPC.Port, msg))
		}
	}
	switch {
	case len(handlers) == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case len(handlers) > 1:
		errs = append(errs, field.Forbidden(p.Child(handlers[1]), "may not specify more than 1 handler type"))
	}
	for _, n := range []struct {
		name  string
		value int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		if n.value < 0 {
			errs = append(errs, field.Invalid(p.Child(n.name), n.value, "must be greater than or equal to 0"))
		}
	}
	if singleSuccess && pr.SuccessThreshold > 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	return errs
}

func validateProbePort(s string, n int, isInt bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	msgs := validation.IsValidPortName(s)
	if isInt {
		msgs = validation.IsValidPortNum(n)
	}
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, s, msg))
	}
	return errs
}
