package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// swapPod is the attack of issue 8: "attacker" waits for "victim" to have started
// once with its subPath mounted, swaps that directory for a symlink to the host's /,
// and marks the swap; "victim" exits after every start, so containerd's restart
// monitor starts it again, and each start after the swap records what /mnt is.
// Without a pinned subPath, runc follows the symlink at the restart and /mnt is the
// host's root.
func swapPod(name, mount, escapeFile string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: attacker
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /shared/dir; until [ -e /shared/dir/started ]; do sleep 0.1; done; mv /shared/dir /shared/old && ln -s / /shared/dir && touch /shared/swapped; sleep 3600 & wait"]
    volumeMounts:
    - name: shared
      mountPath: /shared
  - name: victim
    image: busybox
    env:
    - name: DIR
      value: dir
    command: ["sh", "-c", "trap 'exit 0' TERM; if [ -e /all/swapped ]; then if [ -e /mnt/etc/passwd ]; then echo ESCAPED; fi; echo after-swap >> /mnt/%[3]s; fi; touch /mnt/started; sleep 1; exit 1"]
    volumeMounts:
    - name: shared
      mountPath: /all
    - name: shared
      mountPath: /mnt
      %[2]s
  volumes:
  - name: shared
    emptyDir: {}
`, name, mount, escapeFile)
}

func TestSubPathSwappedForASymlinkStaysInTheVolume(t *testing.T) {
	for _, tt := range []struct{ name, mount string }{
		{"subpath", "subPath: dir"},
		{"subpathexpr", "subPathExpr: $(DIR)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			escape := "kplay-e2e-escaped-" + e.NS
			hostFile := filepath.Join("/", escape)
			t.Cleanup(func() { os.Remove(hostFile) })
			e.Up(e.Manifest(swapPod("swap", tt.mount, escape)))
			// The restart monitor of containerd 1.6 looks every 10 s.
			deadline := time.Now().Add(60 * time.Second)
			for {
				r := e.Kplay("exec", "swap", "-c", "attacker", "--", "cat", "/shared/old/"+escape)
				if r.Code == 0 && strings.Contains(r.Stdout, "after-swap") {
					break
				}
				if _, err := os.Stat(hostFile); err == nil {
					t.Fatalf("the restarted container wrote %s on the host through the swapped subPath", hostFile)
				}
				if time.Now().After(deadline) {
					t.Fatalf("the victim never restarted after the swap with its own directory at /mnt\n%s\nlogs:\n%s",
						r, e.Kplay("logs", "swap", "-c", "victim").Stdout)
				}
				time.Sleep(500 * time.Millisecond)
			}
			if _, err := os.Stat(hostFile); err == nil {
				t.Errorf("the restarted container wrote %s on the host", hostFile)
			}
			if logs := e.Kplay("logs", "swap", "-c", "victim").Stdout; strings.Contains(logs, "ESCAPED") {
				t.Errorf("the restarted container saw the host's /etc/passwd at /mnt/etc/passwd")
			}
		})
	}
}

func TestSubPathPlantedByAnInitContainerIsRefused(t *testing.T) {
	for _, tt := range []struct{ name, mount string }{
		{"subpath", "subPath: dir"},
		{"subpathexpr", "subPathExpr: $(POD)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.Kplay("up", "-q", "-f", e.Manifest(`apiVersion: v1
kind: Pod
metadata:
  name: dir
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: plant
    image: busybox
    command: ["ln", "-s", "/", "/shared/dir"]
    volumeMounts:
    - name: shared
      mountPath: /shared
  containers:
  - name: c
    image: busybox
    env:
    - name: POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    command: ["sh", "-c", "ls /mnt/etc/passwd && echo ESCAPED; sleep 3600"]
    volumeMounts:
    - name: shared
      mountPath: /mnt
      `+tt.mount+`
  volumes:
  - name: shared
    emptyDir: {}
`))
			if r.Code == 0 {
				t.Fatalf("up started a container whose subPath is a symlink to /:\n%s\nlogs:\n%s", r, e.Kplay("logs", "dir").Stdout)
			}
			contains(t, "up's error", r.Stderr, `subPath "dir" resolves to /, outside the volume`)
		})
	}
}

// cfgAndCreds are the ConfigMap cfg and the Secret creds the volume tests mount.
const cfgAndCreds = `apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  key: value
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cr3t
---
`

func TestConfigMapAndSecretVolumesAreReadOnly(t *testing.T) {
	e := newEnv(t)
	e.Up(e.Manifest(cfgAndCreds + `apiVersion: v1
kind: Pod
metadata:
  name: ro
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - name: cfg
      mountPath: /cfg
    - name: creds
      mountPath: /creds
    - name: cfg
      mountPath: /key
      subPath: key
  volumes:
  - name: cfg
    configMap:
      name: cfg
  - name: creds
    secret:
      secretName: creds
`))
	e.WaitRunning("ro")
	for _, path := range []string{"/cfg/new", "/creds/new", "/key"} {
		r := e.Exec("ro", "sh", "-c", "echo x >> "+path)
		if r.Code == 0 {
			t.Errorf("a container wrote %s; configMap and secret volumes must be read-only", path)
		}
		contains(t, "writing "+path, r.Stderr+r.Stdout, "Read-only file system")
	}
	if got := e.MustExec("ro", "cat", "/key"); got != "value" {
		t.Errorf("configMap key mounted by subPath reads %q, want value", got)
	}
	// The secret's tmpfs is capped at a few MiB, not half the machine's memory.
	df := e.MustExec("ro", "df", "-k", "/creds")
	fields := strings.Fields(strings.Split(strings.TrimSpace(df), "\n")[1])
	if len(fields) < 2 || fields[1] != "2048" {
		t.Errorf("secret tmpfs size: df -k says\n%s\nwant 2048 KiB (twice the data, rounded up to MiB, plus 1 MiB)", df)
	}
}

func TestLocalUsersCannotReachPodData(t *testing.T) {
	e := newEnv(t)
	// Let other users walk to the roots, and leave a root open as an older kplay or
	// an admin might have: kplay must close it, not rely on the test's directory.
	for dir := e.Dir; dir != "/" && dir != filepath.Dir(suiteDir); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(e.DataRoot, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(e.DataRoot, 0o777)
	e.Up(e.Manifest(cfgAndCreds + `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: db
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: data
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "` + idle + `"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: cfg, mountPath: /cfg}
    - {name: creds, mountPath: /creds}
    - {name: db, mountPath: /db}
  - name: nonroot
    image: busybox
    securityContext:
      runAsUser: 1234
    command: ["sh", "-c", "echo hi > /scratch/f && echo hi > /db/f && trap 'exit 0' TERM; sleep 3600 & wait"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: db, mountPath: /db}
  volumes:
  - name: scratch
    emptyDir: {}
  - name: cfg
    configMap:
      name: cfg
  - name: creds
    secret:
      secretName: creds
  - name: db
    persistentVolumeClaim:
      claimName: db
`))
	e.WaitRunning("data")
	// A container that does not run as root still writes its emptyDir and claim.
	if got := e.MustKplay("exec", "data", "-c", "c", "--", "cat", "/scratch/f", "/db/f").Stdout; got != "hi\nhi\n" {
		t.Errorf("files written by uid 1234: %q, want hi twice", got)
	}

	var dirs []string
	for _, root := range []string{e.RunRoot, e.DataRoot} {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	var volumes int
	for _, d := range dirs {
		if strings.Contains(d, "/volumes/") || strings.Contains(d, "/claims/") {
			volumes++
		}
	}
	if volumes < 4 {
		t.Fatalf("found %d volume directories under the roots, want at least 4:\n%s", volumes, strings.Join(dirs, "\n"))
	}
	// One shell as nobody tries to list and to write every directory.
	script := `for d in "$@"; do ls "$d" >/dev/null 2>&1 && echo "listed $d"; touch "$d/.x" 2>/dev/null && echo "wrote $d"; done; true`
	out, err := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script, "sh"}, dirs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("setpriv: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("a local non-root user reached pod data:\n%s", s)
	}
	// The check can tell: the same user can list an open directory of the test.
	probe := filepath.Join(e.Dir, "open")
	os.Mkdir(probe, 0o777)
	os.Chmod(probe, 0o777)
	out, _ = exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script, "sh", probe).CombinedOutput()
	if !strings.Contains(string(out), "wrote "+probe) {
		t.Errorf("the probe as nobody could not write an open directory: %q", out)
	}
	os.RemoveAll(probe)
}
