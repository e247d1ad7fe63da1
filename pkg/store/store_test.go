package store

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kplay-dev/kplay/pkg/podstate"
)

// The tests re-execute their own binary as writer processes (see child).
const childEnv = "KPLAY_STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role, os.Getenv("KPLAY_STORE_TEST_ROOT")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	s.APIVersion, s.Kind = "v1", "Secret"
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	c := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	c.APIVersion, c.Kind = "v1", "ConfigMap"
	return c
}

func TestRoundTrip(t *testing.T) {
	s := New(storePath(t.TempDir()), "kplay")
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }

	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "data"}}
	err := s.Update(func(tx *Tx) error {
		for _, o := range []struct {
			obj Object
			src string
		}{
			{secret("default", "db", map[string]string{"password": "hunter2"}), "/a.yaml"},
			{secret("other", "db", map[string]string{"password": "x"}), "/b.yaml"},
			{secret("a-b", "db", nil), "/b.yaml"},
			{configMap("default", "cfg", map[string]string{"k": "v"}), "-"},
			{pvc, "/pvc.yaml"},
		} {
			if changed, err := tx.Put(o.obj, o.src); err != nil || !changed {
				return fmt.Errorf("put %s: changed %v, %v", o.obj.GetName(), changed, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	err = s.View(func(tx *Tx) error {
		var got corev1.Secret
		src, err := tx.Get(Key{Secrets, "default", "db"}, &got)
		if err != nil {
			return err
		}
		if src != "/a.yaml" || string(got.Data["password"]) != "hunter2" || !got.CreationTimestamp.Time.Equal(now) {
			t.Errorf("got source %q, data %q, created %v", src, got.Data, got.CreationTimestamp)
		}
		if _, err := tx.Get(Key{Secrets, "default", "nope"}, &got); !errdefs.IsNotFound(err) {
			t.Errorf("missing secret: %v, want not found", err)
		}
		all, srcs, err := List[corev1.Secret](tx, "")
		if err != nil {
			return err
		}
		var names []string
		for i, s := range all {
			names = append(names, s.Namespace+"/"+s.Name+"@"+srcs[i])
		}
		if strings.Join(names, " ") != "a-b/db@/b.yaml default/db@/a.yaml other/db@/b.yaml" {
			t.Errorf("secrets: %v", names)
		}
		other, _, err := List[corev1.Secret](tx, "other")
		if len(other) != 1 || other[0].Name != "db" || err != nil {
			t.Errorf("secrets in other: %v, %v", other, err)
		}
		none, _, err := List[corev1.ConfigMap](tx, "other")
		if none == nil || len(none) != 0 || err != nil {
			t.Errorf("configmaps in other: %#v, %v (want an empty, non-nil list)", none, err)
		}
		claims, _, err := List[corev1.PersistentVolumeClaim](tx, "")
		if len(claims) != 1 || claims[0].Name != "data" || err != nil {
			t.Errorf("claims: %v, %v", claims, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A second apply keeps the creation time, reports no change when nothing changed,
	// and takes the new data and source otherwise.
	now = now.Add(time.Hour)
	err = s.Update(func(tx *Tx) error {
		if changed, err := tx.Put(configMap("default", "cfg", map[string]string{"k": "v"}), "-"); changed || err != nil {
			t.Errorf("same configmap again: changed %v, %v", changed, err)
		}
		if changed, err := tx.Put(configMap("default", "cfg", map[string]string{"k": "v"}), "/other.yaml"); changed || err != nil {
			t.Errorf("same configmap from another file: changed %v, %v", changed, err)
		}
		if src, err := tx.Get(Key{ConfigMaps, "default", "cfg"}, &corev1.ConfigMap{}); err != nil || src != "/other.yaml" {
			t.Errorf("the configmap's source after it came from another file: %q, %v", src, err)
		}
		if changed, err := tx.Put(configMap("default", "cfg", map[string]string{"k": "v"}), "-"); changed || err != nil {
			t.Errorf("same configmap from the first file again: changed %v, %v", changed, err)
		}
		if changed, err := tx.Put(secret("default", "db", map[string]string{"password": "new"}), "/c.yaml"); !changed || err != nil {
			t.Errorf("changed secret: changed %v, %v", changed, err)
		}
		if ok, err := tx.Delete(Key{Secrets, "other", "db"}); !ok || err != nil {
			t.Errorf("delete: %v, %v", ok, err)
		}
		if ok, err := tx.Delete(Key{Secrets, "other", "db"}); ok || err != nil {
			t.Errorf("delete again: %v, %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *Tx) error {
		var got corev1.Secret
		src, err := tx.Get(Key{Secrets, "default", "db"}, &got)
		if err != nil || src != "/c.yaml" || string(got.Data["password"]) != "new" || !got.CreationTimestamp.Time.Equal(now.Add(-time.Hour)) {
			t.Errorf("after update: %q %q %v %v", src, got.Data, got.CreationTimestamp, err)
		}
		keys, err := tx.Keys(Secrets, ConfigMaps)
		if fmt.Sprint(keys) != "[secrets/a-b/db secrets/default/db configmaps/default/cfg]" || err != nil {
			t.Errorf("keys: %v, %v", keys, err)
		}
		return nil
	})
}

// A transaction whose function fails writes nothing.
func TestUpdateIsAllOrNothing(t *testing.T) {
	s := New(storePath(t.TempDir()), "kplay")
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if _, err := tx.Put(secret("default", "a", nil), "-"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want boom", err)
	}
	s.View(func(tx *Tx) error {
		if got, _, _ := List[corev1.Secret](tx, ""); len(got) != 0 {
			t.Errorf("a failed transaction stored %v", got)
		}
		return nil
	})
}

func TestViewOfMissingStoreCreatesNothing(t *testing.T) {
	root := t.TempDir()
	s := New(storePath(root), "kplay")
	err := s.View(func(tx *Tx) error {
		got, _, err := List[corev1.Secret](tx, "")
		if len(got) != 0 || got == nil || err != nil {
			t.Errorf("List: %#v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(storePath(root))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a View created %s: %v", filepath.Dir(storePath(root)), err)
	}
}

func TestPermissions(t *testing.T) {
	old := syscall.Umask(0) // a careless umask must not open the store
	defer syscall.Umask(old)
	root := t.TempDir()
	s := New(storePath(root), "kplay")
	if err := s.Update(func(tx *Tx) error { _, err := tx.Put(secret("default", "a", nil), "-"); return err }); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for path, want := range map[string]os.FileMode{filepath.Dir(storePath(root)): 0o700, s.Path(): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s: %s is %o, want %o", when, path, got, want)
			}
		}
	}
	check("new store")

	// A store opened up by hand is closed again by the next write.
	os.Chmod(filepath.Dir(storePath(root)), 0o755)
	os.Chmod(s.Path(), 0o644)
	if err := s.Update(func(*Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	check("store made world-readable")
}

func TestBusyStoreTimesOut(t *testing.T) {
	s := New(storePath(t.TempDir()), "kplay")
	if err := s.Update(func(*Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(s.Path(), 0o600, nil) // another kplay in a transaction
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s.Timeout = 200 * time.Millisecond
	err = s.Update(func(*Tx) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "is busy") {
		t.Fatalf("Update while another process holds the store: %v, want a busy error", err)
	}
}

// child is one writer process. "count": add 1 to a counter n times, each in its own
// read-modify-write transaction. "churn": forever write generation g+1 of a Secret and a
// ConfigMap in one transaction, and print g+1 once it is committed.
func child(role, root string) error {
	s := New(storePath(root), "kplay")
	switch role {
	case "count":
		n, _ := strconv.Atoi(os.Getenv("KPLAY_STORE_TEST_N"))
		for i := 0; i < n; i++ {
			err := s.Update(func(tx *Tx) error {
				var c corev1.ConfigMap
				if _, err := tx.Get(Key{ConfigMaps, "default", "counter"}, &c); err != nil && !errdefs.IsNotFound(err) {
					return err
				}
				v, _ := strconv.Atoi(c.Data["n"])
				_, err := tx.Put(configMap("default", "counter", map[string]string{"n": strconv.Itoa(v + 1)}), "-")
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	case "churn":
		blob := strings.Repeat("x", 128<<10) // many pages per write, so a kill lands mid-write
		for {
			var gen int
			err := s.Update(func(tx *Tx) error {
				g, err := generation(tx)
				if err != nil {
					return err
				}
				gen = g + 1
				data := map[string]string{"gen": strconv.Itoa(gen), "blob": blob}
				if _, err := tx.Put(secret("default", "s", data), "-"); err != nil {
					return err
				}
				_, err = tx.Put(configMap("default", "c", data), "-")
				return err
			})
			if err != nil {
				return err
			}
			fmt.Println(gen)
		}
	}
	return fmt.Errorf("unknown child role %q", role)
}

// generation reads the Secret's and the ConfigMap's generation, which one transaction
// writes together: they must agree.
func generation(tx *Tx) (int, error) {
	var s corev1.Secret
	var c corev1.ConfigMap
	_, serr := tx.Get(Key{Secrets, "default", "s"}, &s)
	_, cerr := tx.Get(Key{ConfigMaps, "default", "c"}, &c)
	if errdefs.IsNotFound(serr) && errdefs.IsNotFound(cerr) {
		return 0, nil
	}
	if serr != nil || cerr != nil {
		return 0, errors.Join(serr, cerr)
	}
	if string(s.Data["gen"]) != c.Data["gen"] || len(s.Data["blob"]) != len(c.Data["blob"]) {
		return 0, fmt.Errorf("torn state: secret at generation %s, configmap at %s", s.Data["gen"], c.Data["gen"])
	}
	return strconv.Atoi(c.Data["gen"])
}

func childCmd(t *testing.T, root, role string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + role, "KPLAY_STORE_TEST_ROOT=" + root}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestConcurrentWritersInTwoProcesses(t *testing.T) {
	root := t.TempDir()
	const n = 200
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		cmd := childCmd(t, root, "count", "KPLAY_STORE_TEST_N="+strconv.Itoa(n))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	New(storePath(root), "kplay").View(func(tx *Tx) error {
		var c corev1.ConfigMap
		if _, err := tx.Get(Key{ConfigMaps, "default", "counter"}, &c); err != nil || c.Data["n"] != strconv.Itoa(2*n) {
			t.Errorf("counter is %q (%v), want %d: a writer's update was lost", c.Data["n"], err, 2*n)
		}
		return nil
	})
}

// TestKillDuringWrites SIGKILLs a writer at random points of its transactions: the store
// must open, and hold the last generation the writer reported committed or the one it was
// writing, never a mix of two.
func TestKillDuringWrites(t *testing.T) {
	root := t.TempDir()
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	committed, beforeCommit := 0, 0
	for round := 0; round < rounds; round++ {
		cmd := childCmd(t, root, "churn")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Wait for a few commits, timing them, then kill at a random point of the next
		// write: a random part of the time one commit takes.
		var interval time.Duration
		last := time.Now()
		for want := 2 + rnd.Intn(3); want > 0 && sc.Scan(); want-- {
			committed, _ = strconv.Atoi(sc.Text())
			interval, last = time.Since(last), time.Now()
		}
		// Not a wait for a state: the random delay is what places the kill.
		time.Sleep(time.Duration(rnd.Int63n(int64(interval) + 1)))
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // what it printed before it died was committed too
			committed, _ = strconv.Atoi(sc.Text())
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: writer ended with %v, not by SIGKILL", round, err)
		}
		var got int
		err = New(storePath(root), "kplay").View(func(tx *Tx) error {
			got, err = generation(tx)
			return err
		})
		if err != nil {
			t.Fatalf("round %d: after kill -9: %v", round, err)
		}
		if got != committed && got != committed+1 {
			t.Fatalf("round %d: store holds generation %d, the writer had committed %d", round, got, committed)
		}
		if got == committed {
			beforeCommit++
		}
		committed = got
	}
	t.Logf("%d kills, %d of them before the commit of the write they interrupted; last generation %d", rounds, beforeCommit, committed)
}

// Two containerd namespaces sharing a data root have their own objects; Clear empties
// one of them.
func TestNamespacesAndClear(t *testing.T) {
	root := t.TempDir()
	a, b := New(storePath(root), "a"), New(storePath(root), "b")
	for _, s := range []*Store{a, b} {
		if err := s.Update(func(tx *Tx) error { _, err := tx.Put(secret("default", "db", nil), "-"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	var cleared []Key
	if err := a.Update(func(tx *Tx) (err error) { cleared, err = tx.Clear(); return err }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cleared) != "[secrets/default/db]" {
		t.Errorf("Clear removed %v", cleared)
	}
	count := func(s *Store) int {
		var n int
		s.View(func(tx *Tx) error {
			keys, _ := tx.Keys(Secrets, ConfigMaps, PersistentVolumeClaims)
			n = len(keys)
			return nil
		})
		return n
	}
	if nss, err := Namespaces(storePath(root)); fmt.Sprint(nss) != "[a b]" || err != nil {
		t.Errorf("Namespaces: %v, %v", nss, err)
	}
	if count(a) != 0 || count(b) != 1 {
		t.Errorf("after clearing a: a holds %d objects, b %d; want 0 and 1", count(a), count(b))
	}
}

func storePath(dataRoot string) string { return podstate.Layout{DataRoot: dataRoot}.StorePath() }
