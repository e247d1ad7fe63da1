package plan

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestPodNeverShowsSecrets(t *testing.T) {
	const secretValue = "hunter2-TOPSECRET"
	sec := secretObj("db", map[string]string{"password": secretValue, "user": "admin-SECRETUSER"})
	c := corev1.Container{
		Name: "app", Image: "busybox",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}},
		Env: []corev1.EnvVar{
			{Name: "PW", ValueFrom: secretKey("db", "password", false)},
			{Name: "DSN", Value: "postgres://$(DB_user):$(PW)@db"},
			{Name: "IP", ValueFrom: field("status.podIP")},
			{Name: "URL", Value: "http://$(IP)/"},
		},
		Command: []string{"sh", "-c", "echo $(PW) $(DB_password)"},
		Args:    []string{"$(DSN)"},
	}
	pod := podWithVolume(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}})
	c.VolumeMounts = pod.Spec.Containers[0].VolumeMounts
	pod.Spec.Containers = []corev1.Container{c}
	p := mustBuild(t, sec, pod)

	got := p.Pods[0].Pod()
	for _, format := range []string{"yaml", "json"} {
		var b []byte
		var err error
		if format == "yaml" {
			b, err = yaml.Marshal(got)
		} else {
			b, err = json.Marshal(got)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"TOPSECRET", "SECRETUSER"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s dry run shows a secret value:\n%s", format, b)
			}
		}
	}

	env := map[string]corev1.EnvVar{}
	var names []string
	for _, e := range got.Spec.Containers[0].Env {
		env[e.Name] = e
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "DB_password,DB_user,PW,DSN,IP,URL" {
		t.Errorf("env names %v", names)
	}
	if r := env["DB_password"].ValueFrom; r == nil || r.SecretKeyRef == nil || r.SecretKeyRef.Name != "db" || r.SecretKeyRef.Key != "password" {
		t.Errorf("DB_password = %+v, want a secretKeyRef to db/password", env["DB_password"])
	}
	if r := env["PW"].ValueFrom; r == nil || r.SecretKeyRef == nil || env["PW"].Value != "" {
		t.Errorf("PW = %+v, want a secretKeyRef", env["PW"])
	}
	if env["DSN"].Value != "postgres://$(DB_user):$(PW)@db" {
		t.Errorf("DSN = %q, want the secret references left unexpanded", env["DSN"].Value)
	}
	if r := env["IP"].ValueFrom; r == nil || r.FieldRef == nil || r.FieldRef.FieldPath != "status.podIP" || r.FieldRef.APIVersion != "v1" {
		t.Errorf("IP = %+v, want fieldRef status.podIP", env["IP"])
	}
	if env["URL"].Value != "http://$(IP)/" {
		t.Errorf("URL = %q", env["URL"].Value)
	}
	if got.Spec.Containers[0].EnvFrom != nil {
		t.Error("envFrom not flattened away")
	}
	if strings.Join(got.Spec.Containers[0].Command, " ") != "sh -c echo $(PW) $(DB_password)" {
		t.Errorf("command = %q", got.Spec.Containers[0].Command)
	}

	// What runs does get the values.
	r, err := p.Pods[0].Containers[0].Resolve("10.1.0.3")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(r.Env, "\n")
	if !strings.Contains(joined, "DSN=postgres://admin-SECRETUSER:hunter2-TOPSECRET@db") || !strings.Contains(joined, "URL=http://10.1.0.3/") {
		t.Errorf("resolved env:\n%s", joined)
	}
	if r.Command[2] != "echo hunter2-TOPSECRET hunter2-TOPSECRET" {
		t.Errorf("resolved command %q", r.Command)
	}
}

func TestPodDryRun(t *testing.T) {
	cm := configMapObj("cm-sample", map[string]string{"key1": "value1"})
	c := corev1.Container{
		Name: "httpd", Image: "httpd",
		Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 80, HostPort: 45678}},
		EnvFrom: []corev1.EnvFromSource{{Prefix: "p-", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-sample"}}}},
		Env: []corev1.EnvVar{
			{Name: "FOO", Value: "foo-value"},
			{Name: "BAR", Value: "bar-value"},
			{Name: "FOOBAR", Value: "$(FOO);;$(BAR)"},
			{Name: "POD", ValueFrom: field("metadata.name")},
		},
		Args: []string{"--name=$(POD)"},
	}
	p := mustBuild(t, cm, podObj("apache", c))
	b, err := yaml.Marshal(p.Pods[0].Pod())
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{
		"apiVersion: v1\n", "kind: Pod\n", "  name: apache\n", "  namespace: default\n", "  uid: " + p.Pods[0].UID + "\n",
		"  - name: p-key1\n      value: value1\n",
		"  - name: FOOBAR\n      value: foo-value;;bar-value\n",
		"  - name: POD\n      value: apache\n",
		"  - --name=apache\n",
		"    imagePullPolicy: Always\n", "  restartPolicy: Always\n", "  terminationGracePeriodSeconds: 30\n",
		"  dnsPolicy: ClusterFirst\n", "      protocol: TCP\n", "      hostPort: 45678\n",
		"  phase: Pending\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "envFrom") || strings.Contains(out, "configMapRef") {
		t.Errorf("dry run still shows envFrom:\n%s", out)
	}
}
