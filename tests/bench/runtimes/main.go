// Command runtimes times /bin/true from one BusyBox rootfs under sbx,
// bubblewrap, crun and runc, alternating the runtimes round-robin in one
// invocation, and prints each one's median, p10 and p90 and sbx's ratios to
// the others with the targets.
//
// Run it through tests/bench/runtimes.sh, which installs the runtimes,
// builds the rootfs and runs this inside `unshare -m` with
// /sys/fs/cgroup/unified unmounted (crun 1.8 refuses hybrid cgroup layouts):
//
//	tests/bench/runtimes.sh [-n ROUNDS] [-case run|lifecycle] [...]
//
// A runtime that is missing is skipped with the reason; one that fails is
// reported with its stderr's last line while the others go on.
//
// Each runtime is timed with the monotonic clock around the fork, exec and
// wait of its command(s), with stdin and stdout on /dev/null and stderr in
// a file. Cases are kinds of timed iteration (see the cases table); a
// runtime lists the cases it supports in its own table.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// A benchCase is one kind of timed iteration.
type benchCase struct {
	what string
	// targets maps a baseline runtime to the highest sbx/baseline ratio of
	// the median that the issues accept; 0 prints the ratio with no target.
	targets map[string]float64
}

var cases = map[string]benchCase{
	"run": {
		what:    "run /bin/true to completion (one command)",
		targets: map[string]float64{"bwrap": 1.0, "crun": 0.5, "runc": 0},
	},
	"lifecycle": {
		what:    "create + start + wait + delete of /bin/true (OCI lifecycle)",
		targets: map[string]float64{"crun": 0, "runc": 0},
	},
}

// iteration is one timed run of a case under a runtime; id is unique to it.
type iteration func(r *runner, id string) error

// runner is one runtime under test and what was measured of it.
type runner struct {
	name  string
	path  string               // resolved executable
	notes []string             // how its isolation differs from sbx's
	cases map[string]iteration // the cases it supports
	skip  string               // why it is not run, if it is not

	stderr    *os.File // its commands' stderr, truncated before each iteration
	times     []time.Duration
	steps     map[string][]time.Duration // each command's time, of successful iterations
	cur       map[string]time.Duration   // the current iteration's
	stepOrder []string                   // step names, first seen first
	fails     int
	inARow    int    // consecutive failures
	lastErr   string // the last failure, with stderr's last line
	dropped   string // why it stopped being run mid-way
	failedAll bool   // skipped as it failed every warm-up run
}

type config struct {
	rounds, warmup, maxInARow int
	timeout                   time.Duration
	rootfs, work              string
	limitMemory               int64
	limitPids                 int64
	devnull                   *os.File
}

var cfg config

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	var (
		caseName = flag.String("case", "run", "what to time: "+strings.Join(caseNames(), ", "))
		order    = flag.String("runtimes", "sbx,bwrap,crun,runc", "runtimes to run, in round-robin order")
		sbxPath  = flag.String("sbx", "bin/sbx", "sbx executable (empty: skip)")
		bwrap    = flag.String("bwrap", "bwrap", "bubblewrap executable (empty: skip)")
		crun     = flag.String("crun", "crun", "crun executable (empty: skip)")
		runc     = flag.String("runc", "runc", "runc executable (empty: skip)")
		strict   = flag.Bool("strict", false, "exit 1 when a runtime fails or a target is missed")
		keep     = flag.Bool("keep", false, "keep the work directory (specs, bundles, state)")
	)
	flag.IntVar(&cfg.rounds, "n", 200, "timed rounds (each runs every runtime once)")
	flag.IntVar(&cfg.warmup, "warmup", 5, "untimed rounds first")
	flag.IntVar(&cfg.maxInARow, "max-fails", 5, "stop running a runtime after this many failures in a row")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "kill an iteration's command after this long")
	flag.StringVar(&cfg.rootfs, "rootfs", "", "BusyBox rootfs with bin/true (tests/busybox-rootfs.sh DIR)")
	flag.Int64Var(&cfg.limitMemory, "memory", 256<<20, "memory limit in bytes, for sbx, crun and runc")
	flag.Int64Var(&cfg.limitPids, "pids", 64, "pids limit, for sbx, crun and runc")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: runtimes -rootfs DIR [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	bc, ok := cases[*caseName]
	if !ok || flag.NArg() > 0 || cfg.rootfs == "" || cfg.rounds < 1 || cfg.warmup < 0 {
		flag.Usage()
		return 2
	}
	var err error
	if cfg.rootfs, err = filepath.Abs(cfg.rootfs); err != nil {
		return fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.rootfs, "bin/true")); err != nil {
		return fatal(fmt.Errorf("rootfs: %w (build it with tests/busybox-rootfs.sh DIR)", err))
	}
	if cfg.work, err = os.MkdirTemp("", "sbx-bench-"); err != nil {
		return fatal(err)
	}
	if *keep {
		fmt.Printf("work directory: %s\n", cfg.work)
	} else {
		defer os.RemoveAll(cfg.work)
	}
	if cfg.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return fatal(err)
	}
	if *caseName == "lifecycle" {
		// The containers that `create` leaves behind become our children,
		// so that we can wait for them.
		if err := becomeSubreaper(); err != nil {
			return fatal(fmt.Errorf("lifecycle case: %w", err))
		}
	}

	paths := map[string]string{"sbx": *sbxPath, "bwrap": *bwrap, "crun": *crun, "runc": *runc}
	var rs []*runner
	for _, name := range strings.Split(*order, ",") {
		name = strings.TrimSpace(name)
		def, ok := runtimeDefs[name]
		if !ok {
			return fatal(fmt.Errorf("-runtimes: unknown runtime %q (have sbx, bwrap, crun, runc)", name))
		}
		rs = append(rs, newRunner(name, paths[name], def, *caseName))
	}

	header(bc, *caseName, rs)
	for _, r := range rs {
		if r.skip != "" {
			continue
		}
		// O_APPEND: after a truncation, the runtime writes at the start.
		r.stderr, err = os.OpenFile(filepath.Join(cfg.work, r.name+".stderr"), os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return fatal(err)
		}
		if prep := runtimeDefs[r.name].prepare; prep != nil {
			if err := prep(r); err != nil {
				r.skip = "setup failed: " + err.Error()
			}
		}
	}

	// Warm-up: a runtime that fails every warm-up round is not timed.
	warm := map[*runner]bool{}
	for i := 0; i < cfg.warmup; i++ {
		for _, r := range rs {
			if r.skip == "" && r.once(*caseName, fmt.Sprintf("w%d", i)) == nil {
				warm[r] = true
			}
		}
	}
	for _, r := range rs {
		if r.skip == "" && cfg.warmup > 0 && !warm[r] {
			r.skip, r.failedAll = "every warm-up run: "+r.lastErr, true
		}
		r.times, r.fails, r.inARow = r.times[:0], 0, 0
		for step := range r.steps {
			r.steps[step] = r.steps[step][:0]
		}
	}

	start := time.Now()
	for i := 0; i < cfg.rounds; i++ {
		for _, r := range rs {
			if r.skip != "" || r.dropped != "" {
				continue
			}
			t0 := time.Now()
			err := r.once(*caseName, fmt.Sprint(i))
			d := time.Since(t0)
			if err == nil {
				r.times = append(r.times, d)
				continue
			}
			if r.inARow >= cfg.maxInARow {
				r.dropped = fmt.Sprintf("stopped at round %d after %d failures in a row", i+1, r.inARow)
			}
		}
	}
	fmt.Printf("%d rounds in %.1f s\n\n", cfg.rounds, time.Since(start).Seconds())

	bad := report(rs)
	if missed := ratios(bc, rs); missed {
		bad = true
	}
	if *strict && bad {
		return 1
	}
	return 0
}

func fatal(err error) int {
	fmt.Fprintf(os.Stderr, "runtimes: %v\n", err)
	return 1
}

func caseNames() []string {
	var names []string
	for n := range cases {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func newRunner(name, path string, def runtimeDef, caseName string) *runner {
	r := &runner{name: name, notes: def.notes, cases: def.cases}
	switch {
	case path == "":
		r.skip = "disabled (-" + name + " \"\")"
	case r.cases[caseName] == nil:
		r.skip = "has no " + caseName + " case (add one in its runtimeDefs entry)"
	default:
		p, err := exec.LookPath(path)
		if err != nil {
			r.skip = "not found: " + path
			if def.pkg != "" {
				r.skip += " (apt-get install " + def.pkg + ")"
			}
		} else if r.path, err = filepath.Abs(p); err != nil {
			r.skip = err.Error()
		}
	}
	return r
}

// once runs one iteration of caseName and records a failure.
func (r *runner) once(caseName, round string) error {
	if err := r.stderr.Truncate(0); err != nil {
		return err
	}
	clear(r.cur)
	err := r.cases[caseName](r, fmt.Sprintf("sbx-bench-%d-%s-%s", os.Getpid(), r.name, round))
	reapOrphans()
	if err == nil {
		r.inARow = 0
		for step, d := range r.cur {
			r.steps[step] = append(r.steps[step], d)
		}
		return nil
	}
	r.fails++
	r.inARow++
	r.lastErr = err.Error()
	if line := lastLine(r.stderr); line != "" {
		r.lastErr += ": " + line
	}
	return err
}

// exec runs the runtime with args and waits for it; step names it in
// errors. Stdin and stdout are /dev/null, stderr is the runner's file.
func (r *runner) exec(step string, args ...string) error {
	cmd := exec.Command(r.path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = cfg.devnull, cfg.devnull, r.stderr
	// Its own process group, so that a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	defer r.timeStep(step, time.Now())
	if err := cmd.Start(); err != nil {
		return err
	}
	timedOut := false
	t := time.AfterFunc(cfg.timeout, func() {
		timedOut = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	err := cmd.Wait()
	if !t.Stop() && timedOut {
		return fmt.Errorf("%s: timed out after %v", strings.TrimSpace(r.name+" "+step), cfg.timeout)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", strings.TrimSpace(r.name+" "+step), err)
	}
	return nil
}

// timeStep records the time since t0 as the current iteration's step.
func (r *runner) timeStep(step string, t0 time.Time) {
	if r.steps == nil {
		r.steps, r.cur = map[string][]time.Duration{}, map[string]time.Duration{}
	}
	if _, seen := r.steps[step]; !seen {
		r.steps[step] = nil
		r.stepOrder = append(r.stepOrder, step)
	}
	r.cur[step] += time.Since(t0)
}

// quiet runs the runtime with args, untimed and with no output, for
// cleaning up after a failure without hiding its stderr.
func (r *runner) quiet(args ...string) {
	cmd := exec.Command(r.path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = cfg.devnull, cfg.devnull, cfg.devnull
	cmd.Run()
}

// lastLine is f's last non-empty line.
func lastLine(f *os.File) string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func header(bc benchCase, caseName string, rs []*runner) {
	var names []string
	for _, r := range rs {
		names = append(names, r.name)
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("sbx runtime benchmark, case %q: %s\n", caseName, bc.what)
	fmt.Printf("rootfs %s; %d rounds alternating %s after %d warm-up rounds; limits memory %d MiB, pids %d\n",
		cfg.rootfs, cfg.rounds, strings.Join(names, ", "), cfg.warmup, cfg.limitMemory>>20, cfg.limitPids)
	fmt.Printf("host: %s/%s, kernel %s, %d CPUs\n", runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(kernel)), runtime.NumCPU())
	if hybridCgroups() {
		fmt.Println("warning: /sys/fs/cgroup/unified is mounted (hybrid cgroups): crun 1.8 refuses that;" +
			" run through tests/bench/runtimes.sh, which unmounts it in a private mount namespace")
	}
	for _, r := range rs {
		if r.skip != "" {
			continue
		}
		v := "?"
		if out, err := exec.Command(r.path, "--version").CombinedOutput(); err == nil {
			v = firstLine(string(out))
		}
		fmt.Printf("  %-6s %s: %s\n", r.name, r.path, v)
	}
	fmt.Println()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// hybridCgroups tells whether a cgroup2 hierarchy is mounted beside v1
// ones at /sys/fs/cgroup/unified.
func hybridCgroups() bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 && fields[4] == "/sys/fs/cgroup/unified" {
			return true
		}
	}
	return false
}

// report prints the table and the notes; it returns whether any runtime
// failed or was skipped.
func report(rs []*runner) (bad bool) {
	fmt.Printf("%-7s %9s %9s %9s %9s %6s %6s\n", "runtime", "median", "p10", "p90", "min", "ok", "failed")
	for _, r := range rs {
		switch {
		case r.failedAll:
			fmt.Printf("%-7s FAILED %s\n", r.name, r.skip)
			bad = true
			continue
		case r.skip != "":
			fmt.Printf("%-7s SKIPPED: %s\n", r.name, r.skip)
			bad = true
			continue
		case len(r.times) == 0:
			fmt.Printf("%-7s FAILED every run (%d): %s\n", r.name, r.fails, r.lastErr)
			bad = true
			continue
		}
		s := slices.Clone(r.times)
		slices.Sort(s)
		fmt.Printf("%-7s %9s %9s %9s %9s %6d %6d\n", r.name,
			ms(median(s)), ms(percentile(s, 0.10)), ms(percentile(s, 0.90)), ms(s[0]), len(s), r.fails)
		if len(r.stepOrder) > 1 {
			var parts []string
			for _, step := range r.stepOrder {
				if t := slices.Clone(r.steps[step]); len(t) > 0 {
					slices.Sort(t)
					parts = append(parts, step+" "+ms(median(t)))
				}
			}
			fmt.Printf("        step medians: %s\n", strings.Join(parts, ", "))
		}
		if r.fails > 0 {
			bad = true
			fmt.Printf("        last failure: %s\n", r.lastErr)
		}
		if r.dropped != "" {
			fmt.Printf("        %s\n", r.dropped)
		}
	}
	fmt.Println()
	notes := false
	for _, r := range rs {
		if r.skip == "" && len(r.notes) > 0 {
			fmt.Printf("note: %s: %s\n", r.name, strings.Join(r.notes, "; "))
			notes = true
		}
	}
	if notes {
		fmt.Println()
	}
	return bad
}

// ratios prints sbx's median over each baseline's with the case's targets;
// it returns whether a target was missed or could not be checked.
func ratios(bc benchCase, rs []*runner) (missed bool) {
	med := map[string]time.Duration{}
	for _, r := range rs {
		// One that was stopped mid-way has too few, and biased, samples.
		if r.skip == "" && r.dropped == "" && len(r.times) > 0 {
			s := slices.Clone(r.times)
			slices.Sort(s)
			med[r.name] = median(s)
		}
	}
	fmt.Println("ratios of medians")
	for _, r := range rs {
		base := r.name
		target, ok := bc.targets[base]
		if !ok {
			continue
		}
		want := ""
		if target > 0 {
			want = fmt.Sprintf("target <= %.1f", target)
		}
		if med["sbx"] == 0 || med[base] == 0 {
			fmt.Printf("  sbx/%-6s    n/a  %s\n", base, want)
			missed = missed || target > 0
			continue
		}
		ratio := float64(med["sbx"]) / float64(med[base])
		verdict := ""
		if target > 0 {
			verdict = "  PASS"
			if ratio > target {
				verdict, missed = "  MISS", true
			}
		}
		fmt.Printf("  sbx/%-6s %6.2f  %s%s\n", base, ratio, want, verdict)
	}
	return missed
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func median(s []time.Duration) time.Duration {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile of sorted s.
func percentile(s []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// readPid reads a pid file that a runtime wrote.
func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscan(string(bytes.TrimSpace(b)), &pid); err != nil || pid <= 0 {
		return 0, errors.New("bad pid file " + path)
	}
	return pid, nil
}
