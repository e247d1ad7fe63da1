package plan

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// expand replaces each $(NAME) in s with its value, by the kubelet's rules: `$$`
// is a literal `$`, a reference lookup does not know stays as written, and a `$`
// before anything else is kept.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// An unterminated reference is text; scanning goes on after
				// the '(' so a later $( is still seen.
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// replay runs the container's env assignments in kubelet order and returns the
// final environment with every value decided. With reveal false (a dry run)
// secret and pod IP variables keep their references and count as undefined when
// a literal or the command line refers to them, so no secret reaches the output.
func (c Container) replay(podIP string, reveal bool) []EnvVar {
	steps := c.steps
	if steps == nil {
		// A Container built by hand, not by Build: its Env is the sequence.
		steps = make([]envStep, len(c.Env))
		for i, v := range c.Env {
			steps[i] = envStep{EnvVar: v}
		}
	}
	out := make([]EnvVar, 0, len(steps))
	at := make(map[string]int, len(steps))
	lookup := func(name string) (string, bool) {
		i, ok := at[name]
		if !ok || (!reveal && hidden(out[i])) {
			return "", false
		}
		return out[i].Value, true
	}
	for _, s := range steps {
		v := s.EnvVar
		switch v.Source {
		case EnvLiteral:
			v.Value = expand(v.Value, lookup)
		case EnvPodIP:
			if reveal {
				v.Value = podIP
			}
		}
		if i, ok := at[v.Name]; ok {
			out[i] = v
			continue
		}
		at[v.Name] = len(out)
		out = append(out, v)
	}
	return out
}

func hidden(v EnvVar) bool { return v.Source == EnvSecret || v.Source == EnvPodIP }

// lookupIn answers $(NAME) from a final environment.
func lookupIn(env []EnvVar, reveal bool) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, v := range env {
		if reveal || !hidden(v) {
			m[v.Name] = v.Value
		}
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func expandAll(list []string, lookup func(string) (string, bool)) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, lookup)
	}
	return out
}

// Resolve expands the container's env, command, args and subPathExpr with the pod IP known
// (for a hostNetwork pod, the host's IP, as the kubelet reports it).
// Env is in the order variables were first assigned (envFrom keys, then env
// entries), each with its last value. Command and args are expanded against the
// whole final environment, as the kubelet does; merging them with the image's
// ENTRYPOINT and CMD is the runtime's job.
func (c Container) Resolve(podIP string) (Resolved, error) {
	env := c.replay(podIP, true)
	r := Resolved{Env: make([]string, len(env))}
	for i, v := range env {
		r.Env[i] = v.Name + "=" + v.Value
	}
	lookup := lookupIn(env, true)
	r.Command = expandAll(c.Spec.Command, lookup)
	r.Args = expandAll(c.Spec.Args, lookup)
	for _, m := range c.Spec.VolumeMounts {
		m := m
		if m.SubPathExpr != "" {
			sub, err := expandSubPath(m.SubPathExpr, lookup)
			if err != nil {
				return Resolved{}, fmt.Errorf("container %q: volumeMount %q: %w", c.Name, m.Name, err)
			}
			m.SubPath, m.SubPathExpr = sub, ""
		}
		if err := checkSubPath(m.SubPath); err != nil {
			return Resolved{}, fmt.Errorf("container %q: volumeMount %q: %w", c.Name, m.Name, err)
		}
		r.Mounts = append(r.Mounts, m)
	}
	return r, nil
}

// expandSubPath expands a subPathExpr; unlike env and args, a variable that is
// unset or empty is an error, as the kubelet has it.
func expandSubPath(expr string, lookup func(string) (string, bool)) (string, error) {
	var missing []string
	out := expand(expr, func(name string) (string, bool) {
		v, ok := lookup(name)
		if !ok || v == "" {
			missing = append(missing, name)
		}
		return v, true
	})
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", invalidf("subPathExpr %q: missing value for %s", expr, strings.Join(slices.Compact(missing), ", "))
	}
	return out, nil
}

// checkSubPath keeps a subPath inside its volume.
func checkSubPath(sub string) error {
	if sub == "" {
		return nil
	}
	if path.IsAbs(sub) {
		return invalidf("subPath %q must be a relative path", sub)
	}
	if hasDotDot(sub) {
		return invalidf("subPath %q must not contain '..'", sub)
	}
	return nil
}

func hasDotDot(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}

// displayEnv is the final env as a dry run shows it: envFrom flattened in, values
// expanded, secrets and the pod IP as references.
func (c Container) displayEnv() ([]corev1.EnvVar, func(string) (string, bool)) {
	env := c.replay("", false)
	var out []corev1.EnvVar
	for _, v := range env {
		e := corev1.EnvVar{Name: v.Name}
		if hidden(v) && v.Ref != nil {
			e.ValueFrom = v.Ref.DeepCopy()
		} else if hidden(v) {
			// No reference to show: say nothing rather than the value.
			e.ValueFrom = &corev1.EnvVarSource{}
		} else {
			e.Value = v.Value
		}
		out = append(out, e)
	}
	return out, lookupIn(env, false)
}
