package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// helperEnv selects a helper role for the test binary run as a child.
const helperEnv = "SBX_CGROUP_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "alloc":
		helperAlloc()
	case "new":
		helperNew()
	}
	os.Exit(2)
}

// helperAlloc waits for a byte on stdin (the test has put it in the group
// by then), then touches up to 1 GiB, 1 MiB at a time, and exits 0 if it
// was not killed on the way.
func helperAlloc() {
	if _, err := os.Stdin.Read(make([]byte, 1)); err != nil {
		os.Exit(3)
	}
	var keep [][]byte
	for range 1024 {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("survived", len(keep))
	os.Exit(0)
}

// helperNew calls New as whoever runs it and prints the error; it exits 0
// only if New failed with ErrUnavailable.
func helperNew() {
	limit := int64(64 << 20)
	g, err := New(os.Getenv(helperEnv+"_NAME"), &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	if err == nil {
		g.Delete()
		fmt.Println("New succeeded")
		os.Exit(4)
	}
	fmt.Println(err)
	if !errors.Is(err, ErrUnavailable) {
		os.Exit(5)
	}
	os.Exit(0)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating cgroups and writing their limits")
	}
}

// hostOf is the host New would use.
func hostOf(t *testing.T) host {
	t.Helper()
	h, err := detect()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	return h
}

// v2Host is a cgroup2 hierarchy to test the v2 code on: /sys/fs/cgroup on
// a pure v2 host, /sys/fs/cgroup/unified on a hybrid one.
func v2Host(t *testing.T) host {
	t.Helper()
	if cgroups.Mode() == cgroups.Unified {
		return host{modeV2, mountRoot}
	}
	var st unix.Statfs_t
	root := filepath.Join(mountRoot, "unified")
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("no cgroup2 hierarchy at %s or %s", mountRoot, root)
	}
	return host{modeV2, root}
}

// newGroup creates a group and deletes it when the test ends, checking
// that nothing of it is left.
func newGroup(t *testing.T, h host, r *specs.LinuxResources) *Group {
	t.Helper()
	g, err := newIn(h, "", r)
	if err != nil {
		t.Fatalf("New(%+v) = %v", r, err)
	}
	t.Cleanup(func() {
		if err := g.Delete(); err != nil {
			t.Errorf("Delete() = %v", err)
		}
		assertGone(t, g.dirs...)
	})
	return g
}

func assertGone(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s = %v, want it gone", d, err)
		}
	}
}

// candidates are the directories New would create for name on host h:
// <own cgroup>/sbx-name in each v1 hierarchy, <parent>/sbx-name on v2.
func candidates(t *testing.T, h host, name string) []string {
	t.Helper()
	v1, v2, err := cgroups.ParseCgroupFileUnified(procSelfCgroup)
	if err != nil {
		t.Fatal(err)
	}
	if h.mode == modeV2 {
		return []string{filepath.Join(h.root, path.Dir(v2), prefix+name)}
	}
	var dirs []string
	for _, c := range v1Sandbox {
		if p, ok := v1[c]; ok {
			dirs = append(dirs, filepath.Join(h.root, c, p, prefix+name))
		}
	}
	return dirs
}

// uniqueName is a group name no other test run uses.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// gated starts cmd, whose first act is to read one line from stdin, adds
// it to g, and only then lets it go on.
func gated(t *testing.T, g *Group, cmd *exec.Cmd) {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add(%d) = %v", cmd.Process.Pid, err)
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	in.Close()
}

func helper(role string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role)
	return cmd
}

// cgroupFile reads a file of the group from whichever of its directories
// has it.
func cgroupFile(t *testing.T, g *Group, name string) string {
	t.Helper()
	for _, d := range g.dirs {
		if b, err := os.ReadFile(filepath.Join(d, name)); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no %s in %v", name, g.dirs)
	return ""
}

// keyed reads "key value" from a flat-keyed cgroup file.
func keyed(t *testing.T, content, key string) uint64 {
	t.Helper()
	for _, l := range strings.Split(content, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %q in %q", key, content)
	return 0
}

// pidfd opens pid, failing the test if it is already gone.
func pidfd(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d) = %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// exited reports whether the process behind pidfd fd exits within d.
func exited(fd int, d time.Duration) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, int(d/time.Millisecond))
	return err == nil && n == 1
}

func TestMemoryLimitOOM(t *testing.T) {
	requireRoot(t)
	limit := int64(96 << 20)
	g := newGroup(t, hostOf(t), mem(&limit, &limit))
	cmd := helper("alloc")
	gated(t, g, cmd)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 1 GiB under a %d MiB limit: Wait() = %v, want killed", limit>>20, err)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatalf("Stats() = %v", err)
	}
	if !st.OOMKilled {
		t.Errorf("Stats().OOMKilled = false, want true")
	}
	// The kernel charges a few pages beyond the limit before reclaiming.
	if st.PeakMemoryBytes < 16<<20 || st.PeakMemoryBytes > uint64(limit)+1<<20 {
		t.Errorf("Stats().PeakMemoryBytes = %d, want between 16 MiB and about the limit %d", st.PeakMemoryBytes, limit)
	}
	if st.UserTime+st.SystemTime == 0 {
		t.Errorf("Stats() CPU time = 0, want some")
	}
	if oom, peak, err := g.Memory(); err != nil || oom != st.OOMKilled || peak != st.PeakMemoryBytes {
		t.Errorf("Memory() = %v, %d, %v; want Stats()'s %v, %d", oom, peak, err, st.OOMKilled, st.PeakMemoryBytes)
	}
}

func TestUnlimitedGroupReportsPeak(t *testing.T) {
	requireRoot(t)
	g := newGroup(t, hostOf(t), nil)
	cmd := exec.Command("/bin/sh", "-c", "read x; head -c 8000000 /dev/zero | tail -c 1 >/dev/null")
	gated(t, g, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sh: %v", err)
	}
	st, err := g.Stats()
	if err != nil || st.OOMKilled || st.PeakMemoryBytes == 0 {
		t.Errorf("Stats() = %+v, %v, want a peak and no OOM kill", st, err)
	}
}

func TestPidsLimitStopsForkLoop(t *testing.T) {
	requireRoot(t)
	const limit = 4
	g := newGroup(t, hostOf(t), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(limit)}})
	// Forks 20 sleepers; the shell is one task, so the fourth fork fails.
	// The sleepers leave stderr, for Wait to return when the shell does.
	cmd := exec.Command("/bin/sh", "-c", "read x; i=0; while [ $i -lt 20 ]; do sleep 30 2>/dev/null & i=$((i+1)); done; wait")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	gated(t, g, cmd)
	if err := cmd.Wait(); err == nil {
		t.Errorf("fork loop under pids.max %d: exit 0, want a failed fork", limit)
	}
	t.Logf("shell said: %s", strings.TrimSpace(stderr.String()))
	if refused := keyed(t, cgroupFile(t, g, "pids.events"), "max"); refused == 0 {
		t.Errorf("pids.events max = 0, want forks refused (EAGAIN) by the limit")
	}
	pids, err := procsIn(g.dirs)
	if err != nil || len(pids) == 0 || len(pids) >= limit {
		t.Errorf("processes left = %v, %v, want 1 to %d sleepers", pids, err, limit-1)
	}
	if err := g.Kill(); err != nil {
		t.Errorf("Kill() = %v", err)
	}
}

func TestCPUQuota(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	quota, period := int64(20000), uint64(100000)
	g := newGroup(t, h, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &quota, Period: &period}})
	if h.mode == modeV1 {
		if q, p := cgroupFile(t, g, "cpu.cfs_quota_us"), cgroupFile(t, g, "cpu.cfs_period_us"); q != "20000" || p != "100000" {
			t.Errorf("cpu.cfs_quota_us, cpu.cfs_period_us = %s, %s, want 20000, 100000", q, p)
		}
	} else if m := cgroupFile(t, g, "cpu.max"); m != "20000 100000" {
		t.Errorf("cpu.max = %q, want \"20000 100000\"", m)
	}
	// A busy loop gets 20% of one CPU at most: it is throttled soon, and
	// uses far less CPU time than the time it ran.
	cmd := exec.Command("/bin/sh", "-c", "read x; while :; do :; done")
	start := time.Now()
	gated(t, g, cmd)
	throttled := uint64(0)
	for deadline := time.Now().Add(3 * time.Second); throttled < 3 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		throttled = keyed(t, cgroupFile(t, g, "cpu.stat"), "nr_throttled")
	}
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
	wall := time.Since(start)
	if throttled == 0 {
		t.Errorf("cpu.stat nr_throttled = 0 after %v, want the loop throttled", wall)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatalf("Stats() = %v", err)
	}
	if used := st.UserTime + st.SystemTime; used == 0 || used > wall/2 {
		t.Errorf("CPU time of a busy loop under a 20%% quota = %v in %v, want more than 0 and at most half", used, wall)
	}
}

// TestKillTree kills a shell, its child and a double-forked daemon that
// has left the shell's process tree but not its cgroup.
func TestKillTree(t *testing.T) {
	requireRoot(t)
	g := newGroup(t, hostOf(t), nil)
	script := `read x
sleep 1000 &
echo $!
setsid sh -c 'sleep 1000 & echo $!' </dev/null
echo ready
wait`
	cmd := exec.Command("/bin/sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	gated(t, g, cmd)
	fds := []int{pidfd(t, cmd.Process.Pid)}
	pids := []int{cmd.Process.Pid}
	for s := bufio.NewScanner(out); s.Scan() && s.Text() != "ready"; {
		pid, err := strconv.Atoi(s.Text())
		if err != nil {
			t.Fatalf("script said %q", s.Text())
		}
		fds, pids = append(fds, pidfd(t, pid)), append(pids, pid)
	}
	for _, pid := range pids {
		if !g.holds(pid) {
			t.Fatalf("pid %d is not in the group before Kill", pid)
		}
	}
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
	for i, fd := range fds {
		if !exited(fd, 2*time.Second) {
			t.Errorf("pid %d still runs after Kill", pids[i])
		}
	}
	if left, err := procsIn(g.dirs); err != nil || len(left) > 0 {
		t.Errorf("after Kill the group holds %v, %v, want nothing", left, err)
	}
	if err := cmd.Wait(); err == nil {
		t.Errorf("shell exited 0 after Kill, want killed")
	}
}

// TestDelete puts a process in a subgroup of every hierarchy, as a
// sandbox with its own cgroup namespace could, and deletes the group.
func TestDelete(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	name := uniqueName(t)
	g, err := newIn(h, name, nil)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	want := candidates(t, h, name)
	for _, d := range want {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("group directory: %v", err)
		}
	}
	cmd := exec.Command("/bin/sh", "-c", "read x; exec sleep 1000")
	gated(t, g, cmd)
	fd := pidfd(t, cmd.Process.Pid)
	for _, d := range g.dirs {
		sub := filepath.Join(d, "nested")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Delete(); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if !exited(fd, time.Second) {
		t.Errorf("the process in a subgroup survived Delete")
	}
	assertGone(t, want...)
	if err := g.Delete(); err != nil {
		t.Errorf("second Delete() = %v, want nil", err)
	}
	if _, err := g.Stats(); err == nil {
		t.Errorf("Stats() after Delete = nil error, want one")
	}
}

// TestPlacement checks where the kernel puts a member: on v1, below the
// caller's own cgroup in every hierarchy.
func TestPlacement(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	name := uniqueName(t)
	g, err := newIn(h, name, nil)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() { g.Delete() })
	cmd := exec.Command("/bin/sh", "-c", "read x; cat /proc/self/cgroup")
	var out strings.Builder
	cmd.Stdout = &out
	gated(t, g, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	v1, v2, err := cgroups.ParseCgroupFromReaderUnified(strings.NewReader(strings.TrimSpace(out.String())))
	if err != nil {
		t.Fatal(err)
	}
	self, selfV2, _ := cgroups.ParseCgroupFileUnified(procSelfCgroup)
	if h.mode == modeV2 {
		if want := path.Join(path.Dir(selfV2), prefix+name); v2 != want {
			t.Errorf("child's cgroup = %s, want %s", v2, want)
		}
		return
	}
	for _, c := range v1Sandbox {
		if p, ok := self[c]; ok {
			if want := path.Join(p, prefix+name); v1[c] != want {
				t.Errorf("child's %s cgroup = %s, want %s", c, v1[c], want)
			}
		}
	}
}

func TestNameCollision(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	name := uniqueName(t)
	g := mustNew(t, h, name)
	_, err := newIn(h, name, nil)
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second New(%q) = %v, want ErrExist", name, err)
	}
	for _, d := range g.dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("first group damaged by the second New: %v", err)
		}
	}
	cmd := exec.Command("/bin/sh", "-c", "read x")
	gated(t, g, cmd)
}

func mustNew(t *testing.T, h host, name string) *Group {
	t.Helper()
	g, err := newIn(h, name, nil)
	if err != nil {
		t.Fatalf("New(%q) = %v", name, err)
	}
	t.Cleanup(func() {
		if err := g.Delete(); err != nil {
			t.Errorf("Delete() = %v", err)
		}
	})
	return g
}

// TestNewLeavesNothingOnError fails New before and after it has created
// directories and checks that none is left.
func TestNewLeavesNothingOnError(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	tests := []struct {
		name string
		r    *specs.LinuxResources
		kind error
	}{
		{"refused by validation", mem(i64(64<<20), i64(1<<20)), ErrInvalid},
		{"not on this cgroup version", notOnMode(h), ErrNotSupported},
		// Valid here, refused by the kernel (above max_cfs_runtime)
		// once the group's directories exist.
		{"refused by the kernel", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(1 << 50)}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := uniqueName(t)
			_, err := newIn(h, name, tt.r)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("New(%+v) = %v, want %v", tt.r, err, tt.kind)
			}
			t.Log(err)
			assertGone(t, candidates(t, h, name)...)
		})
	}
}

// notOnMode is a resource that h's cgroup version cannot apply.
func notOnMode(h host) *specs.LinuxResources {
	if h.mode == modeV1 {
		return &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}
	}
	return &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}}
}

func TestBadName(t *testing.T) {
	if _, err := newIn(hostOf(t), "../escape", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("New(\"../escape\") = %v, want ErrInvalid", err)
	}
}

// TestUnprivileged runs New as nobody, who may not write the cgroup tree.
func TestUnprivileged(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	// nobody must be able to run a copy of the test binary.
	dir, err := os.MkdirTemp("", "cgroup-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "cgroup.test")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=new", helperEnv+"_NAME="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("New as nobody: %s (%v), want ErrUnavailable", out, err)
	}
	if !strings.Contains(string(out), "run as root") {
		t.Errorf("New as nobody = %s, want a hint to run as root", out)
	}
	t.Logf("as nobody: %s", out)
	assertGone(t, candidates(t, h, name)...)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// TestV2 runs the v2 code on a cgroup2 hierarchy: on a hybrid host one
// with no controller for limits, which exercises creation, CLONE_INTO_CGROUP,
// Add, cgroup.kill, the freeze-and-signal fallback and Delete.
func TestV2(t *testing.T) {
	requireRoot(t)
	h := v2Host(t)
	g := newGroup(t, h, nil)
	if g.Mode() != modeV2 || g.Dir() == nil {
		t.Fatalf("Mode(), Dir() = %q, %v, want v2 and a directory", g.Mode(), g.Dir())
	}
	rel := strings.TrimPrefix(g.dirs[0], h.root)

	t.Run("CLONE_INTO_CGROUP", func(t *testing.T) {
		cmd := exec.Command("/bin/cat", "/proc/self/cgroup")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(g.Dir().Fd())}
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Split(string(out), "\n"), "0::"+rel) {
			t.Errorf("child's /proc/self/cgroup = %q, want a line 0::%s", out, rel)
		}
	})

	t.Run("Add and cgroup.kill", func(t *testing.T) {
		cmd := exec.Command("/bin/sh", "-c", "read x; sleep 1000 & setsid sleep 1000 & wait")
		gated(t, g, cmd)
		fd := pidfd(t, cmd.Process.Pid)
		waitProcs(t, g, 3)
		if err := g.Kill(); err != nil {
			t.Fatalf("Kill() = %v", err)
		}
		if !exited(fd, time.Second) {
			t.Errorf("shell survived Kill")
		}
		if left, _ := procsIn(g.dirs); len(left) > 0 {
			t.Errorf("after Kill the group holds %v", left)
		}
	})

	t.Run("freeze and signal", func(t *testing.T) {
		cmd := exec.Command("/bin/sh", "-c", "read x; sleep 1000 & wait")
		gated(t, g, cmd)
		fd := pidfd(t, cmd.Process.Pid)
		waitProcs(t, g, 2)
		g.mu.Lock()
		err := g.signalAll(unix.SIGKILL, true)
		g.mu.Unlock()
		if err != nil {
			t.Fatalf("signalAll() = %v", err)
		}
		if !exited(fd, time.Second) {
			t.Errorf("shell survived signalAll")
		}
		if state := keyed(t, cgroupFile(t, g, "cgroup.events"), "frozen"); state != 0 {
			t.Errorf("cgroup.events frozen = %d after signalAll, want thawed", state)
		}
	})

	if _, err := g.Stats(); err != nil {
		t.Errorf("Stats() = %v", err)
	}
}

// waitProcs waits until the group holds n processes.
func waitProcs(t *testing.T, g *Group, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if pids, _ := procsIn(g.dirs); len(pids) == n {
			return
		}
	}
	pids, _ := procsIn(g.dirs)
	t.Fatalf("group holds %v, want %d processes", pids, n)
}

// TestV2MissingController asks the v2 code for a limit whose controller
// the hierarchy does not offer.
func TestV2MissingController(t *testing.T) {
	requireRoot(t)
	h := v2Host(t)
	if h.root == mountRoot {
		t.Skip("pure cgroup v2 host: pids is offered")
	}
	name := uniqueName(t)
	_, err := newIn(h, name, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "pids") {
		t.Fatalf("New(pids limit) on %s = %v, want ErrUnavailable naming pids", h.root, err)
	}
	t.Log(err)
	assertGone(t, candidates(t, h, name)...)
}

func TestSwapAccounted(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "memory.swap.max")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	swapsOff := filepath.Join(dir, "swaps-off")
	swapsOn := filepath.Join(dir, "swaps-on")
	header := "Filename\tType\tSize\tUsed\tPriority\n"
	os.WriteFile(swapsOff, []byte(header), 0o644)
	os.WriteFile(swapsOn, []byte(header+"/swapfile file 1048572 0 -2\n"), 0o644)
	absent := filepath.Join(dir, "absent")
	tests := []struct {
		file, swaps string
		want        bool
		kind        error
	}{
		{present, swapsOn, true, nil},
		{absent, swapsOff, false, nil},
		{absent, swapsOn, false, ErrUnavailable},
	}
	defer func(old string) { procSwaps = old }(procSwaps)
	for _, tt := range tests {
		procSwaps = tt.swaps
		got, err := swapAccounted(tt.file, "hint")
		if got != tt.want || !errors.Is(err, tt.kind) || (tt.kind == nil) != (err == nil) {
			t.Errorf("swapAccounted(%s) with %s = %v, %v, want %v, %v", filepath.Base(tt.file), filepath.Base(tt.swaps), got, err, tt.want, tt.kind)
		}
	}
}

// TestNewInPIDNamespace: on v1 the group is in memory and cpuacct but not
// in the freezer hierarchy, and still deletes cleanly; on v2 it is New's.
func TestNewInPIDNamespace(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	g, err := newInSpot(h, uniqueName(t), nil, true)
	if err != nil {
		t.Fatalf("NewInPIDNamespace() = %v", err)
	}
	dirs := g.Ref().Dirs
	if h.mode == modeV1 {
		if _, ok := dirs["freezer"]; ok {
			t.Errorf("group dirs %v include the freezer hierarchy", dirs)
		}
		if dirs["memory"] == "" {
			t.Errorf("group dirs %v lack the memory hierarchy", dirs)
		}
	}
	if err := g.Kill(); err != nil {
		t.Errorf("Kill() of an empty group = %v", err)
	}
	if err := g.Delete(); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is still there after Delete", d)
		}
	}
}

// TestSweep: New deletes the groups beside its own whose maker is gone (a
// pid now naming a process that started at another time), killing what
// they hold, and leaves alone those of a live maker or of another pid
// namespace, on v1 and v2.
func TestSweep(t *testing.T) {
	requireRoot(t)
	me, ok := selfOwner()
	if !ok {
		t.Fatal("selfOwner() failed: /proc is not this pid namespace's")
	}
	hosts := map[string]host{"host": hostOf(t), "v2": v2Host(t)}
	for name, h := range hosts {
		t.Run(name, func(t *testing.T) {
			named := func(o owner, seq int) *Group {
				g, err := newIn(h, fmt.Sprintf("%d-%d-%d-%d", o.ns, o.pid, o.start, seq), nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { g.Delete() })
				return g
			}
			// Made last: each New sweeps.
			live := named(me, 1<<40)
			foreign := named(owner{me.ns + 1, 1, 1}, 1)
			stale := named(owner{me.ns, me.pid, me.start + 1}, 1)
			sleeper := exec.Command("sleep", "100")
			gated(t, stale, sleeper)
			done := make(chan error, 1)
			go func() { done <- sleeper.Wait() }()

			newGroup(t, h, nil)
			assertGone(t, stale.dirs...)
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("the stale group's process exited 0, want it killed")
				}
			case <-time.After(5 * time.Second):
				sleeper.Process.Kill()
				t.Errorf("the stale group's process still runs after the sweep")
			}
			for _, d := range append(live.dirs, foreign.dirs...) {
				if _, err := os.Stat(d); err != nil {
					t.Errorf("%s: %v; a live maker's or another namespace's group must stay", d, err)
				}
			}
		})
	}
}

func TestParseOwner(t *testing.T) {
	o := owner{4026531836, 1234, 5678}
	for _, tt := range []struct {
		name string
		want bool
	}{
		{fmt.Sprintf("sbx-%d-%d-%d-9", o.ns, o.pid, o.start), true},
		{"sbx-1-2-3", false},
		{"sbx-1-2-3-4-5", false},
		{"sbx-a-2-3-4", false},
		{"test-1-2-3-4", false},
		{"sbx-0123456789abcdef", false},
	} {
		got, ok := parseOwner(tt.name)
		if ok != tt.want || ok && got != o {
			t.Errorf("parseOwner(%q) = %v, %v; want ok=%v", tt.name, got, ok, tt.want)
		}
	}
}
