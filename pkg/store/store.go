// Package store keeps the Kubernetes objects that are not containers (Secrets,
// ConfigMaps, PersistentVolumeClaims, Services; workload records next) between
// kplay commands, in one bbolt file under the data root.
//
// Every call opens the file, runs one transaction and closes it again: bbolt holds an
// exclusive flock while the file is open, so no kplay may keep it open across a pull or
// a grace period. A transaction commits all of its writes or none of them, also when
// the process is killed (bbolt writes new pages, fsyncs, then flips a checksummed meta
// page), so a reader always sees an old or a new state, never half of one.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Store is kplay's store under one data root, for one containerd namespace: kplays that
// share a data root but work in different containerd namespaces do not see each other's
// objects.
type Store struct {
	path      string
	namespace string
	// Timeout bounds how long a command waits for another kplay's transaction.
	Timeout time.Duration
	now     func() time.Time
}

// New returns the store in the file at path (podstate.Layout.StorePath) for a
// containerd namespace. It touches nothing until the first transaction. The file's
// directory is 0700, the file 0600: the store holds Secrets.
func New(path, namespace string) *Store {
	return &Store{path: path, namespace: namespace, Timeout: 30 * time.Second, now: time.Now}
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Exists reports whether the store's file exists: before the first write, nothing is stored.
func (s *Store) Exists() bool {
	_, err := os.Stat(s.path)
	return err == nil
}

// rootBucket holds a bucket per containerd namespace, which holds one per kind; the
// name carries the layout version, so a later layout can live beside it and migrate.
var rootBucket = []byte("v1")

// Update runs fn in one read-write transaction: fn's writes are committed together
// when it returns nil and not at all when it returns an error (or the process dies).
func (s *Store) Update(fn func(*Tx) error) error {
	db, err := s.open(false)
	if err != nil {
		return err
	}
	err = db.Update(func(btx *bolt.Tx) error {
		v1, err := btx.CreateBucketIfNotExists(rootBucket)
		if err != nil {
			return err
		}
		root, err := v1.CreateBucketIfNotExists([]byte(s.namespace))
		if err != nil {
			return err
		}
		return fn(&Tx{root: root, now: s.now})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// View runs fn in a read-only transaction. A store that does not exist yet is empty.
func (s *Store) View(fn func(*Tx) error) error {
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
		return fn(&Tx{now: s.now})
	} else if err != nil {
		return fmt.Errorf("opening kplay's store: %w", err)
	}
	db, err := s.open(true)
	if err != nil {
		return err
	}
	err = db.View(func(btx *bolt.Tx) error {
		var root *bolt.Bucket
		if v1 := btx.Bucket(rootBucket); v1 != nil {
			root = v1.Bucket([]byte(s.namespace))
		}
		return fn(&Tx{root: root, now: s.now})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) open(readOnly bool) (*bolt.DB, error) {
	dir := filepath.Dir(s.path)
	if !readOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating kplay's store: %w", err)
		}
	}
	// Tighten what an older kplay, a restore or a hand made: the store holds Secrets.
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm() != 0o700 && !readOnly {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("closing kplay's store to other users: %w", err)
		}
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.Timeout, ReadOnly: readOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("kplay's store %s is busy: another kplay has held it for %s", s.path, s.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("opening kplay's store %s: %w", s.path, err)
	}
	if fi, err := os.Stat(s.path); err == nil && fi.Mode().Perm() != 0o600 && !readOnly {
		if err := os.Chmod(s.path, 0o600); err != nil {
			db.Close()
			return nil, fmt.Errorf("closing kplay's store to other users: %w", err)
		}
	}
	return db, nil
}

// Namespaces lists the containerd namespaces that have objects in the store file at path.
func Namespaces(path string) ([]string, error) {
	s := New(path, "")
	if !s.Exists() {
		return nil, nil
	}
	db, err := s.open(true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []string
	err = db.View(func(btx *bolt.Tx) error {
		v1 := btx.Bucket(rootBucket)
		if v1 == nil {
			return nil
		}
		return v1.ForEachBucket(func(k []byte) error { out = append(out, string(k)); return nil })
	})
	return out, err
}

// Kind is the bucket of one kind of object, named by its resource (as the API
// server's paths name them).
type Kind string

const (
	Secrets                Kind = "secrets"
	ConfigMaps             Kind = "configmaps"
	PersistentVolumeClaims Kind = "persistentvolumeclaims"
	Services               Kind = "services"
)

// Kinds are every kind the store keeps.
var Kinds = []Kind{Secrets, ConfigMaps, PersistentVolumeClaims, Services}

// Key names one stored object.
type Key struct {
	Kind      Kind
	Namespace string
	Name      string
}

func (k Key) String() string { return string(k.Kind) + "/" + k.Namespace + "/" + k.Name }

func (k Key) bytes() []byte { return []byte(k.Namespace + "/" + k.Name) }

// Object is what the store keeps: *corev1.Secret, *corev1.ConfigMap,
// *corev1.PersistentVolumeClaim or *corev1.Service.
type Object interface {
	metav1.Object
	runtime.Object
}

// KindOf is the kind an object is stored under.
func KindOf(obj Object) (Kind, error) {
	switch obj.(type) {
	case *corev1.Secret:
		return Secrets, nil
	case *corev1.ConfigMap:
		return ConfigMaps, nil
	case *corev1.PersistentVolumeClaim:
		return PersistentVolumeClaims, nil
	case *corev1.Service:
		return Services, nil
	}
	return "", fmt.Errorf("store: kplay does not store %T: %w", obj, errdefs.ErrInvalidArgument)
}

// record is one stored object as it sits in the file.
type record struct {
	// Source is the file that applied the object (absolute, "-" for stdin).
	Source string          `json:"source"`
	Object json.RawMessage `json:"object"`
}

// Tx is one transaction.
type Tx struct {
	root *bolt.Bucket // the namespace's; nil in a View of a store that has no objects
	now  func() time.Time
}

// Put stores obj, recording the file that applied it. Like the API server, the store
// keeps the creationTimestamp of the object it replaces and sets one on a new object.
// It reports whether the object changed, as kubectl apply's "unchanged" does: the same
// object applied from another file is unchanged, though the store records the new file.
func (t *Tx) Put(obj Object, source string) (changed bool, err error) {
	if t.root == nil {
		return false, errors.New("store: Put in a read-only transaction")
	}
	kind, err := KindOf(obj)
	if err != nil {
		return false, err
	}
	key := Key{kind, obj.GetNamespace(), obj.GetName()}
	if key.Namespace == "" || key.Name == "" {
		return false, fmt.Errorf("store: %s needs a namespace and a name: %w", key, errdefs.ErrInvalidArgument)
	}
	b, err := t.root.CreateBucketIfNotExists([]byte(kind))
	if err != nil {
		return false, err
	}
	var prev record
	old := b.Get(key.bytes())
	if old != nil {
		if err := json.Unmarshal(old, &prev); err != nil {
			return false, fmt.Errorf("store: reading %s: %w", key, err)
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(prev.Object, &meta); err == nil {
			obj.SetCreationTimestamp(meta.Metadata.CreationTimestamp)
		}
	}
	if ts := obj.GetCreationTimestamp(); ts.IsZero() {
		obj.SetCreationTimestamp(metav1.NewTime(t.now().Truncate(time.Second)))
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return false, err
	}
	v, err := json.Marshal(record{Source: source, Object: raw})
	if err != nil {
		return false, err
	}
	if string(v) == string(old) {
		return false, nil
	}
	return old == nil || string(raw) != string(prev.Object), b.Put(key.bytes(), v)
}

// Get decodes the object under key into obj and returns the file that applied it.
// A missing object is errdefs.ErrNotFound.
func (t *Tx) Get(key Key, obj Object) (source string, err error) {
	var v []byte
	if b := t.bucket(key.Kind); b != nil {
		v = b.Get(key.bytes())
	}
	if v == nil {
		return "", fmt.Errorf("%s: %w", key, errdefs.ErrNotFound)
	}
	return decode(key, v, obj)
}

func decode(key Key, v []byte, obj Object) (string, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return "", fmt.Errorf("store: reading %s: %w", key, err)
	}
	if err := json.Unmarshal(r.Object, obj); err != nil {
		return "", fmt.Errorf("store: reading %s: %w", key, err)
	}
	return r.Source, nil
}

// List returns the stored objects of T's kind in namespace ("" for every namespace),
// in namespace and name order, with the file that applied each.
func List[T any, P interface {
	*T
	Object
}](t *Tx, namespace string) (items []T, sources []string, err error) {
	var zero T
	kind, err := KindOf(P(&zero))
	if err != nil {
		return nil, nil, err
	}
	items = []T{} // a v1 list prints "items: []", never null
	b := t.bucket(kind)
	if b == nil {
		return items, nil, nil
	}
	type entry struct {
		key Key
		obj T
		src string
	}
	var all []entry
	err = b.ForEach(func(k, v []byte) error {
		ns, name, _ := strings.Cut(string(k), "/")
		if namespace != "" && ns != namespace {
			return nil
		}
		e := entry{key: Key{kind, ns, name}}
		e.src, err = decode(e.key, v, P(&e.obj))
		all = append(all, e)
		return err
	})
	// Byte order puts namespace "a-b" before "a"; kubectl sorts by namespace, then name.
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].key, all[j].key
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	for _, e := range all {
		items, sources = append(items, e.obj), append(sources, e.src)
	}
	return items, sources, err
}

// Has reports whether an object is stored under key.
func (t *Tx) Has(key Key) bool {
	b := t.bucket(key.Kind)
	return b != nil && b.Get(key.bytes()) != nil
}

// Delete removes the object under key and reports whether it was there.
func (t *Tx) Delete(key Key) (bool, error) {
	if t.root == nil {
		return false, errors.New("store: Delete in a read-only transaction")
	}
	b := t.root.Bucket([]byte(key.Kind))
	if b == nil || b.Get(key.bytes()) == nil {
		return false, nil
	}
	return true, b.Delete(key.bytes())
}

// Clear removes every object of the namespace and reports their keys.
func (t *Tx) Clear() ([]Key, error) {
	keys, err := t.Keys(Kinds...)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, err := t.Delete(k); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// Keys lists every stored object's key of the given kinds, sorted.
func (t *Tx) Keys(kinds ...Kind) ([]Key, error) {
	var out []Key
	for _, kind := range kinds {
		b := t.bucket(kind)
		if b == nil {
			continue
		}
		err := b.ForEach(func(k, _ []byte) error {
			ns, name, _ := strings.Cut(string(k), "/")
			out = append(out, Key{kind, ns, name})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *Tx) bucket(kind Kind) *bolt.Bucket {
	if t.root == nil {
		return nil
	}
	return t.root.Bucket([]byte(kind))
}
