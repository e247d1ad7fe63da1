package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// hashLen is how many hex digits of sha256 a hash keeps: plenty to tell two
// specs apart, short enough to read in a label.
const hashLen = 16

// specHash covers everything that decides what runs: metadata, the defaulted
// spec (volumes with their absolute host paths included) and every container's
// resolved env, secret values included. It leaves out the files of configMap and
// secret volumes, which are updated in place (see volumeDataHash). encoding/json
// writes map keys sorted, so the hash does not depend on map order. Without
// secrets, the values of env from Secrets are left out: the UID is derived from that
// hash, and the UID is seen by every local user and container (in mount paths), so
// it must not let anyone test a guess of a secret offline.
func specHash(p *PodPlan, secrets bool) (string, error) {
	type step struct {
		Name   string
		Value  string
		Source EnvSource
	}
	type container struct {
		Name  string
		Image string
		Env   []step
	}
	in := struct {
		Namespace, Name     string
		Labels, Annotations map[string]string
		Owner               Owner
		Hostname            string
		Spec                *corev1.PodSpec
		Containers          []container
	}{p.Namespace, p.Name, p.Labels, p.Annotations, p.Owner, p.Hostname, &p.Spec, nil}
	for _, list := range [][]Container{p.InitContainers, p.Containers} {
		for _, c := range list {
			hc := container{Name: c.Name, Image: c.Image}
			for _, s := range c.steps {
				value := s.Value
				if s.Source == EnvSecret && !secrets {
					value = ""
				}
				hc.Env = append(hc.Env, step{s.Name, value, s.Source})
			}
			in.Containers = append(in.Containers, hc)
		}
	}
	return sum(in)
}

// volumeDataHash covers the files of configMap and secret volumes: when only it
// changes, the files can be swapped in place without recreating the pod. It is
// empty for a pod without such volumes.
func volumeDataHash(vols []Volume) (string, error) {
	type files struct {
		Volume string
		Kind   string
		Files  []File
	}
	var in []files
	for _, v := range vols {
		switch {
		case v.ConfigMap != nil:
			in = append(in, files{v.Name, "configMap", v.ConfigMap.Files})
		case v.Secret != nil:
			in = append(in, files{v.Name, "secret", v.Secret.Files})
		}
	}
	if len(in) == 0 {
		return "", nil
	}
	return sum(in)
}

func sum(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hashing the plan: %w", err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:hashLen], nil
}

// uidFor is a UUID-shaped, deterministic UID: the same pod with the same spec
// has the same UID on every run.
func uidFor(namespace, name, hash string) string {
	h := sha256.Sum256([]byte(namespace + "/" + name + "/" + hash))
	h[6] = h[6]&0x0f | 0x50 // version 5 (name based)
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// templateHash is the pod-template-hash label value: a 32-bit FNV-1a hash of the
// template, encoded with the alphabet Kubernetes uses for it. Kubernetes hashes
// its own in-memory dump of the template, so the value differs from a cluster's,
// but it is stable and changes whenever the template does.
func templateHash(t *corev1.PodTemplateSpec) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("hashing the pod template: %w", err)
	}
	h := fnv.New32a()
	h.Write(b)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32())), nil
}
