package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/apparmor"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

// securityContext merges the pod's and the container's settings, the container's winning.
type securityContext struct {
	RunAsUser, RunAsGroup    *int64
	RunAsNonRoot             *bool
	SupplementalGroups       []int64
	ReadOnlyRootFilesystem   bool
	Privileged               bool
	Capabilities             *corev1.Capabilities
	AllowPrivilegeEscalation *bool
	Seccomp                  *corev1.SeccompProfile
	AppArmor                 *corev1.AppArmorProfile
}

func mergeSecurityContext(pod *corev1.PodSecurityContext, c *corev1.SecurityContext) securityContext {
	var sc securityContext
	if pod != nil {
		sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot = pod.RunAsUser, pod.RunAsGroup, pod.RunAsNonRoot
		sc.SupplementalGroups = append(sc.SupplementalGroups, pod.SupplementalGroups...)
		if pod.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *pod.FSGroup)
		}
		sc.Seccomp, sc.AppArmor = pod.SeccompProfile, pod.AppArmorProfile
	}
	if c != nil {
		if c.RunAsUser != nil {
			sc.RunAsUser = c.RunAsUser
		}
		if c.RunAsGroup != nil {
			sc.RunAsGroup = c.RunAsGroup
		}
		if c.RunAsNonRoot != nil {
			sc.RunAsNonRoot = c.RunAsNonRoot
		}
		if c.SeccompProfile != nil {
			sc.Seccomp = c.SeccompProfile
		}
		if c.AppArmorProfile != nil {
			sc.AppArmor = c.AppArmorProfile
		}
		sc.ReadOnlyRootFilesystem = c.ReadOnlyRootFilesystem != nil && *c.ReadOnlyRootFilesystem
		sc.Privileged = c.Privileged != nil && *c.Privileged
		sc.Capabilities = c.Capabilities
		sc.AllowPrivilegeEscalation = c.AllowPrivilegeEscalation
	}
	return sc
}

// containerSecurity is the security context of one container of a pod, with the
// legacy AppArmor annotation read where the fields leave it unset, as the kubelet does.
func containerSecurity(spec *corev1.PodSpec, annotations map[string]string, c *corev1.Container) securityContext {
	sc := mergeSecurityContext(spec.SecurityContext, c.SecurityContext)
	if sc.AppArmor == nil {
		sc.AppArmor = appArmorAnnotation(annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c.Name])
	}
	return sc
}

// appArmorAnnotation reads container.apparmor.security.beta.kubernetes.io/<name>.
func appArmorAnnotation(v string) *corev1.AppArmorProfile {
	switch {
	case v == "":
		return nil
	case v == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case v == corev1.DeprecatedAppArmorBetaProfileNameUnconfined:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix):
		name := strings.TrimPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix)
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}

// configError is a container the kubelet would refuse to create: it waits with the
// reason CreateContainerConfigError and the error as its message.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// isConfigError reports whether err, or one it wraps, is a configError.
func isConfigError(err error) bool {
	var ce *configError
	return errors.As(err, &ce)
}

// reasonConfigError is the waiting reason of a container that failed verification.
const reasonConfigError = "CreateContainerConfigError"

// imageUser splits an image's USER the way the CRI reports it to the kubelet: a
// numeric uid, or a user name; "" (no USER) counts as uid 0, as the kubelet takes it.
func imageUser(user string) (uid *int64, name string) {
	user, _, _ = strings.Cut(user, ":")
	if user == "" {
		return new(int64), ""
	}
	n, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return nil, user
	}
	return &n, ""
}

// verifyRunAsNonRoot refuses a container that runAsNonRoot forbids, with the kubelet's
// words: pod is the kubelet's name for the pod ("name_namespace(uid)").
func verifyRunAsNonRoot(sc securityContext, imageUserSpec, pod, container string) error {
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	where := fmt.Sprintf("(pod: %q, container: %s)", pod, container)
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return &configError{"container's runAsUser breaks non-root policy " + where}
		}
		return nil
	}
	uid, name := imageUser(imageUserSpec)
	switch {
	case uid == nil:
		return &configError{fmt.Sprintf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root %s", name, where)}
	case *uid == 0:
		return &configError{"container has runAsNonRoot and image will run as root " + where}
	}
	if errs := validation.IsValidUserID(*uid); len(errs) > 0 {
		return &configError{fmt.Sprintf("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(%d)): %s %s",
			*uid, math.MaxInt32, strings.Join(errs, "; "), where)}
	}
	return nil
}

// kubeletPodName is how the kubelet names a pod in its messages.
func kubeletPodName(namespace, name, uid string) string {
	return fmt.Sprintf("%s_%s(%s)", name, namespace, uid)
}

// appArmorEnabledPath says whether the kernel's AppArmor module is enabled.
const appArmorEnabledPath = "/sys/module/apparmor/parameters/enabled"

// appArmorEnabled reads the kernel's AppArmor switch at path: "Y" is enabled, and a
// missing file is a kernel without AppArmor.
func appArmorEnabled(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// appArmorDefault is the name kplay loads containerd's default AppArmor profile under.
const appArmorDefault = "kplay-default"

// profiles are the seccomp and AppArmor settings decided for one container before it
// is created, so that a missing profile fails before anything exists.
type profiles struct {
	seccompDefault bool
	seccomp        *specs.LinuxSeccomp // a Localhost profile, decoded
	appArmor       string              // profile name; appArmorDefault loads containerd's
}

// resolveProfiles decides a container's seccomp and AppArmor profiles as the kubelet
// and containerd's CRI do; warnings are for profiles this machine cannot apply.
func resolveProfiles(sc securityContext, cfg securityConfig) (profiles, []string, error) {
	var p profiles
	var warnings []string
	if !sc.Privileged {
		seccompType := corev1.SeccompProfileTypeUnconfined
		if sc.Seccomp != nil {
			seccompType = sc.Seccomp.Type
		} else if cfg.seccompDefault {
			seccompType = corev1.SeccompProfileTypeRuntimeDefault
		}
		switch seccompType {
		case corev1.SeccompProfileTypeRuntimeDefault:
			p.seccompDefault = true
		case corev1.SeccompProfileTypeLocalhost:
			s, err := loadSeccompProfile(cfg.seccompDir, sc.Seccomp.LocalhostProfile)
			if err != nil {
				return p, nil, err
			}
			p.seccomp = s
		}
	}
	aa := sc.AppArmor
	switch {
	case aa != nil && aa.Type == corev1.AppArmorProfileTypeUnconfined:
	case !cfg.appArmor:
		if aa != nil {
			warnings = append(warnings, fmt.Sprintf("appArmorProfile %s is not applied: this kernel has no AppArmor (%s is not Y)", aa.Type, appArmorEnabledPath))
		}
	case aa != nil && aa.Type == corev1.AppArmorProfileTypeLocalhost && aa.LocalhostProfile != nil:
		p.appArmor = *aa.LocalhostProfile
	case !sc.Privileged:
		// Unset means RuntimeDefault where AppArmor is on, as with the CRI.
		p.appArmor = appArmorDefault
	}
	return p, warnings, nil
}

// loadSeccompProfile reads a Localhost profile (OCI or docker JSON, as containerd's
// seccomp.WithProfile reads it) from dir. The name must stay inside dir: it is
// relative, has no "..", and symlinks are followed only within dir.
func loadSeccompProfile(dir string, name *string) (*specs.LinuxSeccomp, error) {
	if name == nil || *name == "" {
		return nil, errors.New("seccompProfile Localhost needs localhostProfile")
	}
	if !filepath.IsLocal(*name) {
		return nil, fmt.Errorf("seccompProfile localhostProfile %q must be a relative path inside %s without ..", *name, dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("seccompProfile Localhost %q: the profile directory: %w", *name, err)
	}
	defer root.Close()
	b, err := root.ReadFile(*name)
	if err != nil {
		return nil, fmt.Errorf("seccompProfile Localhost %q: reading %s: %w", *name, filepath.Join(dir, *name), err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("seccompProfile Localhost %q: decoding %s: %w", *name, filepath.Join(dir, *name), err)
	}
	return &s, nil
}

func capNames(cs []corev1.Capability) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		n := strings.ToUpper(string(c))
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out
}

func hasAll(cs []corev1.Capability) bool {
	for _, c := range cs {
		if strings.EqualFold(string(c), "ALL") {
			return true
		}
	}
	return false
}

// withSecurityContext applies user, groups, capabilities, privileges and profiles.
func withSecurityContext(sc securityContext, p profiles) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *oci.Spec) error {
		var opts []oci.SpecOpts
		switch {
		case sc.RunAsUser != nil && sc.RunAsGroup != nil:
			opts = append(opts, oci.WithUIDGID(uint32(*sc.RunAsUser), uint32(*sc.RunAsGroup)))
		case sc.RunAsUser != nil:
			opts = append(opts, oci.WithUserID(uint32(*sc.RunAsUser)))
		}
		if sc.ReadOnlyRootFilesystem {
			opts = append(opts, oci.WithRootFSReadonly())
		}
		if sc.Privileged {
			opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices,
				oci.WithWriteableSysfs, oci.WithWriteableCgroupfs, oci.WithMaskedPaths(nil), oci.WithReadonlyPaths(nil))
		}
		if caps := sc.Capabilities; caps != nil && !sc.Privileged {
			if hasAll(caps.Drop) {
				opts = append(opts, oci.WithCapabilities(nil))
			} else if len(caps.Drop) > 0 {
				opts = append(opts, oci.WithDroppedCapabilities(capNames(caps.Drop)))
			}
			if hasAll(caps.Add) {
				opts = append(opts, oci.WithAllCurrentCapabilities)
			} else if len(caps.Add) > 0 {
				opts = append(opts, oci.WithAddedCapabilities(capNames(caps.Add)))
			}
		}
		// The default profile allows syscalls by the capabilities: it comes after them.
		switch {
		case p.seccomp != nil:
			opts = append(opts, withSeccomp(p.seccomp))
		case p.seccompDefault:
			opts = append(opts, seccomp.WithDefaultProfile())
		}
		switch p.appArmor {
		case "":
		case appArmorDefault:
			opts = append(opts, apparmor.WithDefaultProfile(appArmorDefault))
		default:
			opts = append(opts, apparmor.WithProfile(p.appArmor))
		}
		for _, o := range opts {
			if err := o(ctx, cl, c, s); err != nil {
				return err
			}
		}
		// containerd's default spec sets no_new_privs; the kubelet sets it only when
		// allowPrivilegeEscalation is false, so that setuid binaries work otherwise.
		s.Process.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation && !sc.Privileged
		if sc.RunAsGroup != nil && sc.RunAsUser == nil {
			s.Process.User.GID = uint32(*sc.RunAsGroup)
		}
		for _, g := range sc.SupplementalGroups {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	}
}

func withSeccomp(profile *specs.LinuxSeccomp) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		p := *profile
		s.Linux.Seccomp = &p
		return nil
	}
}

// securityConfig is the machine-wide part of how security contexts are applied.
type securityConfig struct {
	// seccompDefault makes RuntimeDefault the seccomp profile of containers that set
	// none, as the kubelet's SeccompDefault does.
	seccompDefault bool
	seccompDir     string // Localhost seccomp profiles: <data-root>/seccomp
	appArmor       bool   // the kernel enforces AppArmor
}

func (r *Runtime) securityConfig() securityConfig {
	return securityConfig{
		seccompDefault: r.cfg.SeccompDefault,
		seccompDir:     r.layout.SeccompDir(),
		appArmor:       appArmorEnabled(appArmorEnabledPath),
	}
}

// security checks a container's security context against its image and decides its
// profiles, before anything of the container exists: a refusal is a configError.
func (r *Runtime) security(ctx context.Context, pp *plan.PodPlan, c *plan.Container, img client.Image) (oci.SpecOpts, error) {
	sc := containerSecurity(&pp.Spec, pp.Annotations, &c.Spec)
	ic, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading image config of %q: %w", c.Image, err)
	}
	if err := verifyRunAsNonRoot(sc, ic.Config.User, kubeletPodName(pp.Namespace, pp.Name, pp.UID), c.Name); err != nil {
		return nil, err
	}
	p, warnings, err := resolveProfiles(sc, r.securityConfig())
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		r.warn(fmt.Sprintf("pod %s/%s: container %q: %s", pp.Namespace, pp.Name, c.Name, w))
	}
	return withSecurityContext(sc, p), nil
}

// keepConfigError records on the pod's infra container why a container was not
// created, so that ps shows it waiting with CreateContainerConfigError.
func keepConfigError(ctx context.Context, infra client.Container, container string, err error) error {
	msg := err.Error()
	var ce *configError
	if errors.As(err, &ce) {
		msg = ce.msg // without the context up adds
	}
	_, serr := infra.SetLabels(ctx, podstate.ConfigErrorLabel(container, msg))
	return serr
}

// configErrors are the containers of a pod that up refused to create, with why.
func (p *podState) configErrors() map[string]string {
	return p.labels().ConfigErrors()
}
