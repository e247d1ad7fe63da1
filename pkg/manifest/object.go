// Package manifest loads Kubernetes YAML and JSON into typed k8s.io/api objects and
// validates them the way the API server would, before anything is created.
package manifest

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// Object is one decoded document and where it came from.
type Object struct {
	// Source is the path of the file as the user named it, or "-" for stdin.
	Source string
	// Dir is the absolute directory a relative hostPath resolves against
	// (the file's directory; the working directory for stdin).
	Dir string
	// Doc is the 1-based number of the document within Source; empty documents
	// are not counted.
	Doc int
	// Item is the 1-based position within the items of a List document, or 0
	// when the document is not a List.
	Item int
	// Object is one of *corev1.Pod, *appsv1.Deployment, *corev1.ConfigMap,
	// *corev1.Secret or *corev1.PersistentVolumeClaim, with TypeMeta set.
	Object runtime.Object
}

// Where names the document for error messages: `app.yaml: document 2`,
// `stdin: document 1`, or `list.yaml: document 1, items[0]` inside a List.
func (o Object) Where() string {
	w := fmt.Sprintf("%s: document %d", sourceName(o.Source), o.Doc)
	if o.Item > 0 {
		w += fmt.Sprintf(", items[%d]", o.Item-1)
	}
	return w
}
