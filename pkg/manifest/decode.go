package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"
)

// kinds are the kinds kplay runs, by kind, with the one apiVersion that serves them.
var kinds = map[string]struct {
	apiVersion string
	new        func() runtime.Object
}{
	"Pod":                   {"v1", func() runtime.Object { return &corev1.Pod{} }},
	"ConfigMap":             {"v1", func() runtime.Object { return &corev1.ConfigMap{} }},
	"Secret":                {"v1", func() runtime.Object { return &corev1.Secret{} }},
	"PersistentVolumeClaim": {"v1", func() runtime.Object { return &corev1.PersistentVolumeClaim{} }},
	"Service":               {"v1", func() runtime.Object { return &corev1.Service{} }},
	"Deployment":            {"apps/v1", func() runtime.Object { return &appsv1.Deployment{} }},
}

// header is what a document says about itself, read leniently so that even a
// document that fails strict decoding can be named in the error.
type header struct {
	apiVersion, kind, name string
}

func (h header) String() string {
	if h.name == "" {
		return h.kind
	}
	return fmt.Sprintf("%s %q", h.kind, h.name)
}

func readHeader(doc map[string]any) header {
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	h := header{apiVersion: str(doc, "apiVersion"), kind: str(doc, "kind")}
	if meta, ok := doc["metadata"].(map[string]any); ok {
		h.name = str(meta, "name")
	}
	return h
}

// decode turns one JSON document into objects: one, none (an ignored kind), or
// the items of a List. depth guards against Lists nested without end.
func (l *loader) decode(at Object, data []byte, depth int) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		l.errorf("%s: %v", at.Where(), err)
		return
	}
	doc, ok := generic.(map[string]any)
	if !ok {
		l.errorf("%s: not a Kubernetes object: expected a mapping with apiVersion and kind, found %s", at.Where(), jsonKind(generic))
		return
	}
	h := readHeader(doc)
	where := at.Where()
	if h.kind != "" {
		where = fmt.Sprintf("%s (%s)", where, h)
	}
	missing := false
	for _, f := range []string{"apiVersion", "kind"} {
		if s, _ := doc[f].(string); s == "" {
			l.errorf("%s: missing %q", where, f)
			missing = true
		}
	}
	if missing {
		return
	}

	// A custom kind may end in "List" too (AllowList); only one with items is a list.
	if items, hasItems := doc["items"]; h.kind == "List" || hasItems && strings.HasSuffix(h.kind, "List") {
		l.decodeList(at, where, h, doc, items, depth)
		return
	}

	switch class, msg := classifyKind(h.apiVersion, h.kind); class {
	case kindIgnored:
		l.warnf("%s: %s %s is not supported by kplay and is ignored", at.Where(), h.apiVersion, h)
		return
	case kindCustom:
		l.warnf("%s: %s %s is a custom resource (group %s), which kplay does not run; it is ignored", at.Where(), h.apiVersion, h, groupOf(h.apiVersion))
		return
	case kindNoMatch:
		l.errorf("%s: %s", where, msg)
		return
	}
	obj := kinds[h.kind].new()
	problems := decodeStrict(data, doc, obj)
	for _, p := range problems {
		l.errorf("%s: %s", where, p)
	}
	if len(problems) > 0 {
		return
	}
	if s, ok := obj.(*corev1.Secret); ok {
		mergeStringData(s)
	}
	at.Object = obj
	l.objs = append(l.objs, at)
}

func groupOf(apiVersion string) string {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group
}

// decodeList flattens a List (or a typed list such as PodList) into its items.
// Items of a typed list may leave out apiVersion and kind.
func (l *loader) decodeList(at Object, where string, h header, doc map[string]any, items any, depth int) {
	for k := range doc {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "items" {
			l.errorf("%s: unknown field %q", where, k)
		}
	}
	list, ok := items.([]any)
	if items != nil && !ok {
		l.errorf("%s: items: expected a list, found %s", where, jsonKind(items))
		return
	}
	if depth > 0 {
		l.errorf("%s: a List inside a List is not supported", where)
		return
	}
	itemKind := strings.TrimSuffix(h.kind, "List")
	for i, item := range list {
		itemAt := at
		itemAt.Item = i + 1
		if m, ok := item.(map[string]any); ok && itemKind != "" {
			if _, set := m["kind"]; !set {
				m["kind"] = itemKind
			}
			if _, set := m["apiVersion"]; !set {
				m["apiVersion"] = h.apiVersion
			}
		}
		data, err := json.Marshal(item)
		if err != nil {
			l.errorf("%s: %v", itemAt.Where(), err)
			continue
		}
		l.decode(itemAt, data, depth+1)
	}
}

// decodeStrict decodes data into obj the way the API server's strict field
// validation does, and returns every problem with its field path: values of the
// wrong type, unknown fields and duplicate fields.
func decodeStrict(data []byte, generic map[string]any, obj runtime.Object) []string {
	strict, err := sigsjson.UnmarshalStrict(data, obj)
	var problems []string
	if err != nil {
		// The decoder stops at the first bad value and names it without list
		// indexes; find every bad value with its full path, drop them, and
		// decode again to learn about unknown fields too.
		problems = valueErrors(generic, reflect.TypeOf(obj).Elem(), "")
		if len(problems) == 0 {
			problems = []string{err.Error()}
		}
		pruned, _ := json.Marshal(generic)
		strict, _ = sigsjson.UnmarshalStrict(pruned, obj)
	}
	for _, e := range strict {
		problems = append(problems, e.Error())
	}
	return problems
}

var (
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	bytesType       = reflect.TypeOf([]byte(nil))
)

// valueErrors walks a decoded JSON value alongside the Go type it must fill and
// returns a message for every value that type cannot hold, removing those values
// from the tree. Unknown fields are skipped: the strict decoder reports them.
func valueErrors(v any, t reflect.Type, path string) []string {
	_, msgs := checkValue(v, t, path)
	return msgs
}

// checkValue reports whether v as a whole must be removed from its parent, and the
// messages for it or for the values inside it.
func checkValue(v any, t reflect.Type, path string) (bool, []string) {
	raw, _ := json.Marshal(v)
	err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, reflect.New(t).Interface())
	if err == nil {
		return false, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	leaf := func() (bool, []string) { return true, []string{valueMessage(path, v, t, err)} }
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == bytesType {
		return leaf()
	}
	var msgs []string
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return leaf()
		}
		for _, k := range sortedKeys(m) {
			ft, found := jsonField(t, k)
			if !found {
				continue
			}
			if bad, sub := checkValue(m[k], ft, join(path, k)); bad || len(sub) > 0 {
				msgs = append(msgs, sub...)
				if bad {
					delete(m, k)
				}
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return leaf()
		}
		for _, k := range sortedKeys(m) {
			bad, sub := checkValue(m[k], t.Elem(), path+"["+k+"]")
			msgs = append(msgs, sub...)
			if bad {
				delete(m, k)
			}
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return leaf()
		}
		for i := range s {
			bad, sub := checkValue(s[i], t.Elem(), path+"["+strconv.Itoa(i)+"]")
			msgs = append(msgs, sub...)
			if bad {
				s[i] = nil
			}
		}
	default:
		return leaf()
	}
	if len(msgs) == 0 {
		return leaf()
	}
	return false, msgs
}

// valueMessage says what is wrong with one value, in the user's terms.
func valueMessage(path string, v any, t reflect.Type, err error) string {
	if path == "" {
		path = "(document)"
	}
	var te *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &b64):
		return fmt.Sprintf("%s: invalid base64 value: %v", path, err)
	case errors.As(err, &te):
		return fmt.Sprintf("%s: expected %s, found %s", path, typeName(t), jsonKind(v))
	default:
		return fmt.Sprintf("%s: %v", path, err)
	}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer (" + t.Kind().String() + ")"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an unsigned integer (" + t.Kind().String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t == bytesType {
			return "a base64 string"
		}
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// jsonKind describes a decoded JSON value for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case json.Number:
		return "number " + v.String()
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// jsonField finds the struct field that a JSON key fills, looking into inlined
// (embedded) structs as encoding/json does. Keys match case-sensitively, as in
// the API server.
func jsonField(t reflect.Type, key string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" && f.Anonymous {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if found, ok := jsonField(ft, key); ok {
					return found, true
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys
}

// mergeStringData folds stringData into data the way the API server does on
// write (stringData wins), so later stages only read data.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}
