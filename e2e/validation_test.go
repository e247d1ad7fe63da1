package e2e

import (
	"strings"
	"testing"
)

// Validation is the API server's: every error of every document at once, with
// its messages, exit 2; kplay's own limits say they are kplay's.
func TestValidationEveryErrorAtOnce(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(`apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers: [{name: c, image: busybox, imagee: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: c
    terminationMessagePolicy: Always
    env:
    - name: A
      valueFrom: {configMapKeyRef: {name: settings, key: a}}
---
apiVersion: v1
kind: Configmap
metadata: {name: cfg}
---
apiVersion: v1
kind: Pod
metadata: {name: nfs}
spec:
  volumes: [{name: v, nfs: {server: nfs.example, path: /}}]
  containers: [{name: c, image: busybox, volumeMounts: [{name: v, mountPath: /v}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      volumes: [{name: creds, secret: {secretName: creds}}]
      containers: [{name: c, image: busybox}]
`)
	for _, args := range [][]string{{"up", "--dry-run", "-f", file}, {"up", "-q", "-f", file}} {
		r := e.Kplay(args...)
		if r.Code != 2 {
			t.Fatalf("want exit 2:\n%s", r)
		}
		for _, want := range []string{
			file + `: document 1 (Pod "typo"): unknown field "spec.containers[0].imagee"`,
			file + `: document 2: The Pod "web" is invalid:`,
			`* spec.containers[0].image: Required value`,
			`* spec.containers[0].terminationMessagePolicy: Unsupported value: "Always": supported values: "File", "FallbackToLogsOnError"`,
			file + `: document 3 (Configmap "cfg"): no matches for kind "Configmap" in version "v1"`,
			file + `: document 4: kplay cannot run Pod "nfs": spec.volumes[0].nfs: Forbidden: kplay supports only`,
			file + `: document 2 (Pod "web"): container "c": spec.containers[0].env[0].valueFrom.configMapKeyRef.name: configmap "settings" not found`,
			file + `: document 5 (Deployment "api"): spec.template.spec.volumes[0].secret.secretName: secret "creds" not found`,
		} {
			contains(t, "stderr of kplay "+strings.Join(args, " "), r.Stderr, want)
		}
	}
	if pods := e.Pods(); len(pods) != 0 {
		t.Errorf("bad input created pods: %v", pods)
	}
}

// What the API server accepts and defaults runs: a volume with no source is an
// emptyDir, a negative grace period is 1 second, a custom resource is a warning.
func TestValidationDefaultsRun(t *testing.T) {
	e := newEnv(t)
	file := e.Manifest(`apiVersion: v1
kind: Pod
metadata: {name: defaults}
spec:
  terminationGracePeriodSeconds: -1
  volumes: [{name: scratch}]
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo hi > /scratch/f && sleep 3600']
    volumeMounts: [{name: scratch, mountPath: /scratch}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: web}
`)
	dry := e.MustKplay("up", "--dry-run", "-f", file)
	contains(t, "dry run", dry.Stdout, "emptyDir: {}")
	contains(t, "dry run", dry.Stdout, "terminationGracePeriodSeconds: 1")
	contains(t, "dry run stderr", dry.Stderr, "is a custom resource (group monitoring.coreos.com), which kplay does not run; it is ignored")
	e.Up(file)
	e.WaitRunning("defaults")
	if got := e.MustExec("defaults", "cat", "/scratch/f"); strings.TrimSpace(got) != "hi" {
		t.Errorf("emptyDir: got %q", got)
	}
}
