package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/kplay-dev/kplay/pkg/store"
)

func TestGetOutput(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	meta := metav1.ObjectMeta{Namespace: "default", Name: "db", CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second))}
	sec := &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("hunter2")}}
	fs := corev1.PersistentVolumeFilesystem
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: meta, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-1", VolumeMode: &fs},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
	lists := func() []storedList {
		return []storedList{
			{kind: store.Secrets, items: []k8sruntime.Object{sec.DeepCopy()}, sources: []string{"/a.yaml"}},
			{kind: store.PersistentVolumeClaims, items: []k8sruntime.Object{pvc.DeepCopy()}, sources: []string{"/p.yaml"}},
		}
	}
	tests := []struct {
		name string
		opts getOptions
		want string
	}{
		{"two kinds", getOptions{Namespace: "default"}, `
NAME        TYPE     DATA   AGE
secret/db   Opaque   1      90s

NAME                       STATUS   VOLUME   CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE
persistentvolumeclaim/db   Bound    pvc-1    1Gi        RWO,RWX                       <unset>                 90s
`},
		{"yaml never shows a secret value", getOptions{Output: "yaml"}, `
apiVersion: v1
items:
- apiVersion: v1
  data:
    password: ""
  kind: Secret
  metadata:
    creationTimestamp: "2025-01-01T11:58:30Z"
    name: db
    namespace: default
  type: Opaque
kind: List
metadata: {}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			l := lists()
			if tt.opts.Output == "yaml" {
				l = l[:1]
			}
			if err := printStored(&out, &errOut, l, &tt.opts, false, now); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != strings.TrimPrefix(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", got, strings.TrimPrefix(tt.want, "\n"))
			}
		})
	}

	var out, errOut bytes.Buffer
	if err := printStored(&out, &errOut, []storedList{{kind: store.ConfigMaps}}, &getOptions{Output: "json"}, false, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"items": []`) {
		t.Errorf("an empty -o json list:\n%s", out.String())
	}
	out.Reset()
	printStored(&out, &errOut, []storedList{{kind: store.ConfigMaps}}, &getOptions{Namespace: "web"}, false, now)
	if out.String() != "" || errOut.String() != "No resources found in web namespace.\n" {
		t.Errorf("an empty table: stdout %q, stderr %q", out.String(), errOut.String())
	}
}
