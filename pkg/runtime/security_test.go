package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/kplay-dev/kplay/pkg/labels"
	"github.com/kplay-dev/kplay/pkg/podstate"
)

func TestVerifyRunAsNonRootFollowsTheKubelet(t *testing.T) {
	const pod = "web_default(u1)"
	root := "container has runAsNonRoot and image will run as root (pod: \"web_default(u1)\", container: app)"
	nonNumeric := func(u string) string {
		return "container has runAsNonRoot and image has non-numeric user (" + u + "), cannot verify user is non-root (pod: \"web_default(u1)\", container: app)"
	}
	breaks := "container's runAsUser breaks non-root policy (pod: \"web_default(u1)\", container: app)"
	for _, tt := range []struct {
		name      string
		pod       *corev1.PodSecurityContext
		container *corev1.SecurityContext
		imageUser string
		want      string // "" allows the container
	}{
		{"no USER", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil, "", root},
		{"USER 0", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil, "0", root},
		{"USER 0:1000", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "0:1000", root},
		{"USER root", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "root", nonNumeric("root")},
		{"USER nobody", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "nobody", nonNumeric("nobody")},
		{"USER 1000", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "1000", ""},
		{"USER 1000:1000", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "1000:1000", ""},
		{"USER beyond int32", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "4294967296", "image has an invalid user id (4294967296)"},
		{"runAsUser 1000 over a root image", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, &corev1.SecurityContext{RunAsUser: ptr(int64(1000))}, "", ""},
		{"pod runAsUser 1000 over USER nobody", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000))}, nil, "nobody", ""},
		{"runAsUser 0", nil, &corev1.SecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(0))}, "1000", breaks},
		{"container runAsUser 0 over pod 1000", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000))}, &corev1.SecurityContext{RunAsUser: ptr(int64(0))}, "1000", breaks},
		{"unset", nil, nil, "", ""},
		{"false", &corev1.PodSecurityContext{RunAsNonRoot: ptr(false)}, nil, "", ""},
		{"container false over pod true", &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}, &corev1.SecurityContext{RunAsNonRoot: ptr(false)}, "root", ""},
		{"container true over pod false", &corev1.PodSecurityContext{RunAsNonRoot: ptr(false)}, &corev1.SecurityContext{RunAsNonRoot: ptr(true)}, "", root},
	} {
		err := verifyRunAsNonRoot(mergeSecurityContext(tt.pod, tt.container), tt.imageUser, pod, "app")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want == "":
		case err == nil:
			t.Errorf("%s: allowed, want %q", tt.name, tt.want)
		case !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: error %q, want %q", tt.name, err, tt.want)
		case !isConfigError(err):
			t.Errorf("%s: error %v is not a configError", tt.name, err)
		}
	}
}

// spec builds containerd's default spec with opts applied, as NewContainer would.
func spec(t *testing.T, opts ...oci.SpecOpts) *oci.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// securitySpec resolves the profiles of sc under cfg and applies them to a default spec.
func securitySpec(t *testing.T, sc securityContext, cfg securityConfig) (*oci.Spec, []string) {
	t.Helper()
	p, warnings, err := resolveProfiles(sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return spec(t, withSecurityContext(sc, p)), warnings
}

func TestNoNewPrivsOnlyWhenPrivilegeEscalationIsDisallowed(t *testing.T) {
	if !spec(t).Process.NoNewPrivileges {
		t.Fatal("containerd's default spec no longer sets no_new_privs: this test shows nothing")
	}
	for _, tt := range []struct {
		name string
		sc   securityContext
		want bool
	}{
		{"unset", securityContext{}, false},
		{"true", securityContext{AllowPrivilegeEscalation: ptr(true)}, false},
		{"false", securityContext{AllowPrivilegeEscalation: ptr(false)}, true},
		{"false but privileged", securityContext{AllowPrivilegeEscalation: ptr(false), Privileged: true}, false},
	} {
		s, _ := securitySpec(t, tt.sc, securityConfig{})
		if s.Process.NoNewPrivileges != tt.want {
			t.Errorf("%s: NoNewPrivileges = %v, want %v", tt.name, s.Process.NoNewPrivileges, tt.want)
		}
	}
}

func TestSeccompProfiles(t *testing.T) {
	dir := t.TempDir()
	profile := `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`
	if err := os.WriteFile(filepath.Join(dir, "audit.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	localhost := func(name string) *corev1.SeccompProfile {
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &name}
	}
	runtimeDefault := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	unconfined := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	for _, tt := range []struct {
		name           string
		sc             securityContext
		seccompDefault bool
		want           specs.LinuxSeccompAction // "" is unconfined
	}{
		{"unset", securityContext{}, false, ""},
		{"unset with --seccomp-default", securityContext{}, true, specs.ActErrno},
		{"RuntimeDefault", securityContext{Seccomp: runtimeDefault}, false, specs.ActErrno},
		{"Unconfined with --seccomp-default", securityContext{Seccomp: unconfined}, true, ""},
		{"RuntimeDefault but privileged", securityContext{Seccomp: runtimeDefault, Privileged: true}, false, ""},
		{"privileged with --seccomp-default", securityContext{Privileged: true}, true, ""},
		{"Localhost", securityContext{Seccomp: localhost("audit.json")}, false, specs.ActErrno},
	} {
		s, _ := securitySpec(t, tt.sc, securityConfig{seccompDefault: tt.seccompDefault, seccompDir: dir})
		var got specs.LinuxSeccompAction
		if s.Linux.Seccomp != nil {
			got = s.Linux.Seccomp.DefaultAction
		}
		if got != tt.want {
			t.Errorf("%s: seccomp default action %q, want %q", tt.name, got, tt.want)
		}
	}
	s, _ := securitySpec(t, securityContext{Seccomp: localhost("audit.json")}, securityConfig{seccompDir: dir})
	if sc := s.Linux.Seccomp; len(sc.Syscalls) != 1 || strings.Join(sc.Syscalls[0].Names, ",") != "read,write" {
		t.Errorf("Localhost profile applied as %+v, want the file's syscalls", sc)
	}
	s, _ = securitySpec(t, securityContext{Seccomp: runtimeDefault}, securityConfig{})
	allowed := 0
	for _, rule := range s.Linux.Seccomp.Syscalls {
		allowed += len(rule.Names)
	}
	if allowed < 200 {
		t.Errorf("RuntimeDefault names %d syscalls, want containerd's default profile", allowed)
	}
}

func TestSeccompLocalhostStaysInItsDirectory(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "seccomp")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ok := `{"defaultAction":"SCMP_ACT_LOG"}`
	for path, data := range map[string]string{
		filepath.Join(base, "outside.json"):  ok,
		filepath.Join(dir, "sub", "in.json"): ok,
		filepath.Join(dir, "broken.json"):    "{",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside.json", filepath.Join(dir, "escape.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/in.json", filepath.Join(dir, "inside.json")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, want string }{
		{"sub/in.json", ""},
		{"inside.json", ""},
		{"../outside.json", "must be a relative path"},
		{"sub/../../outside.json", "must be a relative path"},
		{filepath.Join(base, "outside.json"), "must be a relative path"},
		{"escape.json", "escapes"},
		{"missing.json", "no such file or directory"},
		{"broken.json", "decoding"},
		{"", "needs localhostProfile"},
	} {
		name := tt.name
		p, err := loadSeccompProfile(dir, &name)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.name, err)
		case tt.want == "" && p.DefaultAction != specs.ActLog:
			t.Errorf("%q: loaded %+v", tt.name, p)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func TestAppArmorEnabled(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]bool{"Y\n": true, "N\n": false, "": false} {
		path := filepath.Join(dir, "enabled")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := appArmorEnabled(path); got != want {
			t.Errorf("enabled file %q: appArmorEnabled = %v, want %v", content, got, want)
		}
	}
	if appArmorEnabled(filepath.Join(dir, "missing")) {
		t.Error("a kernel without the AppArmor module counts as enabled")
	}
}

func TestAppArmorProfiles(t *testing.T) {
	name := "my-profile"
	runtimeDefault := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	localhost := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	unconfined := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	for _, tt := range []struct {
		name     string
		sc       securityContext
		enabled  bool
		want     string // the profile decided
		warnings int
	}{
		{"unset, no AppArmor", securityContext{}, false, "", 0},
		{"RuntimeDefault, no AppArmor", securityContext{AppArmor: runtimeDefault}, false, "", 1},
		{"Localhost, no AppArmor", securityContext{AppArmor: localhost}, false, "", 1},
		{"Unconfined, no AppArmor", securityContext{AppArmor: unconfined}, false, "", 0},
		{"unset, AppArmor", securityContext{}, true, appArmorDefault, 0},
		{"RuntimeDefault, AppArmor", securityContext{AppArmor: runtimeDefault}, true, appArmorDefault, 0},
		{"Localhost, AppArmor", securityContext{AppArmor: localhost}, true, name, 0},
		{"Unconfined, AppArmor", securityContext{AppArmor: unconfined}, true, "", 0},
		{"privileged, AppArmor", securityContext{Privileged: true}, true, "", 0},
	} {
		p, warnings, err := resolveProfiles(tt.sc, securityConfig{appArmor: tt.enabled})
		if err != nil {
			t.Fatal(err)
		}
		if p.appArmor != tt.want || len(warnings) != tt.warnings {
			t.Errorf("%s: profile %q with warnings %q, want %q with %d", tt.name, p.appArmor, warnings, tt.want, tt.warnings)
		}
	}
	// A loaded profile is only named in the spec; the default one needs apparmor_parser.
	s := spec(t, withSecurityContext(securityContext{}, profiles{appArmor: name}))
	if s.Process.ApparmorProfile != name {
		t.Errorf("spec AppArmor profile %q, want %q", s.Process.ApparmorProfile, name)
	}
}

func TestAppArmorAnnotation(t *testing.T) {
	spec := &corev1.PodSpec{}
	c := &corev1.Container{Name: "app"}
	key := "container.apparmor.security.beta.kubernetes.io/app"
	for value, want := range map[string]string{
		"runtime/default":  "RuntimeDefault",
		"unconfined":       "Unconfined",
		"localhost/custom": "Localhost custom",
	} {
		aa := containerSecurity(spec, map[string]string{key: value}, c).AppArmor
		got := ""
		if aa != nil {
			got = string(aa.Type)
			if aa.LocalhostProfile != nil {
				got += " " + *aa.LocalhostProfile
			}
		}
		if got != want {
			t.Errorf("annotation %q: profile %q, want %q", value, got, want)
		}
	}
	c.SecurityContext = &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}}
	if aa := containerSecurity(spec, map[string]string{key: "runtime/default"}, c).AppArmor; aa.Type != corev1.AppArmorProfileTypeUnconfined {
		t.Errorf("the field lost to the annotation: %s", aa.Type)
	}
}

func TestRefusedContainerShowsCreateContainerConfigError(t *testing.T) {
	root := t.TempDir()
	r := &Runtime{cfg: Config{Namespace: "test", DataRoot: root}, layout: podstate.Layout{Namespace: "test", DataRoot: root}}
	msg := "container has runAsNonRoot and image will run as root (pod: \"web_default(u1)\", container: app)"
	infra := &ctrState{Task: &task.Process{Status: task.Status_RUNNING}}
	infra.Labels = map[string]string{
		labels.Role:                      labels.RoleInfra,
		labels.Containers:                "side,app",
		labels.ConfigError + "app":       msg,
		labels.ConfigError + "init-user": "init refused",
	}
	side := &ctrState{Task: &task.Process{Status: task.Status_RUNNING}}
	side.Labels = map[string]string{labels.Role: labels.RoleApp, labels.Container: "side"}
	pod := r.pod(context.Background(), &podState{Namespace: "default", Name: "web", Infra: infra, Containers: []*ctrState{side}})
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", pod.Status.Phase)
	}
	var app, init *corev1.ContainerStatus
	for i, cs := range pod.Status.ContainerStatuses {
		if cs.Name == "app" {
			app = &pod.Status.ContainerStatuses[i]
		}
	}
	if len(pod.Status.InitContainerStatuses) == 1 {
		init = &pod.Status.InitContainerStatuses[0]
	}
	if app == nil || app.State.Waiting == nil || app.State.Waiting.Reason != "CreateContainerConfigError" || app.State.Waiting.Message != msg {
		t.Errorf("container app: %+v, want waiting CreateContainerConfigError with the kubelet's message", app)
	}
	if init == nil || init.Name != "init-user" || init.State.Waiting == nil || init.State.Waiting.Reason != "CreateContainerConfigError" {
		t.Errorf("init container statuses %+v, want init-user waiting CreateContainerConfigError", pod.Status.InitContainerStatuses)
	}
}
