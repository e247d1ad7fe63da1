package plan

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/manifest"
)

func TestDeploymentReplicas(t *testing.T) {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}
	tests := []struct {
		name     string
		replicas *int32
		want     []string
	}{
		{"default is one", nil, []string{"web-0"}},
		{"zero", ptr(int32(0)), nil},
		{"one", ptr(int32(1)), []string{"web-0"}},
		{"three", ptr(int32(3)), []string{"web-0", "web-1", "web-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustBuild(t, deploymentObj("web", tt.replicas, spec))
			var names []string
			for _, pp := range p.Pods {
				names = append(names, pp.Name)
				if pp.Namespace != "default" {
					t.Errorf("%s: namespace %q, want default", pp.Name, pp.Namespace)
				}
				if pp.Owner != (Owner{Kind: "Deployment", Name: "web"}) || pp.Owner.String() != "Deployment/web" {
					t.Errorf("%s: owner %v", pp.Name, pp.Owner)
				}
				if pp.Labels["app"] != "web" || !regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{4,10}$`).MatchString(pp.Labels["pod-template-hash"]) {
					t.Errorf("%s: labels %v, want app=web and a pod-template-hash", pp.Name, pp.Labels)
				}
				if pp.Annotations["note"] != "hi" {
					t.Errorf("%s: annotations %v, want the template's", pp.Name, pp.Annotations)
				}
				if pp.Source != "/srv/app/app.yaml" {
					t.Errorf("%s: source %q", pp.Name, pp.Source)
				}
				if pp.Hostname != pp.Name {
					t.Errorf("%s: hostname %q", pp.Name, pp.Hostname)
				}
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("pods %q, want %q", names, tt.want)
			}
			if len(p.Pods) > 1 && (p.Pods[0].UID == p.Pods[1].UID || p.Pods[0].Labels["pod-template-hash"] != p.Pods[1].Labels["pod-template-hash"]) {
				t.Errorf("replicas must share pod-template-hash and differ in UID")
			}
		})
	}
}

func TestPodTemplateHashFollowsTemplate(t *testing.T) {
	a := mustBuild(t, deploymentObj("web", nil, corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.26"}}}))
	b := mustBuild(t, deploymentObj("web", nil, corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}}))
	c := mustBuild(t, deploymentObj("web", nil, corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.26"}}}))
	ha, hb, hc := a.Pods[0].Labels["pod-template-hash"], b.Pods[0].Labels["pod-template-hash"], c.Pods[0].Labels["pod-template-hash"]
	if ha == hb || ha != hc {
		t.Errorf("pod-template-hash: %q %q %q, want the first two different and the first and last equal", ha, hb, hc)
	}
}

func TestPodMetadata(t *testing.T) {
	pod := podObj("apache", ctr("httpd"))
	pod.Labels = map[string]string{"app": "apache"}
	pod.Annotations = map[string]string{"a": "b"}
	other := podObj("apache", ctr("httpd"))
	other.Namespace = "shop"
	p := mustBuild(t, pod, other)
	got := p.Pods[0]
	if got.Namespace != "default" || got.Name != "apache" || got.Owner.String() != "Pod/apache" ||
		!maps.Equal(got.Labels, pod.Labels) || !maps.Equal(got.Annotations, pod.Annotations) {
		t.Errorf("pod = %s %v %v %v", got, got.Owner, got.Labels, got.Annotations)
	}
	if p.Pods[1].String() != "shop/apache" {
		t.Errorf("second pod %s, want shop/apache", p.Pods[1])
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.UID) {
		t.Errorf("UID %q is not UUID-shaped", got.UID)
	}
	if got.UID == p.Pods[1].UID {
		t.Error("pods in different namespaces share a UID")
	}
}

func TestSourceStdinAndRelative(t *testing.T) {
	objs := []manifest.Object{
		{Source: "-", Dir: "/work", Doc: 1, Object: podObj("a", ctr("c"))},
		{Source: "app.yaml", Dir: "/x", Doc: 1, Object: podObj("b", ctr("c"))},
	}
	p, err := Build(objs, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pods[0].Source != "-" {
		t.Errorf("stdin source = %q", p.Pods[0].Source)
	}
	if !strings.HasPrefix(p.Pods[1].Source, "/") || !strings.HasSuffix(p.Pods[1].Source, "/app.yaml") {
		t.Errorf("relative source not made absolute: %q", p.Pods[1].Source)
	}
}

func TestHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	tests := []struct {
		name     string
		spec     corev1.PodSpec
		podName  string
		want     string
		nodeName string
	}{
		{"pod name", corev1.PodSpec{}, "web", "web", "node1"},
		{"spec.hostname", corev1.PodSpec{Hostname: "box"}, "web", "box", "node1"},
		{"truncated without trailing dash", corev1.PodSpec{}, long, strings.Repeat("a", 62), "node1"},
		{"hostNetwork uses the node name", corev1.PodSpec{HostNetwork: true, Hostname: "box"}, "web", "node1", "node1"},
	}
	for _, tt := range tests {
		if got := podHostname(&tt.spec, tt.podName, tt.nodeName); got != tt.want {
			t.Errorf("%s: hostname %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := corev1.Container{
		Name: "web", Image: "nginx:1.27",
		Ports:         []corev1.ContainerPort{{ContainerPort: 80}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}},
	}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: mustQuantity("500m")}
	pod := podObj("web", c)
	pod.Spec.Volumes = []corev1.Volume{{Name: "scratch"}}
	spec := mustBuild(t, pod).Pods[0].Spec
	ctr := spec.Containers[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"terminationGracePeriodSeconds", *spec.TerminationGracePeriodSeconds, int64(30)},
		{"dnsPolicy", spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", spec.SchedulerName, "default-scheduler"},
		{"serviceAccountName", spec.ServiceAccountName, "default"},
		{"enableServiceLinks", *spec.EnableServiceLinks, true},
		{"nodeName", spec.NodeName, "node1"},
		{"imagePullPolicy", ctr.ImagePullPolicy, corev1.PullIfNotPresent},
		{"terminationMessagePath", ctr.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", ctr.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", ctr.Ports[0].Protocol, corev1.ProtocolTCP},
		{"no hostPort without hostNetwork", ctr.Ports[0].HostPort, int32(0)},
		{"cpu request from limit", ctr.Resources.Requests.Cpu().String(), "500m"},
		{"probe period", ctr.LivenessProbe.PeriodSeconds, int32(10)},
		{"probe http scheme", ctr.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"volume without source", spec.Volumes[0].EmptyDir != nil, true},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestPullPolicy(t *testing.T) {
	tests := map[string]corev1.PullPolicy{
		"nginx":                                  corev1.PullAlways,
		"nginx:latest":                           corev1.PullAlways,
		"nginx:1.27":                             corev1.PullIfNotPresent,
		"localhost:5000/nginx":                   corev1.PullAlways,
		"localhost:5000/nginx:1.0":               corev1.PullIfNotPresent,
		"nginx@sha256:" + hex64:                  corev1.PullIfNotPresent,
		"nginx:latest@sha256:" + hex64:           corev1.PullAlways,
		"docker.io/library/httpd:2.4":            corev1.PullIfNotPresent,
		"registry:5000/team/app:v1.2.3":          corev1.PullIfNotPresent,
		"registry:5000/team/app":                 corev1.PullAlways,
		"registry:5000/team/app@sha256:" + hex64: corev1.PullIfNotPresent,
	}
	for image, want := range tests {
		spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}
		applyPodDefaults(&spec, "node")
		if got := spec.Containers[0].ImagePullPolicy; got != want {
			t.Errorf("imagePullPolicy of %q = %s, want %s", image, got, want)
		}
	}
	c := ctr("c")
	c.Image, c.ImagePullPolicy = "nginx", corev1.PullNever
	if got := mustBuild(t, podObj("p", c)).Pods[0].Containers[0].PullPolicy; got != corev1.PullNever {
		t.Errorf("an explicit policy was replaced: %s", got)
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestDuplicates(t *testing.T) {
	tests := []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"pod and replica", []runtime.Object{podObj("web-1", ctr("c")), deploymentObj("web", ptr(int32(2)), corev1.PodSpec{Containers: []corev1.Container{ctr("c")}})},
			`pod "default/web-1" is declared twice: by Pod/web-1 (/srv/app/app.yaml: document 1) and by Deployment/web (/srv/app/app.yaml: document 2)`},
		{"configmap", []runtime.Object{configMapObj("cm", nil), configMapObj("cm", nil)},
			`configmap "default/cm" is declared twice: /srv/app/app.yaml: document 1 and /srv/app/app.yaml: document 2`},
		{"negative replicas", []runtime.Object{deploymentObj("web", ptr(int32(-1)), corev1.PodSpec{Containers: []corev1.Container{ctr("c")}})},
			`deployment "default/web": spec.replicas must not be negative, got -1`},
		{"no name", []runtime.Object{podObj("", ctr("c"))}, `/srv/app/app.yaml: document 1: pod has no name`},
	}
	for _, tt := range tests {
		_, err := Build(objects(tt.objs...), testOpts)
		if err == nil || err.Error() != tt.want || !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestOddInputDoesNotPanic(t *testing.T) {
	objs := []manifest.Object{
		{Source: "x.yaml", Doc: 1},
		{Source: "x.yaml", Doc: 2, Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}},
		}}}}},
	}
	for i := range objs {
		if _, err := Build(objs[i:i+1], Options{}); err == nil {
			t.Errorf("object %d: no error", i)
		}
	}
	if _, err := Build(nil, Options{}); err != nil {
		t.Errorf("empty input: %v", err)
	}
	p, err := Build([]manifest.Object{{Source: "x.yaml", Doc: 1, Object: &corev1.Endpoints{}}}, Options{})
	if err != nil || len(p.Warnings) != 1 {
		t.Errorf("unexpected kind: err %v, warnings %q; want one warning", err, p.Warnings)
	}
}

func TestUserExamples(t *testing.T) {
	// The three examples of the user's manifests, as the loader would give them.
	dir := t.TempDir()
	cmPod := podObj("apache", corev1.Container{
		Name: "httpd", Image: "httpd",
		Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 80, HostPort: 45678}},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}, Optional: ptr(false)}}},
	})
	p := mustBuild(t, configMapObj("cm-sample", map[string]string{"key1": "value1"}), cmPod)
	r, _ := p.Pods[0].Containers[0].Resolve("10.1.0.2")
	if !slices.Equal(r.Env, []string{"key1=value1"}) {
		t.Errorf("configmap-pod env = %q", r.Env)
	}
	if want := []HostPort{{Container: "httpd", HostPort: 45678, ContainerPort: 80, Protocol: corev1.ProtocolTCP}}; !slices.Equal(p.Pods[0].HostPorts, want) {
		t.Errorf("host ports = %+v, want %+v", p.Pods[0].HostPorts, want)
	}

	pod := podObj("apache", corev1.Container{Name: "apache", Image: "httpd",
		Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 80, HostPort: 45678}},
		VolumeMounts: []corev1.VolumeMount{{Name: "local", MountPath: "/data"}}})
	pod.Spec.Volumes = []corev1.Volume{{Name: "local", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr(corev1.HostPathDirectory)}}}}
	p = mustBuild(t, pod)
	if got := p.Pods[0].Volumes[0].HostPath; got == nil || got.Path != dir || got.Type != corev1.HostPathDirectory {
		t.Errorf("hostPath volume = %+v", got)
	}

	p = mustBuild(t, deploymentObj("nginx", ptr(int32(3)), corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}))
	if len(p.Pods) != 3 || p.Pods[2].Name != "nginx-2" || p.Pods[0].Containers[0].PullPolicy != corev1.PullAlways {
		t.Errorf("deployment pods = %d, last %q", len(p.Pods), p.Pods[len(p.Pods)-1].Name)
	}
}

func BenchmarkBuild(b *testing.B) {
	data := map[string]string{}
	for i := range 50 {
		data[fmt.Sprintf("KEY_%d", i)] = strings.Repeat("v", 40)
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "nginx:1.27",
		Ports:   []corev1.ContainerPort{{ContainerPort: 80}},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD", ValueFrom: field("metadata.name")},
			{Name: "URL", Value: "http://$(POD):80/$(KEY_1)"},
		},
	}}}
	objs := objects(configMapObj("cfg", data), deploymentObj("web", ptr(int32(100)), spec))
	b.ReportAllocs()
	for b.Loop() {
		p, err := Build(objs, testOpts)
		if err != nil || len(p.Pods) != 100 {
			b.Fatal(err)
		}
	}
}
