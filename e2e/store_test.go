package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const storedSecretValue = "s3cret-from-an-earlier-up"

// A Secret and a ConfigMap applied by one up are used by a pod of a later up, listed by
// kplay get without their values, and gone after down -f of the file that applied them.
func TestStoredSecretUsedByLaterUp(t *testing.T) {
	e := newEnv(t)
	objects := e.Manifest(`apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: ` + storedSecretValue + `
  user: admin
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  MODE: stored
`)
	r := e.Up(objects)
	contains(t, "up of the objects", r.Stdout, "secret/db created")
	contains(t, "up of the objects", r.Stdout, "configmap/settings created")

	pod := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    env:
    - name: PW
      valueFrom: {secretKeyRef: {name: db, key: password}}
    envFrom:
    - configMapRef: {name: settings}
    volumeMounts:
    - {name: creds, mountPath: /etc/creds}
  volumes:
  - name: creds
    secret: {secretName: db}
`)
	e.Up(pod)
	e.WaitRunning("app")
	got := e.MustExec("app", "sh", "-c", `echo "$PW $MODE $(cat /etc/creds/user)"`)
	if want := storedSecretValue + " stored admin\n"; got != want {
		t.Errorf("the pod sees %q, want %q", got, want)
	}

	// kubectl's columns, and the Secret's values in no output.
	r = e.MustKplay("get", "secrets")
	rows := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(rows) != 2 || strings.Join(strings.Fields(rows[0]), " ") != "NAME TYPE DATA AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(rows[1]), " "), "db Opaque 2 ") {
		t.Errorf("kplay get secrets:\n%s", r.Stdout)
	}
	r = e.MustKplay("get", "cm", "-A")
	if f := strings.Fields(r.Stdout); len(f) < 8 || strings.Join(f[:7], " ") != "NAMESPACE NAME DATA AGE default settings 1" {
		t.Errorf("kplay get cm -A:\n%s", r.Stdout)
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(storedSecretValue))
	for _, format := range []string{"yaml", "json", "wide"} {
		r = e.MustKplay("get", "secrets,configmaps", "-o", format)
		if strings.Contains(r.Stdout, storedSecretValue) || strings.Contains(r.Stdout, encoded) {
			t.Errorf("kplay get -o %s prints the Secret's value:\n%s", format, r.Stdout)
		}
	}
	r = e.MustKplay("get", "secrets", "-o", "yaml")
	contains(t, "kplay get secrets -o yaml", r.Stdout, `password: ""`)
	var list corev1.SecretList
	r = e.MustKplay("get", "secret", "-o", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list.Items) != 1 || list.Items[0].Name != "db" ||
		list.Items[0].Kind != "Secret" || len(list.Items[0].Data) != 2 {
		t.Errorf("kplay get secret -o json is not a list holding Secret db with two keys (%v):\n%s", err, r.Stdout)
	}

	// down -f of the objects' file removes them from the store; the running pod keeps
	// its files, and a new pod that needs the Secret is refused.
	r = e.MustKplay("down", "-f", objects)
	contains(t, "down -f of the objects", r.Stdout, "secret/db removed")
	r = e.MustKplay("get", "secrets", "-o", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || list.Items == nil || len(list.Items) != 0 || !strings.Contains(r.Stdout, `"items": []`) {
		t.Errorf("after down -f, kplay get secrets -o json is not an empty list (%v):\n%s", err, r.Stdout)
	}
	r = e.MustKplay("get", "secrets")
	if r.Stdout != "" || !strings.Contains(r.Stderr, "No resources found in default namespace.") {
		t.Errorf("kplay get secrets with none: %s", r)
	}
	again := e.Manifest(strings.Replace(mustRead(t, pod), "name: app", "name: app2", 1))
	r = e.Kplay("up", "-q", "-f", again)
	if r.Code != 2 || !strings.Contains(r.Stderr, `secret "db" not found`) {
		t.Errorf("up of a pod whose Secret was taken down: %s", r)
	}
}

// A file with only a PersistentVolumeClaim creates the claim; pods of other files use
// it; down -f --volumes deletes its data only once no pod uses it.
func TestLonePersistentVolumeClaim(t *testing.T) {
	e := newEnv(t)
	claim := e.Manifest(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 2Gi
`)
	r := e.Up(claim)
	if strings.TrimSpace(r.Stdout) != "persistentvolumeclaim/data created" {
		t.Errorf("up of a lone claim printed %q", r.Stdout)
	}
	dir := filepath.Join(e.DataRoot, "claims", "default", "data")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("up of a lone claim made no claim directory: %v", err)
	}
	r = e.MustKplay("get", "pvc")
	rows := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(rows) != 2 || strings.Join(strings.Fields(rows[0]), " ") != "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE" {
		t.Fatalf("kplay get pvc:\n%s", r.Stdout)
	}
	if f := strings.Fields(rows[1]); len(f) != 7 || f[0] != "data" || f[1] != "Bound" || !strings.HasPrefix(f[2], "pvc-") ||
		f[3] != "2Gi" || f[4] != "RWO" || f[5] != "<unset>" {
		t.Errorf("kplay get pvc row %q, want data Bound pvc-... 2Gi RWO <unset> AGE", rows[1])
	}

	pod := e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: db
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
`)
	e.Up(pod)
	e.WaitRunning("db")
	e.MustExec("db", "sh", "-c", "echo row > /data/row")
	if b, err := os.ReadFile(filepath.Join(dir, "row")); err != nil || string(b) != "row\n" {
		t.Fatalf("the pod's write is not in the claim directory: %q, %v", b, err)
	}

	// In use: the claim leaves the store, its data stays.
	r = e.MustKplay("down", "--volumes", "-f", claim)
	contains(t, "down --volumes of a claim in use", r.Stdout, "persistentvolumeclaim/data removed")
	contains(t, "down --volumes of a claim in use", r.Stderr, "persistentvolumeclaim default/data is used by a pod that remains")
	if got := e.MustExec("db", "cat", "/data/row"); got != "row\n" {
		t.Errorf("down --volumes deleted a claim a running pod uses: it reads %q", got)
	}

	// No pod uses it any more: down -f --volumes of the claim's file deletes the data.
	e.Up(claim)
	e.MustKplay("down", "-f", pod)
	if _, err := os.Stat(filepath.Join(dir, "row")); err != nil {
		t.Fatalf("down without --volumes deleted the claim's data: %v", err)
	}
	e.MustKplay("down", "--volumes", "-f", claim)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("down --volumes -f of the claim's file left %s: %v", dir, err)
	}
	r = e.MustKplay("get", "pvc", "-A")
	if r.Stdout != "" {
		t.Errorf("kplay get pvc after down:\n%s", r.Stdout)
	}
}
