package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9, 1, 1, 1, 100}, 1},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Errorf("median sorted its argument: %v", in)
	}
}

func TestMediansPerPodMemory(t *testing.T) {
	m := medians(nil, []MemSample{
		{Round: 1, Tool: kplay, Pods: 10, RSSKiB: 10 * 1024 * 20, SupervisorRSSKiB: 10 * 1024 * 12},
		{Round: 2, Tool: kplay, Pods: 10, RSSKiB: 10 * 1024 * 30, SupervisorRSSKiB: 10 * 1024 * 13},
		{Round: 3, Tool: kplay, Pods: 10, RSSKiB: 10 * 1024 * 22, SupervisorRSSKiB: 10 * 1024 * 11},
	})
	if got := m[Key{kplay, memRSS, 10}]; got != 22 {
		t.Errorf("RSS per pod = %v MiB, want 22", got)
	}
	if got := m[Key{kplay, memSupervisorRSS, 10}]; got != 12 {
		t.Errorf("shim RSS per pod = %v MiB, want 12", got)
	}
}

// run50 is a run where kplay meets every target but ps and memory.
func run50() Medians {
	return medians([]Sample{
		{Tool: kplay, Op: opUp, Pods: 1, Ms: 60},
		{Tool: podman, Op: opUp, Pods: 1, Ms: 100},
		{Tool: kplay, Op: opUp, Pods: 10, Ms: 450},
		{Tool: podman, Op: opUp, Pods: 10, Ms: 1000},
		{Tool: floor, Op: opUp, Pods: 10, Ms: 400},
		{Tool: kplay, Op: opUp, Pods: 50, Ms: 2700},
		{Tool: podman, Op: opUp, Pods: 50, Ms: 5000},
		{Tool: kplay, Op: opDown, Pods: 10, Ms: 200},
		{Tool: podman, Op: opDown, Pods: 10, Ms: 1000},
		{Tool: kplay, Op: opDown, Pods: 50, Ms: 1000},
		{Tool: podman, Op: opDown, Pods: 50, Ms: 5000},
		{Tool: kplay, Op: opPs, Pods: 50, Ms: 60},
	}, []MemSample{{Tool: kplay, Pods: 10, RSSKiB: 10 * 1024 * 17, SupervisorRSSKiB: 10 * 1024 * 12}})
}

func TestTargets(t *testing.T) {
	got := map[string]Target{}
	for _, tg := range targets(run50(), 50, 10) {
		got[tg.Name] = tg
	}
	want := map[string]string{
		"up, 1 pod":                        "met",    // 0.6x, the limit itself
		"up, 10 pods":                      "met",    // 0.45x
		"up, 50 pods":                      "missed", // 0.54x
		"down, 10 pods":                    "met",    // 0.2x
		"down, 50 pods":                    "met",    // 0.2x
		"up, time per pod at 50 / at 10":   "met",    // 54 ms / 45 ms = 1.2x
		"down, time per pod at 50 / at 10": "met",    // 20 / 20
		"ps, 50 pods":                      "missed", // 60 ms is not under 60 ms
		"up, 10 pods, vs the floor":        "met",    // 1.125x
		"host RSS per pod beyond the shim": "missed", // 5 MiB
	}
	if len(got) != len(want) {
		t.Errorf("%d targets, want %d: %v", len(got), len(want), got)
	}
	for name, status := range want {
		if got[name].Status != status {
			t.Errorf("%s: %s (%v), want %s", name, got[name].Status, got[name].Value, status)
		}
	}
	if v := got["host RSS per pod beyond the shim"].Value; v != 5 {
		t.Errorf("RSS beyond the shim = %v MiB, want 5", v)
	}
}

func TestTargetsNotMeasured(t *testing.T) {
	m := medians([]Sample{{Tool: kplay, Op: opUp, Pods: 1, Ms: 50}}, nil)
	for _, tg := range targets(m, 50, 10) {
		if tg.Status != "not measured" {
			t.Errorf("%s: %s with only kplay's up of 1 pod measured", tg.Name, tg.Status)
		}
	}
}

func TestTargetJSON(t *testing.T) {
	for _, tc := range []struct {
		value float64
		want  string
	}{
		{math.NaN(), `"value":null`},
		{0.5, `"value":0.5`},
	} {
		b, err := json.Marshal(Target{Name: "x", Value: tc.value})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s does not contain %s", b, tc.want)
		}
	}
}

func TestRows(t *testing.T) {
	m := run50()
	rs := rows(m, []int{1, 10, 50}, 50, 10, targets(m, 50, 10))
	byMeasure := map[string]Row{}
	for _, r := range rs {
		byMeasure[r.Measure] = r
	}
	up10 := byMeasure["up, 10 pods"]
	if up10.Values != [3]string{"0.45 s", "1.00 s", "0.40 s"} || up10.VsPodman != "0.45x" || up10.VsFloor != "1.12x" {
		t.Errorf("up, 10 pods: %+v", up10)
	}
	if up10.Target != "<= 0.45x podman; <= 1.3x floor" || up10.Status != "met (0.45x); met (1.12x)" {
		t.Errorf("up, 10 pods: target %q, status %q", up10.Target, up10.Status)
	}
	if r := byMeasure["down, 1 pod"]; r.Values != [3]string{"-", "-", "-"} || r.Target != "" {
		t.Errorf("down, 1 pod, not measured: %+v", r)
	}
	if r := byMeasure["up, time per pod at 50 / at 10"]; r.Values[0] != "1.20x" || r.Values[2] != "-" {
		t.Errorf("up per pod growth: %+v", r)
	}
	if r := byMeasure["ps, 50 pods running"]; r.Values[0] != "60 ms" || r.Status != "missed (60 ms)" {
		t.Errorf("ps: %+v", r)
	}
	if r := byMeasure["host RSS per pod (10 running)"]; r.Values[0] != "17.0 MiB" || r.Status != "missed (5.0 MiB)" {
		t.Errorf("memory: %+v", r)
	}
	var md strings.Builder
	writeTable(&md, rs, "4.3.1", true)
	lines := strings.Split(md.String(), "\n")
	if lines[0] != "|  | kplay | podman 4.3.1 | floor | kplay/podman | kplay/floor | target | result |" || lines[1] != "|---|---|---|---|---|---|---|---|" {
		t.Errorf("markdown header:\n%s\n%s", lines[0], lines[1])
	}
	if len(lines) != len(rs)+3 { // header, rule, rows, final newline
		t.Errorf("markdown table has %d lines for %d rows", len(lines), len(rs))
	}
}

func TestProcessTree(t *testing.T) {
	ps := processes{
		10: {ppid: 1},  // shim
		11: {ppid: 10}, // pause
		12: {ppid: 10}, // app
		13: {ppid: 12}, // app's child
		14: {ppid: 10}, // log driver
		20: {ppid: 1},  // unrelated
	}
	counted := ps.tree([]int{10})
	for pid := range ps.tree([]int{12}) {
		delete(counted, pid)
	}
	if len(counted) != 3 || !counted[10] || !counted[11] || !counted[14] {
		t.Errorf("shim's tree without the app's = %v, want 10, 11, 14", counted)
	}
}
