package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// env is what TestMain built and measured, shared by every test.
var env struct {
	base     string // a 0755 temporary directory holding everything below
	sbx      string // the sbx binary built from ../cmd/sbx
	probeDir string // holds only the probe, mounted at /probe
	probe    string // the probe's host path
	rootfs   string // a BusyBox root filesystem (tests/busybox-rootfs.sh)
	rootErr  error  // why rootfs could not be built, if it could not
	host     facts  // the probe's facts on the host, outside any sandbox
}

// sandboxProbe is where the probe is in a sandbox that mounts env.probeDir.
const sandboxProbe = "/probe/probe"

func TestMain(m *testing.M) {
	flag.Parse()
	// The battery mostly waits on processes; two CPUs should not mean two
	// tests at a time.
	if !flagSet("test.parallel") {
		flag.Set("test.parallel", "8")
	}
	code, err := setup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: setup: %v\n", err)
		os.Exit(1)
	}
	if code == 0 {
		code = m.Run()
	}
	os.RemoveAll(env.base)
	os.Exit(code)
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// setup builds sbx and the probe into env.base, assembles the BusyBox
// root and measures the host.
func setup() (int, error) {
	base, err := os.MkdirTemp("", "sbx-tests-")
	if err != nil {
		return 1, err
	}
	env.base = base
	// The unprivileged battery's user must reach the binaries and specs.
	if err := os.Chmod(base, 0o755); err != nil {
		return 1, err
	}
	env.sbx = filepath.Join(base, "bin", "sbx")
	env.probeDir = filepath.Join(base, "probe")
	env.probe = filepath.Join(env.probeDir, "probe")
	env.rootfs = filepath.Join(base, "rootfs")
	goCmd := goTool()
	if out, err := command(nil, goCmd, "build", "-o", env.sbx, "sbx.dev/sbx/cmd/sbx"); err != nil {
		return 1, fmt.Errorf("go build sbx: %v\n%s", err, out)
	}
	if out, err := command([]string{"CGO_ENABLED=0"}, goCmd, "build", "-o", env.probe, "./probe"); err != nil {
		return 1, fmt.Errorf("go build probe: %v\n%s", err, out)
	}
	for _, d := range []string{filepath.Dir(env.sbx), env.probeDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			return 1, err
		}
	}
	if out, err := command(nil, "sh", "busybox-rootfs.sh", env.rootfs); err != nil {
		env.rootErr = fmt.Errorf("busybox-rootfs.sh %s: %v\n%s", env.rootfs, err, out)
	}
	out, err := exec.Command(env.probe, "facts").Output()
	if err != nil {
		return 1, fmt.Errorf("probe facts on the host: %v", err)
	}
	if err := json.Unmarshal(out, &env.host); err != nil {
		return 1, fmt.Errorf("probe facts on the host: %v: %s", err, out)
	}
	return 0, nil
}

// goTool finds the go command that is running the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "/usr/local/go/bin/go"
}

func command(extraEnv []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	return cmd.CombinedOutput()
}

// Spec is the sandbox spec of DESIGN.md, written out by the tests. It is
// declared here, not imported, so the tests check the JSON contract.
type Spec struct {
	Process      Process  `json:"process"`
	Root         *Root    `json:"root,omitempty"`
	Mounts       []Mount  `json:"mounts,omitempty"`
	Share        *Share   `json:"share,omitempty"`
	Hostname     string   `json:"hostname,omitempty"`
	Limits       *Limits  `json:"limits,omitempty"`
	Seccomp      string   `json:"seccomp,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	UIDMappings  []IDMap  `json:"uidMappings,omitempty"`
	GIDMappings  []IDMap  `json:"gidMappings,omitempty"`
}

type IDMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

type Process struct {
	Args     []string `json:"args"`
	Env      []string `json:"env,omitempty"`
	Cwd      string   `json:"cwd,omitempty"`
	User     *User    `json:"user,omitempty"`
	Terminal bool     `json:"terminal,omitempty"`
}

type User struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

type Root struct {
	Path     string `json:"path"`
	Writable bool   `json:"writable,omitempty"`
}

type Mount struct {
	Type        string `json:"type,omitempty"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"`
	Writable    bool   `json:"writable,omitempty"`
	Size        string `json:"size,omitempty"`
}

type Share struct {
	Network bool `json:"network,omitempty"`
	PID     bool `json:"pid,omitempty"`
	IPC     bool `json:"ipc,omitempty"`
	UTS     bool `json:"uts,omitempty"`
	Cgroup  bool `json:"cgroup,omitempty"`
	Time    bool `json:"time,omitempty"`
	User    bool `json:"user,omitempty"`
}

type Limits struct {
	Memory    string  `json:"memory,omitempty"`
	Pids      int     `json:"pids,omitempty"`
	CPUs      float64 `json:"cpus,omitempty"`
	Timeout   string  `json:"timeout,omitempty"`
	OpenFiles int     `json:"openFiles,omitempty"`
}

// probeSpec runs the probe with args in the default sandbox: an empty
// read-only root with the probe's directory mounted read-only at /probe.
func probeSpec(args ...string) Spec {
	return Spec{
		Process: Process{Args: append([]string{sandboxProbe}, args...)},
		Mounts:  []Mount{{Source: env.probeDir, Destination: "/probe"}},
	}
}

// hostRootSpec runs the probe with the host's / as a read-only root. The
// probe's directory is also mounted at its own host path, since sbx may
// give a read-only root a private /tmp.
func hostRootSpec(args ...string) Spec {
	return Spec{
		Process: Process{
			Args: append([]string{env.probe}, args...),
			Env:  []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		},
		Root:   &Root{Path: "/"},
		Mounts: []Mount{{Source: env.probeDir, Destination: env.probeDir}},
	}
}

// facts mirrors probe.Facts.
type facts struct {
	Pid    int               `json:"pid"`
	UID    int               `json:"uid"`
	GID    int               `json:"gid"`
	NS     map[string]string `json:"ns"`
	UIDMap string            `json:"uidMap"`
	GIDMap string            `json:"gidMap"`
	Status map[string]string `json:"status"`
	FDs    []struct {
		FD     int    `json:"fd"`
		Target string `json:"target"`
	} `json:"fds"`
	Hostname   string `json:"hostname"`
	Cwd        string `json:"cwd"`
	Interfaces []struct {
		Name string `json:"name"`
		Up   bool   `json:"up"`
	} `json:"interfaces"`
	Mounts []mountInfo `json:"mounts"`
	Root   []string    `json:"root"`
	Dev    []entry     `json:"dev"`
	NoFile [2]uint64   `json:"noFile"`
	Errors []string    `json:"errors"`
}

type mountInfo struct {
	Point        string `json:"point"`
	Root         string `json:"root"`
	FSType       string `json:"fstype"`
	Source       string `json:"source"`
	Options      string `json:"options"`
	SuperOptions string `json:"superOptions"`
}

// mount is the topmost mount at point, or nil.
func (f *facts) mount(point string) *mountInfo {
	var m *mountInfo
	for i := range f.Mounts {
		if f.Mounts[i].Point == point {
			m = &f.Mounts[i]
		}
	}
	return m
}

type entry struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	Link  string `json:"link"`
}

// stat mirrors probe.Stat.
type stat struct {
	Exists    bool   `json:"exists"`
	Err       string `json:"err"`
	Type      string `json:"type"`
	Major     uint32 `json:"major"`
	Minor     uint32 `json:"minor"`
	Size      int64  `json:"size"`
	FSMagic   int64  `json:"fsMagic"`
	Entries   int    `json:"entries"`
	ReadBytes int    `json:"readBytes"`
	ReadErr   string `json:"readErr"`
	Content   string `json:"content"`
}

// report is the JSON `sbx run --report FILE` writes. Pointers tell a
// missing field from a zero one.
type report struct {
	ExitCode        *int            `json:"exitCode"`
	Signal          json.RawMessage `json:"signal"`
	TimedOut        *bool           `json:"timedOut"`
	OOMKilled       *bool           `json:"oomKilled"`
	WallSeconds     *float64        `json:"wallSeconds"`
	UserSeconds     *float64        `json:"userSeconds"`
	SystemSeconds   *float64        `json:"systemSeconds"`
	PeakMemoryBytes *float64        `json:"peakMemoryBytes"`
}

// signal is the report's signal as a number: 0 for none (0, null, ""),
// -1 when it cannot be read. The contract names the field but not its
// JSON type, so a number and a name ("SIGKILL" or "KILL") are accepted.
func (r *report) signal() int {
	s := strings.TrimSpace(string(r.Signal))
	if s == "" || s == "null" || s == `""` || s == "0" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	var name string
	if json.Unmarshal(r.Signal, &name) == nil {
		name = strings.TrimPrefix(strings.ToUpper(name), "SIG")
		for n := 1; n < 65; n++ {
			if strings.TrimPrefix(sigName(syscall.Signal(n)), "SIG") == name {
				return n
			}
		}
	}
	return -1
}

func sigName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM",
		syscall.SIGWINCH: "SIGWINCH", syscall.SIGABRT: "SIGABRT", syscall.SIGUSR1: "SIGUSR1",
		syscall.SIGUSR2: "SIGUSR2", syscall.SIGALRM: "SIGALRM",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// runner runs sbx as a given user.
type runner struct {
	name     string
	uid, gid int
	cred     *syscall.Credential // nil: as the test process
}

func callerRunner() *runner {
	return &runner{name: "caller", uid: os.Getuid(), gid: os.Getgid()}
}

// unprivilegedUser is the system user the second battery runs sbx as.
const unprivilegedUser = "sbxtest"

// unprivilegedRunner returns a runner for sbxtest, creating the user when
// it is missing.
func unprivilegedRunner(t *testing.T) *runner {
	u, err := user.Lookup(unprivilegedUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
			"--shell", "/usr/sbin/nologin", unprivilegedUser).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v\n%s", unprivilegedUser, err, out)
		}
		if u, err = user.Lookup(unprivilegedUser); err != nil {
			t.Fatalf("user.Lookup(%q) after useradd: %v", unprivilegedUser, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &runner{
		name: unprivilegedUser, uid: uid, gid: gid,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false, Groups: []uint32{}},
	}
}

func (r *runner) root() bool { return r.uid == 0 }

// canLimit reports whether sbx run by r can be expected to apply a cgroup
// limit of the controller: as root when the host has the controller, as
// another user only when its cgroup is delegated to it. Otherwise sbx must
// refuse the spec with exit status 125.
func (r *runner) canLimit(controller string) bool {
	if r.root() {
		return hostHasController(controller)
	}
	return r.delegated()
}

// ownsCgroup reports whether sbx run by r can create a cgroup, which it
// needs to find every process of a sandbox that shares the host's pid
// namespace.
func (r *runner) ownsCgroup() bool {
	return r.root() || r.delegated()
}

// delegated reports whether the test process's cgroup v2 is owned by r's
// user, as systemd delegates a user session's cgroup.
func (r *runner) delegated() bool {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			var st syscall.Stat_t
			return syscall.Stat(filepath.Join("/sys/fs/cgroup", rest), &st) == nil && int(st.Uid) == r.uid
		}
	}
	return false
}

func hostHasController(controller string) bool {
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", controller, "cgroup.procs")); err == nil {
		return true // cgroup v1
	}
	for _, f := range []string{"/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/unified/cgroup.controllers"} {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(" "+string(b)+" ", " "+controller+" ") {
			return true
		}
	}
	return false
}

// tempDir is a fresh directory under env.base that r's user owns.
func (r *runner) tempDir(t *testing.T) string {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	dir, err := os.MkdirTemp(env.base, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, r.uid, r.gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeFile writes a file r's user owns.
func (r *runner) writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, r.uid, r.gid); err != nil {
		t.Fatal(err)
	}
}

func (r *runner) mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, r.uid, r.gid); err != nil {
		t.Fatal(err)
	}
}

// call says how to run sbx beyond the spec.
type call struct {
	report  bool          // pass --report FILE and read it
	dir     string        // working directory; "" means env.base
	specArg string        // the spec argument, when not the spec's absolute path
	specDir string        // where to write spec.json; "" means a new tempDir
	env     []string      // extra environment for sbx
	timeout time.Duration // how long sbx may run; 0 means 30s
	raw     string        // write this as the spec instead of marshalling
	extra   []*os.File    // passed to sbx as fds 3, 4, ...
}

// result is how sbx ended.
type result struct {
	code       int // exit status; -1 when sbx died of a signal itself
	stdout     string
	stderr     string
	wall       time.Duration
	report     *report
	reportText string
	specPath   string
	specText   string
}

func (res *result) String() string {
	s := fmt.Sprintf("sbx exited %d after %v\nspec %s:\n%s\nstdout:\n%s\nstderr:\n%s",
		res.code, res.wall.Round(time.Millisecond), res.specPath, res.specText, indent(res.stdout), indent(res.stderr))
	if res.reportText != "" {
		s += "\nreport:\n" + indent(res.reportText)
	}
	return s
}

func indent(s string) string {
	if s == "" {
		return "\t(empty)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}

// writeSpec writes s (or c.raw) as spec.json in c.specDir or a new
// directory and returns its path and text.
func (r *runner) writeSpec(t *testing.T, s Spec, c call) (string, string) {
	t.Helper()
	text := c.raw
	if text == "" {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		text = string(b)
	}
	dir := c.specDir
	if dir == "" {
		dir = r.tempDir(t)
	}
	path := filepath.Join(dir, "spec.json")
	r.writeFile(t, path, text, 0o644)
	return path, text
}

// command builds the sbx command for spec at path.
func (r *runner) command(ctx context.Context, path string, c call, reportPath string) *exec.Cmd {
	args := []string{"run"}
	if reportPath != "" {
		args = append(args, "--report", reportPath)
	}
	spec := path
	if c.specArg != "" {
		spec = c.specArg
	}
	cmd := exec.CommandContext(ctx, env.sbx, append(args, spec)...)
	cmd.Dir = env.base
	if c.dir != "" {
		cmd.Dir = c.dir
	}
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, c.env...)
	cmd.ExtraFiles = c.extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// sbx runs `sbx run spec.json` and returns how it ended. It fails the test
// only when sbx cannot be started or does not return in time.
func (r *runner) sbx(t *testing.T, s Spec, c call) *result {
	t.Helper()
	path, text := r.writeSpec(t, s, c)
	res := &result{specPath: path, specText: text}
	reportPath := ""
	if c.report {
		reportPath = filepath.Join(filepath.Dir(path), "report.json")
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := r.command(ctx, path, c, reportPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res.wall = time.Since(start)
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.code = exitCode(t, err, cmd)
	if ctx.Err() != nil {
		t.Fatalf("sbx did not return within %v; killed it\n%v", timeout, res)
	}
	if c.report {
		b, err := os.ReadFile(reportPath)
		res.reportText = string(b)
		if err == nil {
			res.report = &report{}
			if err := json.Unmarshal(b, res.report); err != nil {
				t.Fatalf("report %s is not JSON: %v\n%v", reportPath, err, res)
			}
		}
	}
	return res
}

func exitCode(t *testing.T, err error, cmd *exec.Cmd) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	case cmd.ProcessState != nil:
		return cmd.ProcessState.ExitCode()
	}
	t.Fatalf("running %v: %v", cmd.Args, err)
	return -1
}

// probeLines decodes the probe's JSON lines from stdout into vs, in order,
// failing the test when sbx did not exit want or the output is short.
func (res *result) probeLines(t *testing.T, want int, vs ...any) {
	t.Helper()
	if res.code != want {
		t.Fatalf("sbx exit status = %d, want %d\n%v", res.code, want, res)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) < len(vs) {
		t.Fatalf("probe printed %d lines, want %d\n%v", len(lines), len(vs), res)
	}
	for i, v := range vs {
		if err := json.Unmarshal([]byte(lines[i]), v); err != nil {
			t.Fatalf("probe line %d: %v\n%v", i+1, err, res)
		}
	}
}

// wantRefused checks that sbx refused to run: exit status 125 and one line
// on stderr, "sbx: ...", containing one of words.
func (res *result) wantRefused(t *testing.T, why string, words ...string) {
	t.Helper()
	if res.code != 125 {
		t.Fatalf("%s: sbx exit status = %d, want 125 (refused)\n%v", why, res.code, res)
	}
	msg := strings.TrimRight(res.stderr, "\n")
	if msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "sbx: ") {
		t.Errorf("%s: stderr = %q, want one line \"sbx: ...\"\n%v", why, res.stderr, res)
	}
	for _, w := range words {
		if strings.Contains(msg, w) {
			return
		}
	}
	if len(words) > 0 {
		t.Errorf("%s: stderr = %q, want it to name one of %q", why, msg, words)
	}
}

// running is a started sbx whose stdout the test reads line by line.
type running struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
	spec   string
	done   chan struct{}
	code   int
}

func (r *runner) start(t *testing.T, s Spec) *running {
	t.Helper()
	path, text := r.writeSpec(t, s, call{})
	cmd := r.command(context.Background(), path, call{}, "")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &running{cmd: cmd, lines: make(chan string, 100), stderr: &bytes.Buffer{}, spec: text, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sbx: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		p.code = exitCodeOf(cmd.Wait(), cmd)
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func exitCodeOf(err error, cmd *exec.Cmd) int {
	if err == nil {
		return 0
	}
	if cmd.ProcessState != nil {
		return cmd.ProcessState.ExitCode()
	}
	return -1
}

// waitLine waits for a stdout line containing want.
func (p *running) waitLine(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				t.Fatalf("sbx stdout ended before %q (exit status %d)\nstdout: %q\nstderr: %s\nspec: %s",
					want, p.code, seen, p.stderr, p.spec)
			}
			seen = append(seen, line)
			if strings.Contains(line, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q on sbx stdout within 15s\nstdout: %q\nstderr: %s\nspec: %s", want, seen, p.stderr, p.spec)
		}
	}
}

// wait waits for sbx to exit and returns its status and the rest of stdout.
func (p *running) wait(t *testing.T, timeout time.Duration) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		t.Fatalf("sbx did not exit within %v of the signal\nstderr: %s\nspec: %s", timeout, p.stderr, p.spec)
	}
	var rest []string
	for line := range p.lines {
		rest = append(rest, line)
	}
	return p.code, strings.Join(rest, "\n")
}

var markers atomic.Int64

// newMarker is a string unique to this test run, put in the command line
// of processes a test later looks for.
func newMarker() string {
	return fmt.Sprintf("sbxmark-%d-%d", os.Getpid(), markers.Add(1))
}

// markerPids lists the live (non-zombie) host processes whose command
// line contains marker.
func markerPids(marker string) []int {
	var pids []int
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		if st, err := os.ReadFile("/proc/" + d.Name() + "/stat"); err == nil && procState(st) == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// procState is the state field of /proc/PID/stat.
func procState(stat []byte) string {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+3 > len(stat) {
		return ""
	}
	return string(stat[i+2 : i+3])
}

// hostMounts is the test process's mount table.
func hostMounts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			out = append(out, f[4]+" "+strings.Join(f[3:4], ""))
		}
	}
	return out
}

// mountsUnder lists the host mount points at or under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, m := range hostMounts(t) {
		point, _, _ := strings.Cut(m, " ")
		if point == dir || strings.HasPrefix(point, dir+"/") {
			out = append(out, point)
		}
	}
	return out
}

// waitFile waits until path exists (a file a container or a hook makes).
func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 20 s", path)
		}
	}
}
