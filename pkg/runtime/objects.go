package runtime

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kplay-dev/kplay/pkg/plan"
	"github.com/kplay-dev/kplay/pkg/store"
)

// ObjectResult is one line of up's or down's report about an object that is not a pod.
type ObjectResult struct {
	Kind            string // "secret", "configmap", "persistentvolumeclaim", as kubectl names them
	Namespace, Name string
	Action          Action
}

// Words for objects, as kubectl apply says them.
const (
	Configured Action = "configured"
)

// Store is kplay's store for this runtime's data root and containerd namespace.
func (r *Runtime) Store() *store.Store { return store.New(r.layout.StorePath(), r.cfg.Namespace) }

// Apply keeps the plan's ConfigMaps, Secrets and PersistentVolumeClaims in kplay's store,
// so later commands can use and list them, and creates the directory of every claim.
// up calls it once its pods are up: one short transaction, after every pull.
func (r *Runtime) Apply(ctx context.Context, p *plan.Plan) ([]ObjectResult, error) {
	if len(p.Objects) == 0 {
		return nil, nil
	}
	var objs []store.Object
	for _, o := range p.Objects {
		switch obj := o.Object.DeepCopyObject().(type) {
		case *corev1.Secret:
			objs = append(objs, normalizeSecret(obj))
		case *corev1.ConfigMap:
			objs = append(objs, obj)
		case *corev1.PersistentVolumeClaim:
			if _, err := r.vol.EnsureClaim(obj.Namespace, obj.Name); err != nil {
				return nil, fmt.Errorf("creating claim %s/%s: %w", obj.Namespace, obj.Name, err)
			}
			objs = append(objs, bindClaim(obj))
		case *corev1.Service:
			objs = append(objs, r.withLoadBalancerStatus(obj))
		default:
			return nil, fmt.Errorf("kplay does not store %T", obj)
		}
	}
	var results []ObjectResult
	err := r.Store().Update(func(tx *store.Tx) error {
		for i, obj := range objs {
			kind, _ := store.KindOf(obj)
			res := ObjectResult{Kind: singular(kind), Namespace: obj.GetNamespace(), Name: obj.GetName(), Action: Configured}
			if !tx.Has(store.Key{Kind: kind, Namespace: res.Namespace, Name: res.Name}) {
				res.Action = Created
			}
			changed, err := tx.Put(obj, p.Objects[i].Source)
			if err != nil {
				return fmt.Errorf("storing %s %s/%s: %w", res.Kind, res.Namespace, res.Name, err)
			}
			if !changed {
				res.Action = Unchanged
			}
			results = append(results, res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// normalizeSecret stores a Secret as the API server does: stringData merged into data,
// type Opaque when unset.
func normalizeSecret(s *corev1.Secret) *corev1.Secret {
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	return s
}

// bindClaim fills in what a provisioner and the binder would: the claim is Bound to its
// directory, with the requested size and access modes (kplay does not enforce the size).
func bindClaim(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	sum := sha256.Sum256([]byte(c.Namespace + "/" + c.Name))
	h := fmt.Sprintf("%x", sum[:16])
	c.UID = types.UID(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
	if c.Spec.VolumeName == "" {
		c.Spec.VolumeName = "pvc-" + string(c.UID)
	}
	if c.Spec.VolumeMode == nil {
		fs := corev1.PersistentVolumeFilesystem
		c.Spec.VolumeMode = &fs
	}
	c.Status = corev1.PersistentVolumeClaimStatus{
		Phase:       corev1.ClaimBound,
		AccessModes: c.Spec.AccessModes,
	}
	if q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: q}
	}
	return c
}

func singular(k store.Kind) string { return strings.TrimSuffix(string(k), "s") }

// ObjectSelector picks the stored objects `down` removes.
type ObjectSelector struct {
	All  bool        // every object of the namespace (down --all)
	Keys []store.Key // the objects the files declare (down -f)
}

// DeleteObjects removes the selected objects from kplay's store. With volumes it also
// deletes the data of the selected claims that no pod uses, whether or not the store
// held them. Removing what is not there is no error.
func (r *Runtime) DeleteObjects(ctx context.Context, sel ObjectSelector, volumes bool) ([]ObjectResult, error) {
	removed, err := r.unstore(sel)
	if err != nil {
		return nil, fmt.Errorf("removing objects from kplay's store: %w", err)
	}
	var results []ObjectResult
	var claims []string
	for _, k := range append(removed, sel.Keys...) {
		if k.Kind == store.PersistentVolumeClaims {
			claims = append(claims, k.Namespace+"/"+k.Name)
		}
	}
	for _, k := range removed {
		results = append(results, ObjectResult{Kind: singular(k.Kind), Namespace: k.Namespace, Name: k.Name, Action: Removed})
	}
	if !volumes || len(claims) == 0 {
		return results, nil
	}
	deleted, err := r.removeUnusedClaims(r.context(ctx), claims)
	if err != nil {
		return results, fmt.Errorf("removing claim data: %w", err)
	}
	gone := map[string]bool{}
	for _, c := range deleted {
		gone[c] = true
	}
	for _, c := range claims {
		if !gone[c] {
			r.warn(fmt.Sprintf("persistentvolumeclaim %s is used by a pod that remains: its data stays", c))
			gone[c] = true
		}
	}
	return results, nil
}

// unstore deletes the selected objects from the store and returns those it held.
func (r *Runtime) unstore(sel ObjectSelector) ([]store.Key, error) {
	st := r.Store()
	if !st.Exists() || !sel.All && len(sel.Keys) == 0 {
		return nil, nil // and down --all creates no store
	}
	var removed []store.Key
	err := st.Update(func(tx *store.Tx) (err error) {
		if sel.All {
			removed, err = tx.Clear()
			return err
		}
		for _, k := range sel.Keys {
			ok, err := tx.Delete(k)
			if err != nil {
				return err
			}
			if ok {
				removed = append(removed, k)
			}
		}
		return nil
	})
	return removed, err
}
