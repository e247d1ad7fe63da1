package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The tools compared, in the order they run within a round.
const (
	kplay  = "kplay"
	podman = "podman"
	floor  = "floor"
)

var tools = []string{kplay, podman, floor}

// Operations timed.
const (
	opUp   = "up"
	opDown = "down"
	opPs   = "ps"
)

// Sample is one timed command.
type Sample struct {
	Round int     `json:"round"`
	Tool  string  `json:"tool"`
	Op    string  `json:"op"`
	Pods  int     `json:"pods"`
	Ms    float64 `json:"ms"`
}

// MemSample is the host memory one tool's running pods cost, beyond the app
// processes themselves, in one round.
type MemSample struct {
	Round int    `json:"round"`
	Tool  string `json:"tool"`
	Pods  int    `json:"pods"`
	// Processes counted: kplay and floor: each pod's shim and its children but the
	// app container's processes (pause, log drivers); podman: each container's conmon
	// and its children but the app container's processes (catatonit).
	Processes int   `json:"processes"`
	RSSKiB    int64 `json:"rss_kib"`
	PssKiB    int64 `json:"pss_kib"`
	// The per-container supervisors alone: the shims (kplay, floor) or conmons (podman).
	SupervisorRSSKiB int64 `json:"supervisor_rss_kib"`
	SupervisorPssKiB int64 `json:"supervisor_pss_kib"`
}

// Key names one median.
type Key struct {
	Tool string
	Op   string // up, down, ps, or one of the memory measures below
	Pods int
}

// Memory measures, per running pod, in MiB.
const (
	memRSS           = "rss-per-pod"
	memPss           = "pss-per-pod"
	memSupervisorRSS = "supervisor-rss-per-pod"
)

// Medians maps every measure to the median of its rounds: milliseconds for the
// timed operations, MiB per pod for memory.
type Medians map[Key]float64

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medians reduces the samples to one median per tool, operation and size.
func medians(samples []Sample, mem []MemSample) Medians {
	all := map[Key][]float64{}
	for _, s := range samples {
		k := Key{s.Tool, s.Op, s.Pods}
		all[k] = append(all[k], s.Ms)
	}
	for _, m := range mem {
		pods := float64(m.Pods)
		all[Key{m.Tool, memRSS, m.Pods}] = append(all[Key{m.Tool, memRSS, m.Pods}], float64(m.RSSKiB)/1024/pods)
		all[Key{m.Tool, memPss, m.Pods}] = append(all[Key{m.Tool, memPss, m.Pods}], float64(m.PssKiB)/1024/pods)
		all[Key{m.Tool, memSupervisorRSS, m.Pods}] = append(all[Key{m.Tool, memSupervisorRSS, m.Pods}], float64(m.SupervisorRSSKiB)/1024/pods)
	}
	out := Medians{}
	for k, xs := range all {
		out[k] = median(xs)
	}
	return out
}

// get returns a median and whether it was measured.
func (m Medians) get(tool, op string, pods int) (float64, bool) {
	v, ok := m[Key{tool, op, pods}]
	return v, ok && !math.IsNaN(v)
}

// ratio is a/b, NaN when either is missing or b is zero.
func ratio(a, b float64, okA, okB bool) float64 {
	if !okA || !okB || b == 0 {
		return math.NaN()
	}
	return a / b
}

// Target is one of issue 11's goals, evaluated on a run's medians.
type Target struct {
	Name  string  `json:"name"`
	Goal  string  `json:"goal"`
	Value float64 `json:"-"` // NaN when not measured
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	// Strict targets need Value < Limit; the others Value <= Limit.
	Strict bool `json:"strict,omitempty"`
	// Status is met, missed or not measured.
	Status string `json:"status"`
}

// MarshalJSON writes Value as "value", null when it was not measured (JSON has no NaN).
func (t Target) MarshalJSON() ([]byte, error) {
	type plain Target
	var v *float64
	if !math.IsNaN(t.Value) {
		v = &t.Value
	}
	return json.Marshal(struct {
		plain
		Value *float64 `json:"value"`
	}{plain(t), v})
}

func (t *Target) evaluate() {
	switch {
	case math.IsNaN(t.Value):
		t.Status = "not measured"
	case t.Value < t.Limit || (!t.Strict && t.Value == t.Limit):
		t.Status = "met"
	default:
		t.Status = "missed"
	}
}

// targets evaluates issue 11's targets. psPods and memPods are the sizes at which ps
// and memory were measured.
func targets(m Medians, psPods, memPods int) []Target {
	vsPodman := func(op string, pods int) float64 {
		k, okK := m.get(kplay, op, pods)
		p, okP := m.get(podman, op, pods)
		return ratio(k, p, okK, okP)
	}
	// perPodGrowth is the time per pod at 50 over the time per pod at 10.
	perPodGrowth := func(op string) float64 {
		a, okA := m.get(kplay, op, 50)
		b, okB := m.get(kplay, op, 10)
		return ratio(a/50, b/10, okA, okB)
	}
	up10, okUp := m.get(kplay, opUp, 10)
	floor10, okFloor := m.get(floor, opUp, 10)
	ps, okPs := m.get(kplay, opPs, psPods)
	if !okPs {
		ps = math.NaN()
	}
	rss, okRSS := m.get(kplay, memRSS, memPods)
	shim, okShim := m.get(kplay, memSupervisorRSS, memPods)
	memOver := math.NaN()
	if okRSS && okShim {
		memOver = rss - shim
	}
	ts := []Target{
		{Name: "up, 1 pod", Goal: "<= 0.6x podman", Value: vsPodman(opUp, 1), Limit: 0.6, Unit: "x"},
		{Name: "up, 10 pods", Goal: "<= 0.45x podman", Value: vsPodman(opUp, 10), Limit: 0.45, Unit: "x"},
		{Name: "up, 50 pods", Goal: "<= 0.4x podman", Value: vsPodman(opUp, 50), Limit: 0.4, Unit: "x"},
		{Name: "down, 10 pods", Goal: "<= 0.2x podman", Value: vsPodman(opDown, 10), Limit: 0.2, Unit: "x"},
		{Name: "down, 50 pods", Goal: "<= 0.2x podman", Value: vsPodman(opDown, 50), Limit: 0.2, Unit: "x"},
		{Name: "up, time per pod at 50 / at 10", Goal: "<= 1.2x", Value: perPodGrowth(opUp), Limit: 1.2, Unit: "x"},
		{Name: "down, time per pod at 50 / at 10", Goal: "<= 1.2x", Value: perPodGrowth(opDown), Limit: 1.2, Unit: "x"},
		{Name: fmt.Sprintf("ps, %d pods", psPods), Goal: "< 60 ms", Value: ps, Limit: 60, Unit: "ms", Strict: true},
		{Name: "up, 10 pods, vs the floor", Goal: "<= 1.3x floor", Value: ratio(up10, floor10, okUp, okFloor), Limit: 1.3, Unit: "x"},
		{Name: "host RSS per pod beyond the shim", Goal: "<= shim + 4 MiB", Value: memOver, Limit: 4, Unit: "MiB"},
	}
	for i := range ts {
		ts[i].evaluate()
	}
	return ts
}

// Row is one line of the results table.
type Row struct {
	Measure           string
	Values            [3]string // kplay, podman, floor
	VsPodman, VsFloor string
	Target, Status    string
}

// rows builds the results table: the medians, kplay's ratios to podman and to the
// floor, and the target of that row with its status.
func rows(m Medians, sizes []int, psPods, memPods int, ts []Target) []Row {
	byName := map[string]Target{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	targetOf := func(names ...string) (string, string) {
		var goals, status []string
		for _, n := range names {
			if t, ok := byName[n]; ok {
				goals = append(goals, t.Goal)
				status = append(status, statusText(t))
			}
		}
		return strings.Join(goals, "; "), strings.Join(status, "; ")
	}
	var out []Row
	timed := func(op string, pods int, unit func(float64) string, names ...string) {
		r := Row{Measure: fmt.Sprintf("%s, %d pod%s", op, pods, plural(pods))}
		var v [3]float64
		var ok [3]bool
		for i, t := range tools {
			v[i], ok[i] = m.get(t, op, pods)
			if ok[i] {
				r.Values[i] = unit(v[i])
			} else {
				r.Values[i] = "-"
			}
		}
		r.VsPodman = ratioText(ratio(v[0], v[1], ok[0], ok[1]))
		r.VsFloor = ratioText(ratio(v[0], v[2], ok[0], ok[2]))
		r.Target, r.Status = targetOf(names...)
		out = append(out, r)
	}
	seconds := func(ms float64) string { return fmt.Sprintf("%.2f s", ms/1000) }
	millis := func(ms float64) string { return fmt.Sprintf("%.0f ms", ms) }
	mib := func(v float64) string { return fmt.Sprintf("%.1f MiB", v) }
	for _, op := range []string{opUp, opDown} {
		for _, n := range sizes {
			var names []string
			switch {
			case op == opUp && n == 10:
				names = []string{"up, 10 pods", "up, 10 pods, vs the floor"}
			case n == 1 || n == 10 || n == 50:
				names = []string{fmt.Sprintf("%s, %d pod%s", op, n, plural(n))}
			}
			timed(op, n, seconds, names...)
		}
		if slices.Contains(sizes, 10) && slices.Contains(sizes, 50) {
			r := Row{Measure: op + ", time per pod at 50 / at 10"}
			for i, t := range tools {
				a, okA := m.get(t, op, 50)
				b, okB := m.get(t, op, 10)
				r.Values[i] = ratioText(ratio(a/50, b/10, okA, okB))
			}
			r.Target, r.Status = targetOf(op + ", time per pod at 50 / at 10")
			out = append(out, r)
		}
	}
	if psPods > 0 {
		timed(opPs, psPods, millis, fmt.Sprintf("ps, %d pods", psPods))
		out[len(out)-1].Measure = fmt.Sprintf("ps, %d pods running", psPods)
	}
	if memPods > 0 {
		timed(memRSS, memPods, mib, "host RSS per pod beyond the shim")
		out[len(out)-1].Measure = fmt.Sprintf("host RSS per pod (%d running)", memPods)
		timed(memSupervisorRSS, memPods, mib)
		out[len(out)-1].Measure = "  of which shim (podman: conmons)"
		timed(memPss, memPods, mib)
		out[len(out)-1].Measure = fmt.Sprintf("host Pss per pod (%d running)", memPods)
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func ratioText(r float64) string {
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

func statusText(t Target) string {
	if t.Status == "not measured" {
		return t.Status
	}
	v := fmt.Sprintf("%.2f%s", t.Value, t.Unit)
	if t.Unit == "ms" {
		v = fmt.Sprintf("%.0f ms", t.Value)
	} else if t.Unit == "MiB" {
		v = fmt.Sprintf("%.1f MiB", t.Value)
	}
	return fmt.Sprintf("%s (%s)", t.Status, v)
}

// writeTable prints the rows as an aligned plain-text table, or as Markdown.
func writeTable(w io.Writer, rs []Row, podmanVersion string, markdown bool) {
	header := []string{"", "kplay", "podman " + podmanVersion, "floor", "kplay/podman", "kplay/floor", "target", "result"}
	lines := [][]string{header}
	for _, r := range rs {
		lines = append(lines, []string{r.Measure, r.Values[0], r.Values[1], r.Values[2], r.VsPodman, r.VsFloor, r.Target, r.Status})
	}
	if markdown {
		for i, l := range lines {
			fmt.Fprintf(w, "| %s |\n", strings.Join(l, " | "))
			if i == 0 {
				fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(l)))
			}
		}
		return
	}
	widths := make([]int, len(header))
	for _, l := range lines {
		for i, c := range l {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, l := range lines {
		var b strings.Builder
		for i, c := range l {
			if i == 0 || i >= 6 {
				fmt.Fprintf(&b, "%-*s  ", widths[i], c)
			} else {
				fmt.Fprintf(&b, "%*s  ", widths[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
