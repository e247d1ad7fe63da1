package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kplay-dev/kplay/pkg/store"
)

// everyError has errors in three documents (one that does not decode, two the
// API server refuses) and two references to objects that do not exist.
const everyError = `apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers: [{name: c, image: nginx, imagee: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: c
    env:
    - name: A
      valueFrom: {configMapKeyRef: {name: settings, key: a}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: other}}
    spec:
      volumes: [{name: creds, secret: {secretName: creds}}]
      containers: [{name: c, image: nginx}]
`

func TestUpReportsEveryErrorAtOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(file, []byte(everyError), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{DataRoot: dir, Namespace: "kplay"}
	var stderr bytes.Buffer
	_, err := buildPlan(nil, &stderr, []string{file}, g, 1<<20, 10)
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("want bad input (exit 2), got %v", err)
	}
	for _, want := range []string{
		file + `: document 1 (Pod "typo"): unknown field "spec.containers[0].imagee"`,
		file + `: document 2: The Pod "web" is invalid: spec.containers[0].image: Required value`,
		file + `: document 3: The Deployment "api" is invalid: spec.template.metadata.labels: Invalid value: {"app":"other"}: ` + "`selector` does not match template `labels`",
		file + `: document 2 (Pod "web"): container "c": spec.containers[0].env[0].valueFrom.configMapKeyRef.name: configmap "settings" not found`,
		file + `: document 3 (Deployment "api"): spec.template.spec.volumes[0].secret.secretName: secret "creds" not found`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 5 {
		t.Errorf("%d lines, want 5:\n%v", n, err)
	}
}

// A reference that an earlier up applied (kplay's store) is no missing reference.
func TestUpUsesStoredObjects(t *testing.T) {
	dir := t.TempDir()
	g := &globalOptions{DataRoot: dir, Namespace: "kplay"}
	err := store.New(g.layout().StorePath(), g.Namespace).Update(func(tx *store.Tx) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"a": "1"}}
		cm.APIVersion, cm.Kind = "v1", "ConfigMap"
		_, err := tx.Put(cm, "earlier.yaml")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "pod.yaml")
	pod := `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: c
    image: nginx
    env:
    - name: A
      valueFrom: {configMapKeyRef: {name: settings, key: a}}
`
	if err := os.WriteFile(file, []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if _, err := buildPlan(nil, &stderr, []string{file}, g, 1<<20, 10); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
}
