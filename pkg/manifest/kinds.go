package manifest

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

//go:generate go run mkkinds.go

// servedGroupVersions are the API versions a kube-apiserver of the release kplay
// builds against serves with its default configuration (core v1 and the stable
// versions of k8s.io/kubernetes/pkg/controlplane's DefaultAPIResourceConfigSource,
// with the aggregated apiextensions and apiregistration groups); beta and alpha
// versions are off by default, and removed ones (extensions/v1beta1) are gone.
var servedGroupVersions = []string{
	"v1",
	"admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
	"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1",
	"autoscaling/v1", "autoscaling/v2", "batch/v1", "certificates.k8s.io/v1",
	"coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
	"flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1",
	"policy/v1", "rbac.authorization.k8s.io/v1", "resource.k8s.io/v1",
	"scheduling.k8s.io/v1", "storage.k8s.io/v1", "storagemigration.k8s.io/v1",
}

// kindKnowledge is what kplay knows of the kinds an API server serves.
type kindKnowledge struct {
	groups map[string]bool     // every built-in group, served or not
	served map[string]bool     // "apiVersion kind"
	where  map[string][]string // kind -> the served apiVersions
}

var builtinKinds = func() kindKnowledge {
	k := kindKnowledge{groups: map[string]bool{}, served: map[string]bool{}, where: map[string][]string{}}
	served := map[string]bool{}
	for _, gv := range servedGroupVersions {
		served[gv] = true
	}
	add := func(gvk schema.GroupVersionKind) {
		k.groups[gvk.Group] = true
		gv := gvk.GroupVersion().String()
		if !served[gv] {
			return
		}
		k.served[gv+" "+gvk.Kind] = true
		k.where[gvk.Kind] = append(k.where[gvk.Kind], gv)
	}
	for _, gvk := range clientGoKinds {
		add(gvk)
	}
	// Served by the aggregated API servers, which client-go's scheme does not hold.
	add(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	add(schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"})
	for _, v := range k.where {
		sort.Strings(v)
	}
	return k
}()

// kindClass is how kplay treats a document's apiVersion and kind.
type kindClass int

const (
	kindRun     kindClass = iota // kplay runs it
	kindIgnored                  // a real Kubernetes kind that kplay does not run: a warning
	kindCustom                   // a group the API server does not build in (a CRD's): a warning
	kindNoMatch                  // no such kind in that version: an error, as kubectl's
)

// classifyKind tells what an API server would make of apiVersion and kind, and
// for kindNoMatch the message kubectl would print.
func classifyKind(apiVersion, kind string) (kindClass, string) {
	if k, ok := kinds[kind]; ok && k.apiVersion == apiVersion {
		return kindRun, ""
	}
	if builtinKinds.served[apiVersion+" "+kind] {
		return kindIgnored, ""
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err == nil && gv.Version != "" && !builtinKinds.groups[gv.Group] && strings.Contains(gv.Group, ".") {
		return kindCustom, ""
	}
	msg := fmt.Sprintf("no matches for kind %q in version %q", kind, apiVersion)
	if vs := builtinKinds.where[kind]; len(vs) > 0 {
		msg += fmt.Sprintf(": the API server serves %s in %s", kind, quoteAll(vs))
	} else {
		msg += "; ensure CRDs are installed first"
	}
	return kindNoMatch, msg
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " or ")
}
