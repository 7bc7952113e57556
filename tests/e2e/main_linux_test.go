package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// env is what TestMain found, shared by every test.
var env struct {
	base    string // a private temporary directory, removed at exit
	repo    string // the repository's root
	argvLog string // $SBX_E2E_ARGV_LOG; "" means calls are kept per test only
}

func TestMain(m *testing.M) {
	flag.Parse()
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(env.base)
	os.Exit(code)
}

func setup() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	env.repo = filepath.Dir(filepath.Dir(wd)) // go test runs in tests/e2e
	env.argvLog = os.Getenv("SBX_E2E_ARGV_LOG")
	env.base, err = os.MkdirTemp("", "sbx-e2e-")
	return err
}

// runtimePath is the runtime under test: $SBX_E2E_RUNTIME, a path or a
// name on $PATH (runc and crun are installed when missing), or else the
// sbx built from this repository.
func runtimePath(t *testing.T) string {
	t.Helper()
	rt := os.Getenv("SBX_E2E_RUNTIME")
	if rt == "" {
		return repoSbx(t)
	}
	if rt == "runc" || rt == "crun" {
		install(t, []string{rt}, rt)
	}
	p, err := exec.LookPath(rt)
	if err != nil {
		t.Fatalf("SBX_E2E_RUNTIME: %v", err)
	}
	if p, err = filepath.Abs(p); err != nil {
		t.Fatal(err)
	}
	return p
}

var sbx struct {
	once sync.Once
	path string
	err  error
}

// repoSbx is sbx built from the source into env.base (never a bin/sbx
// that may be stale).
func repoSbx(t *testing.T) string {
	t.Helper()
	sbx.once.Do(func() {
		sbx.path = filepath.Join(env.base, "bin", "sbx")
		cmd := exec.Command(goTool(), "build", "-o", sbx.path, "sbx.dev/sbx/cmd/sbx")
		cmd.Dir = env.repo
		if out, err := cmd.CombinedOutput(); err != nil {
			sbx.err = fmt.Errorf("go build sbx: %v\n%s", err, out)
		}
	})
	if sbx.err != nil {
		t.Fatal(sbx.err)
	}
	return sbx.path
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

// requireRoot skips t unless the test runs as root: the engines run their
// containers as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("the engines need root: run the tests as root")
	}
}

var aptMu sync.Mutex

// install makes sure every command in cmds is on $PATH, installing pkgs
// with apt-get when one is missing (after `apt-get update` when the first
// attempt fails).
func install(t *testing.T, pkgs []string, cmds ...string) {
	t.Helper()
	aptMu.Lock()
	defer aptMu.Unlock()
	if missing(cmds) == "" {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skipf("%s is missing and there is no apt-get to install %s", missing(cmds), strings.Join(pkgs, " "))
	}
	inst := append([]string{"install", "-y", "-qq"}, pkgs...)
	if _, err := apt(inst...); err != nil {
		if out, err := apt("update", "-qq"); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, out)
		}
		if out, err := apt(inst...); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(inst, " "), err, out)
		}
	}
	if m := missing(cmds); m != "" {
		t.Fatalf("%s is still missing after installing %s", m, strings.Join(pkgs, " "))
	}
}

func apt(args ...string) ([]byte, error) {
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// missing is the first of cmds not on $PATH, or "".
func missing(cmds []string) string {
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			return c
		}
	}
	return ""
}

// result is how a client command ended.
type result struct {
	args []string
	out  string // stdout and stderr, interleaved
	code int    // exit status; -1 when killed by a signal or not started
	err  error  // why it did not exit 0, if it did not
	wall time.Duration
}

func (r *result) String() string {
	return fmt.Sprintf("%s: exit status %d after %v\n%s", shellQuote(r.args), r.code,
		r.wall.Round(time.Millisecond), indent(r.out))
}

// command is a client command with its process group killed when ctx ends.
func command(ctx context.Context, envv []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), envv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a client command to its end, for at most timeout.
func run(timeout time.Duration, envv []string, name string, args ...string) *result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := command(ctx, envv, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	res := &result{args: cmd.Args, out: out.String(), wall: time.Since(start), err: err}
	res.code = exitCode(err, cmd)
	if ctx.Err() != nil {
		res.err = fmt.Errorf("killed after %v: %w", timeout, ctx.Err())
	}
	return res
}

func exitCode(err error, cmd *exec.Cmd) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	case cmd.ProcessState != nil:
		return cmd.ProcessState.ExitCode()
	}
	return -1
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+:,./@%") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func indent(s string) string {
	if s == "" {
		return "\t(empty)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountsUnder lists the mount points at or under dir in the mount
// namespace of process pid ("self" for the tests' own).
func mountsUnder(t *testing.T, pid, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		point := unescapeMount(f[4])
		if point == dir || strings.HasPrefix(point, dir+"/") {
			out = append(out, point)
		}
	}
	return out
}

// unescapeMount undoes the octal escapes of mountinfo (proc(5)).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pidsWith lists the live processes whose command line contains every
// one of words.
func pidsWith(words ...string) []int {
	var pids []int
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		all := true
		for _, w := range words {
			all = all && bytes.Contains(b, []byte(w))
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAll sends SIGKILL to pids and waits up to 5s for them to go.
func killAll(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	eventually(5*time.Second, func() bool {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				return false
			}
		}
		return true
	})
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+3 > len(b) || b[i+2] == 'Z'
}

// mountNS is a mount namespace private to one test, with a new tmpfs on
// each of a few directories, held by a process that sleeps until the test
// ends. What is mounted in it vanishes when its last process exits.
type mountNS struct {
	cmd  *exec.Cmd
	path string // /proc/PID/ns/mnt, for nsenter --mount
}

// newMountNS makes a mount namespace with a tmpfs on each of dirs.
func newMountNS(t *testing.T, dirs ...string) *mountNS {
	t.Helper()
	script := "set -e\n"
	for _, d := range dirs {
		mode := "0755"
		if d == "/dev/shm" || d == "/var/tmp" {
			mode = "1777"
		}
		script += "mount -t tmpfs -o mode=" + mode + " tmpfs " + shellQuote([]string{d}) + "\n"
	}
	cmd := exec.Command("sh", "-c", script+"echo ready\nexec sleep infinity\n")
	// Go makes / recursively private in the new namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a mount namespace: %v", err)
	}
	ns := &mountNS{cmd: cmd, path: fmt.Sprintf("/proc/%d/ns/mnt", cmd.Process.Pid)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	b := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(out, b); err != nil || string(b) != "ready\n" {
		t.Fatalf("making a mount namespace with a tmpfs on %q: %s", dirs, stderr.Bytes())
	}
	return ns
}

// pid is the holding process's ID, as /proc names it.
func (ns *mountNS) pid() string { return strconv.Itoa(ns.cmd.Process.Pid) }

// removeCgroups removes the empty cgroup directories named rel (a path
// below a hierarchy's root) in every hierarchy, children first.
func removeCgroups(rel string) {
	for _, d := range cgroupsNamed(rel) {
		var all []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			os.Remove(all[i])
		}
	}
}

// cgroupsNamed lists the cgroup directories named rel in any hierarchy.
func cgroupsNamed(rel string) []string {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", rel))
	more, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", rel))
	return append(dirs, more...)
}

// hardLimit is the hard limit of resource as podman's ulimit syntax
// writes it: a number, or -1 for unlimited.
func hardLimit(t *testing.T, resource int) string {
	t.Helper()
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		t.Fatalf("getrlimit(%d): %v", resource, err)
	}
	if rl.Max == unix.RLIM_INFINITY {
		return "-1"
	}
	return strconv.FormatUint(rl.Max, 10)
}
