package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestEnv(t *testing.T) {
	cmSample := configMapObj("cm-sample", map[string]string{"key1": "value1", "key2": "value2"})
	tests := []struct {
		name    string
		objs    []runtime.Object // besides the pod
		from    []corev1.EnvFromSource
		env     []corev1.EnvVar
		want    []string
		wantErr string
	}{
		{
			name: "issue example: literal expands earlier literals",
			env: []corev1.EnvVar{
				{Name: "FOO", Value: "foo-value"},
				{Name: "BAR", Value: "bar-value"},
				{Name: "FOOBAR", Value: "$(FOO);;$(BAR)"},
			},
			want: []string{"FOO=foo-value", "BAR=bar-value", "FOOBAR=foo-value;;bar-value"},
		},
		{
			name: "envFrom configMap, keys sorted",
			objs: []runtime.Object{cmSample},
			from: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}}},
			want: []string{"key1=value1", "key2=value2"},
		},
		{
			name: "envFrom prefix",
			objs: []runtime.Object{cmSample},
			from: []corev1.EnvFromSource{{Prefix: "p-", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}}},
			want: []string{"p-key1=value1", "p-key2=value2"},
		},
		{
			name: "later envFrom overrides earlier in place, env overrides envFrom in place",
			objs: []runtime.Object{cmSample, configMapObj("second", map[string]string{"key2": "second", "key3": "third"})},
			from: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "second"}}},
			},
			env:  []corev1.EnvVar{{Name: "NEW", Value: "n"}, {Name: "key1", Value: "env"}},
			want: []string{"key1=env", "key2=second", "key3=third", "NEW=n"},
		},
		{
			name: "duplicate env names: last value, first position",
			env:  []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "A", Value: "3"}},
			want: []string{"A=3", "B=2"},
		},
		{
			name: "a literal sees only variables assigned before it",
			env:  []corev1.EnvVar{{Name: "A", Value: "$(B)-a"}, {Name: "B", Value: "b"}},
			want: []string{"A=$(B)-a", "B=b"},
		},
		{
			name: "a literal sees the envFrom value of a variable env redefines later",
			objs: []runtime.Object{cmSample},
			from: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}}},
			env:  []corev1.EnvVar{{Name: "X", Value: "$(key1)"}, {Name: "key1", Value: "new"}},
			want: []string{"key1=new", "key2=value2", "X=value1"},
		},
		{
			name: "escapes and undefined references",
			env:  []corev1.EnvVar{{Name: "A", Value: "$$(A) $(NOPE) $HOME"}},
			want: []string{"A=$(A) $(NOPE) $HOME"},
		},
		{
			name: "valueFrom values are never expanded",
			objs: []runtime.Object{configMapObj("c", map[string]string{"k": "$(A)"})},
			env:  []corev1.EnvVar{{Name: "A", Value: "a"}, {Name: "B", ValueFrom: cmKey("c", "k", false)}, {Name: "C", Value: "$(B)"}},
			want: []string{"A=a", "B=$(A)", "C=$(A)"},
		},
		{
			name: "empty value",
			env:  []corev1.EnvVar{{Name: "E"}},
			want: []string{"E="},
		},
		{
			name: "configMapKeyRef and secretKeyRef",
			objs: []runtime.Object{cmSample, secretObj("s", map[string]string{"password": "hunter2"})},
			env:  []corev1.EnvVar{{Name: "K", ValueFrom: cmKey("cm-sample", "key2", false)}, {Name: "P", ValueFrom: secretKey("s", "password", false)}, {Name: "Q", Value: "pw=$(P)"}},
			want: []string{"K=value2", "P=hunter2", "Q=pw=hunter2"},
		},
		{
			name: "envFrom secret with prefix",
			objs: []runtime.Object{secretObj("s", map[string]string{"user": "u", "pass": "p"})},
			from: []corev1.EnvFromSource{{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}},
			want: []string{"DB_pass=p", "DB_user=u"},
		},
		{
			name: "optional missing objects and keys leave the variable out",
			objs: []runtime.Object{cmSample, secretObj("s", nil)},
			from: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}},
			},
			env: []corev1.EnvVar{
				{Name: "key1", ValueFrom: cmKey("cm-sample", "missing", true)},
				{Name: "A", ValueFrom: cmKey("nope", "k", true)},
				{Name: "B", ValueFrom: secretKey("nope", "k", true)},
				{Name: "C", ValueFrom: secretKey("s", "k", true)},
			},
			want: []string{"key1=value1", "key2=value2"},
		},
		{
			name:    "missing configMap",
			env:     []corev1.EnvVar{{Name: "FOO", ValueFrom: cmKey("cm-sample", "key1", false)}},
			wantErr: `pod "default/apache": container "httpd": env "FOO": configmap "cm-sample" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name:    "missing configMap key",
			objs:    []runtime.Object{cmSample},
			env:     []corev1.EnvVar{{Name: "FOO", ValueFrom: cmKey("cm-sample", "nokey", false)}},
			wantErr: `pod "default/apache": container "httpd": env "FOO": key "nokey" not found in configmap "cm-sample"`,
		},
		{
			name: "binaryData key is not env",
			objs: []runtime.Object{&corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "bin"}, BinaryData: map[string][]byte{"blob": {0, 1}},
			}},
			env:     []corev1.EnvVar{{Name: "FOO", ValueFrom: cmKey("bin", "blob", false)}},
			wantErr: `pod "default/apache": container "httpd": env "FOO": key "blob" of configmap "bin" is binaryData, which cannot be used in env`,
		},
		{
			name:    "missing secret",
			env:     []corev1.EnvVar{{Name: "PW", ValueFrom: secretKey("db", "password", false)}},
			wantErr: `pod "default/apache": container "httpd": env "PW": secret "db" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name:    "missing secret key",
			objs:    []runtime.Object{secretObj("db", map[string]string{"user": "u"})},
			env:     []corev1.EnvVar{{Name: "PW", ValueFrom: secretKey("db", "password", false)}},
			wantErr: `pod "default/apache": container "httpd": env "PW": key "password" not found in secret "db"`,
		},
		{
			name:    "missing envFrom configMap",
			from:    []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}, Optional: ptr(false)}}},
			wantErr: `pod "default/apache": container "httpd": envFrom[0]: configmap "cm-sample" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name:    "missing envFrom secret",
			objs:    []runtime.Object{cmSample},
			from:    []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}}, {SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}},
			wantErr: `pod "default/apache": container "httpd": envFrom[1]: secret "s" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name:    "configMap of another namespace is not visible",
			objs:    []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-sample", Namespace: "other"}, Data: map[string]string{"key1": "x"}}},
			env:     []corev1.EnvVar{{Name: "FOO", ValueFrom: cmKey("cm-sample", "key1", false)}},
			wantErr: `pod "default/apache": container "httpd": env "FOO": configmap "cm-sample" not found: declare it in the files or apply it first with kplay up -f FILE`,
		},
		{
			name:    "unsupported fieldRef",
			env:     []corev1.EnvVar{{Name: "F", ValueFrom: field("status.phase")}},
			wantErr: `pod "default/apache": container "httpd": env "F": fieldRef "status.phase" is not supported`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "httpd", Image: "httpd", EnvFrom: tt.from, Env: tt.env}
			objs := append(slices.Clone(tt.objs), podObj("apache", c))
			p, err := Build(objects(objs...), testOpts)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Build succeeded, want error %q", tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error\n got %q\nwant %q", err, tt.wantErr)
				}
				if !errdefs.IsInvalidArgument(err) {
					t.Errorf("error %q is not an invalid argument (exit 2)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			r, err := p.Pods[0].Containers[0].Resolve("10.1.0.7")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !slices.Equal(r.Env, tt.want) {
				t.Errorf("env\n got %q\nwant %q", r.Env, tt.want)
			}
		})
	}
}

func TestEnvFromSkipsInvalidNames(t *testing.T) {
	objs := []runtime.Object{
		configMapObj("cm", map[string]string{"ok": "1"}),
		deploymentObj("web", ptr(int32(2)), corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "nginx",
			EnvFrom: []corev1.EnvFromSource{
				{Prefix: "bad=", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
			},
		}}}),
	}
	p := mustBuild(t, objs...)
	want := []string{`deployment "default/web": container "c": keys [bad=ok] from the envFrom configmap "cm" were skipped: they are not valid environment variable names`}
	if !slices.Equal(p.Warnings, want) {
		t.Errorf("warnings\n got %q\nwant %q (once for both replicas)", p.Warnings, want)
	}
	r, err := p.Pods[1].Containers[0].Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Env, []string{"ok=1"}) {
		t.Errorf("env = %q, want [ok=1]", r.Env)
	}
}

func TestFieldRefs(t *testing.T) {
	pod := podObj("apache", corev1.Container{
		Name: "httpd", Image: "httpd",
		Env: []corev1.EnvVar{
			{Name: "NAME", ValueFrom: field("metadata.name")},
			{Name: "NS", ValueFrom: field("metadata.namespace")},
			{Name: "UID", ValueFrom: field("metadata.uid")},
			{Name: "TIER", ValueFrom: field("metadata.labels['tier']")},
			{Name: "NOLABEL", ValueFrom: field("metadata.labels['missing']")},
			{Name: "NOTE", ValueFrom: field("metadata.annotations['note']")},
			{Name: "LABELS", ValueFrom: field("metadata.labels")},
			{Name: "NODE", ValueFrom: field("spec.nodeName")},
			{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
			{Name: "HOST_IP", ValueFrom: field("status.hostIP")},
			{Name: "HOST_IPS", ValueFrom: field("status.hostIPs")},
			{Name: "POD_IP", ValueFrom: field("status.podIP")},
			{Name: "POD_IPS", ValueFrom: field("status.podIPs")},
			{Name: "URL", Value: "http://$(POD_IP):80/$(NAME)"},
		},
	})
	pod.Namespace = "shop"
	pod.Labels = map[string]string{"tier": "web", "app": "a"}
	pod.Annotations = map[string]string{"note": "hello"}
	p := mustBuild(t, pod)
	pp := p.Pods[0]
	r, err := pp.Containers[0].Resolve("10.1.0.7")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NAME=apache", "NS=shop", "UID=" + pp.UID, "TIER=web", "NOLABEL=", "NOTE=hello",
		"LABELS=app=\"a\"\ntier=\"web\"", "NODE=node1", "SA=default",
		"HOST_IP=10.0.0.5", "HOST_IPS=10.0.0.5", "POD_IP=10.1.0.7", "POD_IPS=10.1.0.7",
		"URL=http://10.1.0.7:80/apache",
	}
	if !slices.Equal(r.Env, want) {
		t.Errorf("env\n got %q\nwant %q", r.Env, want)
	}
	if pp.UID == "" {
		t.Error("UID is empty")
	}
	if got := pp.Containers[0].Env[11]; got.Source != EnvPodIP || got.Value != "" {
		t.Errorf("POD_IP in plan = %+v, want EnvPodIP with no value", got)
	}
}

func TestResourceFieldRef(t *testing.T) {
	res := func(resourceName, divisor, containerName string) *corev1.EnvVarSource {
		s := &corev1.ResourceFieldSelector{Resource: resourceName, ContainerName: containerName}
		if divisor != "" {
			s.Divisor = resource.MustParse(divisor)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: s}
	}
	limited := corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("100Mi")},
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	tests := []struct {
		name      string
		resources corev1.ResourceRequirements
		ref       *corev1.EnvVarSource
		want      string
		wantErr   string
	}{
		{"cpu limit in cores rounds up", limited, res("limits.cpu", "", ""), "1", ""},
		{"cpu limit in millicores", limited, res("limits.cpu", "1m", ""), "250", ""},
		{"cpu request defaults to the limit", limited, res("requests.cpu", "1m", ""), "250", ""},
		{"memory limit in bytes", limited, res("limits.memory", "", ""), "104857600", ""},
		{"memory limit in Mi", limited, res("limits.memory", "1Mi", ""), "100", ""},
		{"memory request", limited, res("requests.memory", "1Mi", ""), "64", ""},
		{"memory limit in Gi rounds up", limited, res("limits.memory", "1Gi", ""), "1", ""},
		{"no cpu limit: node allocatable", corev1.ResourceRequirements{}, res("limits.cpu", "", ""), "2", ""},
		{"no cpu limit: node allocatable in m", corev1.ResourceRequirements{}, res("limits.cpu", "1m", ""), "2000", ""},
		{"no memory limit: node allocatable", corev1.ResourceRequirements{}, res("limits.memory", "1Mi", ""), "4096", ""},
		{"no ephemeral-storage limit: node allocatable", corev1.ResourceRequirements{}, res("limits.ephemeral-storage", "1Gi", ""), "100", ""},
		{"no request: zero", corev1.ResourceRequirements{}, res("requests.cpu", "", ""), "0", ""},
		{"another container's limit", corev1.ResourceRequirements{}, res("limits.memory", "1Mi", "side"), "32", ""},
		{"unknown container", corev1.ResourceRequirements{}, res("limits.memory", "", "nope"), "",
			`pod "default/apache": container "httpd": env "V": resourceFieldRef: container "nope" not found`},
		{"unsupported resource", corev1.ResourceRequirements{}, res("limits.gpu", "", ""), "",
			`pod "default/apache": container "httpd": env "V": resourceFieldRef "limits.gpu" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			side := ctr("side")
			side.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
			main := corev1.Container{Name: "httpd", Image: "httpd", Resources: tt.resources, Env: []corev1.EnvVar{{Name: "V", ValueFrom: tt.ref}}}
			p, err := Build(objects(podObj("apache", main, side)), testOpts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Pods[0].Containers[0].Env[0].Value; got != tt.want {
				t.Errorf("V = %q, want %q", got, tt.want)
			}
		})
	}
}

// Kubernetes' own vectors for $(VAR) expansion
// (third_party/forked/golang/expansion/expand_test.go).
func TestExpandKubernetesVectors(t *testing.T) {
	vars := map[string]string{
		"VAR_A":     "A",
		"VAR_B":     "B",
		"VAR_C":     "C",
		"VAR_REF":   "$(VAR_A)",
		"VAR_EMPTY": "",
	}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct{ name, in, want string }{
		{"whole string", "$(VAR_A)", "A"},
		{"repeat", "$(VAR_A)-$(VAR_A)", "A-A"},
		{"beginning", "$(VAR_A)-1", "A-1"},
		{"middle", "___$(VAR_B)___", "___B___"},
		{"end", "___$(VAR_C)", "___C"},
		{"compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"},
		{"escape & expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"},
		{"compound escape", "$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"},
		{"mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"},
		{"backslash escape ignored", "foo\\$(VAR_C)bar", "foo\\Cbar"},
		{"backslash escape ignored 2", "foo\\\\$(VAR_C)bar", "foo\\\\Cbar"},
		{"lots of backslashes", "foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"},
		{"nested var references", "$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"},
		{"nested var references second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"},
		{"value is a reference", "$(VAR_REF)", "$(VAR_A)"},
		{"value is a reference x 2", "%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"},
		{"empty var", "foo$(VAR_EMPTY)bar", "foobar"},
		{"unterminated expression", "foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"},
		{"expression without operator", "f00__(VAR_A)__", "f00__(VAR_A)__"},
		{"shell special vars pass through", "$?_boo_$!", "$?_boo_$!"},
		{"bare operators are ignored", "$VAR_A", "$VAR_A"},
		{"undefined vars are passed through", "$(VAR_DNE)", "$(VAR_DNE)"},
		{"multiple (even) operators, var undefined", "$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"},
		{"multiple (even) operators, var defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"},
		{"multiple (odd) operators, var undefined", "$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"},
		{"multiple (odd) operators, var defined", "$$$$$$$(VAR_A)", "$$$A"},
		{"missing open expression", "$VAR_A)", "$VAR_A)"},
		{"shell syntax ignored", "${VAR_A}", "${VAR_A}"},
		{"trailing incomplete expression not consumed", "$(VAR_B)_______$(A", "B_______$(A"},
		{"trailing incomplete expression, no content, is not consumed", "$(VAR_C)_______$(", "C_______$("},
		{"operator at end of input string is preserved", "$(VAR_A)foobarzab$", "Afoobarzab$"},
		{"shell escaped incomplete expr", "foo-\\$(VAR_A", "foo-\\$(VAR_A"},
		{"lots of $( in middle", "--$($($($($--", "--$($($($($--"},
		{"lots of $( in beginning", "$($($($($--foo$(", "$($($($($--foo$("},
		{"lots of $( at end", "foo0--$($($($(", "foo0--$($($($("},
		{"escaped operators in variable names are not escaped", "$(foo$$var)", "$(foo$$var)"},
		{"newline not expanded", "\n", "\n"},
		{"empty name", "$()", "$()"},
	}
	for _, tt := range tests {
		if got := expand(tt.in, lookup); got != tt.want {
			t.Errorf("%s: expand(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// The four command/args cases: the plan keeps what is given, expanded against
// the whole final env; merging with the image happens in the runtime.
func TestCommandArgs(t *testing.T) {
	env := []corev1.EnvVar{{Name: "GREETING", Value: "hello"}, {Name: "LATE", Value: "$(LATER)"}, {Name: "LATER", Value: "x"}}
	tests := []struct {
		name              string
		command, args     []string
		wantCmd, wantArgs []string
	}{
		{"neither", nil, nil, nil, nil},
		{"command only", []string{"echo", "$(GREETING)"}, nil, []string{"echo", "hello"}, nil},
		{"args only", nil, []string{"$(GREETING) world", "$$(GREETING)", "$(NOPE)"}, nil, []string{"hello world", "$(GREETING)", "$(NOPE)"}},
		{"both", []string{"sh", "-c"}, []string{"echo $(GREETING) $(LATER) $(LATE)"}, []string{"sh", "-c"}, []string{"echo hello x $(LATER)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "c", Image: "busybox", Command: tt.command, Args: tt.args, Env: env}
			p := mustBuild(t, podObj("p", c))
			r, err := p.Pods[0].Containers[0].Resolve("10.1.0.7")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Command, tt.wantCmd) || !slices.Equal(r.Args, tt.wantArgs) {
				t.Errorf("command %q args %q, want %q %q", r.Command, r.Args, tt.wantCmd, tt.wantArgs)
			}
			if (r.Command == nil) != (tt.wantCmd == nil) || (r.Args == nil) != (tt.wantArgs == nil) {
				t.Errorf("unset command or args must stay nil so the runtime uses the image's")
			}
			got := p.Pods[0].Pod().Spec.Containers[0]
			if !slices.Equal(got.Command, tt.wantCmd) || !slices.Equal(got.Args, tt.wantArgs) {
				t.Errorf("dry run: command %q args %q, want %q %q", got.Command, got.Args, tt.wantCmd, tt.wantArgs)
			}
		})
	}
}

func TestSubPathExpr(t *testing.T) {
	mount := func(expr string) corev1.Container {
		return corev1.Container{
			Name: "c", Image: "busybox",
			Env: []corev1.EnvVar{
				{Name: "POD", ValueFrom: field("metadata.name")},
				{Name: "IP", ValueFrom: field("status.podIP")},
				{Name: "UP", Value: ".."},
				{Name: "EMPTY"},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPathExpr: expr}},
		}
	}
	tests := []struct {
		name, expr, want string
		wantErr          string
	}{
		{"pod name", "logs/$(POD)", "logs/web", ""},
		{"pod ip", "$(IP)", "10.1.0.7", ""},
		{"undefined", "$(NOPE)/x", "", `pod "default/web": container "c": volumeMount "data": subPathExpr "$(NOPE)/x": missing value for NOPE`},
		{"empty", "$(EMPTY)", "", `pod "default/web": container "c": volumeMount "data": subPathExpr "$(EMPTY)": missing value for EMPTY`},
		{"backstep", "$(UP)/etc", "", `pod "default/web": container "c": volumeMount "data": subPath "../etc" must not contain '..'`},
		{"absolute", "/$(POD)", "", `pod "default/web": container "c": volumeMount "data": subPath "/web" must be a relative path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := podObj("web", mount(tt.expr))
			pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p, err := Build(objects(pod), testOpts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if !errdefs.IsInvalidArgument(err) {
					t.Errorf("not an invalid argument: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.Pods[0].Containers[0].Resolve("10.1.0.7")
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Mounts[0]; got.SubPath != tt.want || got.SubPathExpr != "" || got.MountPath != "/data" {
				t.Errorf("mount = %+v, want subPath %q", got, tt.want)
			}
			if spec := p.Pods[0].Containers[0].Spec.VolumeMounts[0]; spec.SubPathExpr != tt.expr {
				t.Errorf("the plan's spec lost subPathExpr: %+v", spec)
			}
		})
	}
}

func TestResolveIsRepeatable(t *testing.T) {
	c := corev1.Container{Name: "c", Image: "busybox", Env: []corev1.EnvVar{{Name: "IP", ValueFrom: field("status.podIP")}, {Name: "U", Value: "http://$(IP)/"}}}
	p := mustBuild(t, podObj("p", c))
	a, _ := p.Pods[0].Containers[0].Resolve("10.0.0.1")
	b, _ := p.Pods[0].Containers[0].Resolve("10.0.0.2")
	if !slices.Equal(a.Env, []string{"IP=10.0.0.1", "U=http://10.0.0.1/"}) || !slices.Equal(b.Env, []string{"IP=10.0.0.2", "U=http://10.0.0.2/"}) {
		t.Errorf("Resolve depends on an earlier call: %q then %q", a.Env, b.Env)
	}
	if strings.Contains(p.Pods[0].Containers[0].Env[1].Value, "10.0.0") {
		t.Error("Resolve changed the plan")
	}
}

func TestResolveHandBuiltContainer(t *testing.T) {
	c := Container{Name: "c", Env: []EnvVar{{Name: "A", Value: "a"}, {Name: "B", Value: "$(A)b"}, {Name: "IP", Source: EnvPodIP}}}
	r, err := c.Resolve("10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=a", "B=ab", "IP=10.0.0.9"}; !slices.Equal(r.Env, want) {
		t.Errorf("env = %q, want %q", r.Env, want)
	}
}

func TestErrorsAreInvalidArgument(t *testing.T) {
	_, err := Build(objects(podObj("p", corev1.Container{Name: "c", Image: "x", Env: []corev1.EnvVar{{Name: "A", ValueFrom: cmKey("x", "y", false)}}})), testOpts)
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("errors.Is(%v, ErrInvalidArgument) = false", err)
	}
}
