// Command bench is `make bench`: it times kplay against podman 4.3 (`podman play kube`)
// and against the floor (the same containers through the containerd Go client alone,
// see ./floor) on Deployments of 1, 10 and 50 nginx pods, alternating the tools within
// each round; times `ps` with 50 pods and measures the host memory a running pod costs
// with 10 pods; prints the medians against issue 11's targets and writes every sample
// as JSON and the report as Markdown (docs/benchmarks.json, docs/benchmarks.md).
//
// It holds /run/kplay-e2e.lock for the whole run, so it never overlaps an e2e run, and
// removes what it created on the way out, also when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	kplayBin, floorBin string
	runs               int
	sizes              []int
	psPods, memPods    int
	jsonOut, mdOut     string
	hostsDir           string
	namespace          string // kplay's containerd namespace
	floorNamespace     string
	image              string
	command            string
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.kplayBin, "kplay", "bin/kplay", "kplay binary")
	flag.StringVar(&c.floorBin, "floor", "bin/bench-floor", "the floor's binary (go build ./e2e/bench/floor)")
	flag.IntVar(&c.runs, "runs", 5, "rounds; every tool runs every size once per round")
	flag.StringVar(&sizes, "sizes", "1,10,50", "pods per Deployment, comma separated")
	flag.IntVar(&c.psPods, "ps-pods", 50, "time ps with this many pods running (one of -sizes; 0: no ps)")
	flag.IntVar(&c.memPods, "mem-pods", 10, "measure host memory with this many pods running (one of -sizes; 0: not)")
	flag.StringVar(&c.jsonOut, "json", "docs/benchmarks.json", "raw results file (empty: none)")
	flag.StringVar(&c.mdOut, "md", "docs/benchmarks.md", "report file (empty: none)")
	flag.StringVar(&c.hostsDir, "hosts-dir", "/var/lib/kplay-e2e/certs.d", "registry configuration (the e2e registry mirrors docker.io)")
	flag.StringVar(&c.namespace, "namespace", "kplay-bench", "kplay's containerd namespace")
	flag.StringVar(&c.floorNamespace, "floor-namespace", "kplay-bench-floor", "the floor's containerd namespace")
	flag.StringVar(&c.image, "image", "docker.io/library/nginx:latest", "the app container's image")
	flag.StringVar(&c.command, "command", "", "the command line to print in the report (default: this one)")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -sizes: %q is not a pod count\n", s)
			os.Exit(2)
		}
		c.sizes = append(c.sizes, n)
	}
	slices.Sort(c.sizes)
	c.sizes = slices.Compact(c.sizes)
	for _, n := range []int{c.psPods, c.memPods} {
		if n != 0 && !slices.Contains(c.sizes, n) {
			fmt.Fprintf(os.Stderr, "bench: %d pods is not one of -sizes %s\n", n, sizes)
			os.Exit(2)
		}
	}
	if c.command == "" {
		c.command = strings.Join(os.Args, " ")
	}
	if err := runBench(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runBench(c config) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	for _, b := range []*string{&c.kplayBin, &c.floorBin} {
		abs, err := filepath.Abs(*b)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%w (make build; go build -o bin/bench-floor ./e2e/bench/floor)", err)
		}
		*b = abs
	}
	unlock, err := lock("/run/kplay-e2e.lock")
	if err != nil {
		return err
	}
	defer unlock()

	// The first SIGINT or SIGTERM interrupts the command running (kplay and the floor
	// roll back what they started) and the run goes on to clean up; a second one
	// kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		stop()
	}()

	dir, err := os.MkdirTemp("", "kplay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{config: c, dir: dir}
	if err := b.writeManifests(); err != nil {
		return err
	}
	// Leftovers of an interrupted earlier run would distort the first round.
	b.cleanup()
	defer func() {
		b.cleanup()
		if left := b.leftovers(); left != "" {
			err = errors.Join(err, fmt.Errorf("left behind after cleanup: %s", left))
		}
	}()

	start := time.Now()
	res := Results{Date: start.UTC().Format(time.RFC3339), Command: c.command, Runs: c.runs, Sizes: c.sizes,
		PsPods: c.psPods, MemPods: c.memPods, Machine: machine(), LoadBefore: loadavg()}
	res.Versions = b.versions()
	if err := b.warmUp(ctx); err != nil {
		return fmt.Errorf("warming up: %w", err)
	}
	for round := 1; round <= c.runs; round++ {
		for _, n := range c.sizes {
			line := fmt.Sprintf("round %d/%d, %2d pod%s:", round, c.runs, n, plural(n))
			for _, tool := range tools {
				samples, mem, err := b.cycle(ctx, tool, n, round)
				if err != nil {
					return err
				}
				res.Samples = append(res.Samples, samples...)
				if mem != nil {
					res.Memory = append(res.Memory, *mem)
				}
				line += fmt.Sprintf("  %s up %.2f s down %.2f s", tool, samples[0].Ms/1000, samples[len(samples)-1].Ms/1000)
			}
			fmt.Fprintln(os.Stderr, line)
		}
	}
	res.LoadAfter = loadavg()
	res.DurationS = time.Since(start).Seconds()
	m := medians(res.Samples, res.Memory)
	res.Medians = m.list()
	res.Targets = targets(m, c.psPods, c.memPods)
	table := rows(m, c.sizes, c.psPods, c.memPods, res.Targets)

	fmt.Printf("\nmedians of %d rounds, %s (load %s before, %s after; the run took %s)\n\n", c.runs, res.Date, res.LoadBefore, res.LoadAfter, time.Duration(res.DurationS*float64(time.Second)).Round(time.Second))
	writeTable(os.Stdout, table, res.Versions.get("podman"), false)
	if c.jsonOut != "" {
		if err := res.writeJSON(c.jsonOut); err != nil {
			return err
		}
		fmt.Printf("\nevery sample: %s\n", c.jsonOut)
	}
	if c.mdOut != "" {
		if err := res.writeMarkdown(c.mdOut, table, c.jsonOut); err != nil {
			return err
		}
		fmt.Printf("report: %s\n", c.mdOut)
	}
	return nil
}

// lock takes the machine-wide e2e lock as the e2e suite does (flock on the file).
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		fmt.Fprintf(os.Stderr, "bench: waiting for %s (an e2e run holds it)\n", path)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() { f.Close() }, nil
}
