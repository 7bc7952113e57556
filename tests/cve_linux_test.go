package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"
	"sbx.dev/sbx/spec"
)

// The tests of this file replay known escapes from runc against sbx driven
// as an OCI runtime (create/start/exec with a bundle). Each one plays the
// attacker: a static helper program (tests/cvehelper, built once) runs in
// the container and reports what it could reach, and the host checks that
// nothing outside the container changed: the sbx binary, sentinel files
// and directories made for the test, /proc/sys/kernel/core_pattern and
// the host's mount table. None of them is parallel: they compare the
// host's mount table before and after.

// TestCVE2019_5736: runc's host binary could be overwritten from a
// container. `runc exec` ran runc itself inside the container until the
// final execve; a container process opened /proc/PID/exe of it (O_PATH),
// waited for runc to exit and reopened the descriptor for writing through
// /proc/self/fd, then wrote a payload the next runc run as host root. The
// published exploits made runc execute itself in the container with an
// image whose program is "#!/proc/self/exe" (or is /proc/self/exe).
//
// The container's init here is the attacker: for the whole test it opens
// /proc/PID/exe of every process in the container (a readdir of /proc and
// a spin on the next pids), tries each for writing, keeps an O_PATH
// descriptor of any that is the sbx binary and keeps reopening it for
// writing. Meanwhile the test runs `sbx exec` with an ordinary program,
// with a "#!/proc/self/exe --version" script and with /proc/self/exe; the
// root carries sbx's ELF interpreter and libraries, so the sbx binary can
// really run there. A vulnerable runtime lets one of those opens succeed.
// The test also checks that /proc/self/exe of the container's processes
// is their own program, and that the sbx binary's checksum is unchanged.
func TestCVE2019_5736(t *testing.T) {
	o := newOCI(t)
	sum := cveSum(t, env.sbx)
	dev, ino := cveFileID(t, env.sbx)
	rootfs := cveRootfs(t)
	cveRuntimeLibs(t, rootfs)
	cveWrite(t, filepath.Join(rootfs, "bin/evil"), "#!/proc/self/exe --version\n", 0o755)
	out := cveOutDir(t)
	b := o.bundle(func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Mounts = append(s.Mounts, cveOutMount(out))
	}, "/cve/helper", "watch", strconv.FormatUint(dev, 10), strconv.FormatUint(ino, 10), "/cve-out")
	ctr := id("cve-2019-5736")
	o.cleanup(ctr)
	o.must("create", "--bundle", b, ctr)
	o.must("start", ctr)
	waitFile(t, filepath.Join(out, "ready"))
	if got := strings.TrimSpace(cveMust(o, "exec", ctr, "readlink", "/proc/self/exe")); got != "/bin/busybox" {
		t.Errorf("/proc/self/exe of an exec'd readlink = %q, want /bin/busybox (the container's program)", got)
	}
	ranInside := 0
	for i := 0; i < 8; i++ {
		for _, args := range [][]string{{"/bin/evil"}, {"/proc/self/exe", "--version"}} {
			stdout, _, _ := o.runFiles(nil, append([]string{"exec", ctr}, args...)...)
			if strings.HasPrefix(stdout, "sbx version") {
				ranInside++
			}
		}
		cveMust(o, "exec", ctr, "true")
	}
	w := cveStopWatch(t, out) // the watcher, the container's init, then exits
	if w.SelfExe != "/cve/helper" {
		t.Errorf("/proc/self/exe of the container's init = %q, want /cve/helper", w.SelfExe)
	}
	if w.WritableCount > 0 {
		t.Errorf("the container opened the sbx binary for writing %d times, e.g. %q", w.WritableCount, w.Writable)
	}
	if got := cveSum(t, env.sbx); got != sum {
		t.Errorf("sha256 of %s = %s after the test, want %s (unchanged)", env.sbx, got, sum)
	}
	t.Logf("the sbx binary ran inside the container %d times out of 16; the watcher saw it as a process's exe %d times, the kernel denied %d probes; %d loops",
		ranInside, w.RuntimeSeen, w.Denied, w.Loops)
	if ranInside == 0 || w.RuntimeSeen == 0 || w.Loops == 0 {
		t.Errorf("the attack never reached the sbx binary (ran inside %d times, seen %d times, %d loops): the checks above proved nothing", ranInside, w.RuntimeSeen, w.Loops)
	}
	if len(w.OtherWritable) > 0 {
		t.Logf("programs of other container processes opened for writing (the container's own files): %v", w.OtherWritable)
	}
}

// TestCVE2019_5736StartHook is TestCVE2019_5736 for `sbx start`, whose
// startContainer hooks run in the container's namespaces, their path
// resolved in its root: a hook that is a "#!/proc/self/exe" script there
// runs the binary of the `sbx start` that made it. A watcher exec'd into
// the created container (before start, so it is there when the hook runs)
// tries that binary for writing, as in TestCVE2019_5736.
func TestCVE2019_5736StartHook(t *testing.T) {
	o := newOCI(t)
	// start runs from a copy of sbx of its own: the keepers of create and
	// exec map env.sbx for as long as the container lives, which keeps
	// that file busy (ETXTBSY) and would hide the hole this test looks for.
	starter := filepath.Join(t.TempDir(), "sbx-start")
	cveCopy(t, env.sbx, starter, 0o755)
	sum := cveSum(t, starter)
	dev, ino := cveFileID(t, starter)
	rootfs := cveRootfs(t)
	cveRuntimeLibs(t, rootfs)
	cveWrite(t, filepath.Join(rootfs, "bin/evil"), "#!/proc/self/exe --version\n", 0o755)
	seen, writable := 0, 0
	for i := 0; i < 6; i++ {
		out := cveOutDir(t)
		b := o.bundle(func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Mounts = append(s.Mounts, cveOutMount(out))
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/evil"}}}
			// A privileged container: with fewer capabilities than the
			// hook, the watcher could not open its /proc/PID/exe at all
			// (ptrace access checks), which would hide the binary.
			all := cveAllCaps(t)
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
		}, "sleep", "1000")
		ctr := id(fmt.Sprintf("cve-2019-5736-start-%d", i))
		o.cleanup(ctr)
		o.must("create", "--bundle", b, ctr)
		cveMust(o, "exec", "--detach", ctr, "/cve/helper", "watch", strconv.FormatUint(dev, 10), strconv.FormatUint(ino, 10), "/cve-out")
		waitFile(t, filepath.Join(out, "ready"))
		if out, err := exec.Command(starter, "--root", o.root, "start", ctr).CombinedOutput(); err != nil {
			t.Fatalf("%s start %s: %v\n%s", starter, ctr, err, out)
		}
		// The binary is busy (ETXTBSY) while a process runs it: the
		// watcher's chance is once start and its hook have exited.
		time.Sleep(300 * time.Millisecond)
		w := cveStopWatch(t, out)
		seen += w.RuntimeSeen
		writable += w.WritableCount
		if w.WritableCount > 0 {
			t.Errorf("the container opened the binary of sbx start for writing %d times, e.g. %q", w.WritableCount, w.Writable)
		}
		o.must("delete", "--force", ctr)
	}
	if got := cveSum(t, starter); got != sum {
		t.Errorf("sha256 of %s = %s after the test, want %s (unchanged)", starter, got, sum)
	}
	t.Logf("the watchers saw the binary of sbx start as a process's exe %d times; %d opened it for writing", seen, writable)
	if seen == 0 {
		t.Errorf("the watchers never saw the binary of sbx start run in the container: the check above proved nothing")
	}
}

// cveAllCaps names every capability in the test's bounding set, the most
// a container started by it can have.
func cveAllCaps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var bnd uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			if bnd, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	var caps []string
	for i, name := range spec.CapabilityNames() {
		if bnd&(1<<i) != 0 {
			caps = append(caps, name)
		}
	}
	return caps
}

// cveRefused reports whether sbx refused a bundle (exit 1 with its error
// line) rather than ran it (exit 0); any other status, such as the
// helper's own failure inside the container, fails the test.
func cveRefused(t *testing.T, code int, errs string) bool {
	t.Helper()
	switch {
	case code == 0:
		return false
	case code == 1 && strings.Contains(errs, "level=error"):
		t.Logf("sbx refused the bundle: %s", strings.TrimSpace(errs))
		return true
	}
	t.Fatalf("sbx: exit %d, neither success nor a refusal: %s", code, strings.TrimSpace(errs))
	return false
}

// TestCVE2016_9962: runc init joined the container before it was done and
// stayed dumpable, so a process already in the container could ptrace it
// during `runc exec` and take its file descriptors and memory. sbx's
// process between clone and execve shares the memory of the sbx process
// on the host (CLONE_VM) and is born in the container's pid namespace, so
// attach-level access to it would hand the container the host runtime.
//
// A created container's init waits at its gate as a clone of sbx: an exec'd
// process must neither open its exe nor its mem. Then a watcher, the init
// of a running container, spins on the next pids of the container's pid
// namespace while the test runs `sbx exec` of an ordinary program many
// times. The kernel may refuse to show it a process (that is the point);
// the test fails if it ever sees the sbx binary as a process's exe, or
// opens /proc/PID/mem (PTRACE_MODE_ATTACH) of a process running it, and at
// the end the container's /proc must list only its init.
func TestCVE2016_9962(t *testing.T) {
	o := newOCI(t)
	dev, ino := cveFileID(t, env.sbx)
	devArg, inoArg := strconv.FormatUint(dev, 10), strconv.FormatUint(ino, 10)
	rootfs := cveRootfs(t)

	gated := o.bundle(func(s *specs.Spec) { s.Root.Path = rootfs }, "sleep", "1000")
	c1 := id("cve-2016-9962-gated")
	o.cleanup(c1)
	o.must("create", "--bundle", gated, c1)
	if stdout, errs, code := o.run("exec", c1, "/cve/helper", "peek", devArg, inoArg, "1"); code != 0 {
		t.Logf("exec into a created container: exit %d, %s (nothing to peek from)", code, errs)
	} else {
		var p cvePeek
		if err := json.Unmarshal([]byte(stdout), &p); err != nil {
			t.Fatalf("helper peek: %v: %q", err, stdout)
		}
		if p.Exe == "runtime" || p.Mem == "OK" {
			t.Errorf("a process exec'd into a created container reached the init waiting at its gate: /proc/1/exe %s, /proc/1/mem %s; want both refused", p.Exe, p.Mem)
		}
		t.Logf("created container: an exec'd process opening /proc/1/exe: %s, /proc/1/mem: %s", p.Exe, p.Mem)
	}
	o.must("delete", "--force", c1)

	out := cveOutDir(t)
	b := o.bundle(func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Mounts = append(s.Mounts, cveOutMount(out))
	}, "/cve/helper", "watch", devArg, inoArg, "/cve-out")
	ctr := id("cve-2016-9962")
	o.cleanup(ctr)
	o.must("create", "--bundle", b, ctr)
	o.must("start", ctr)
	waitFile(t, filepath.Join(out, "ready"))
	for i := 0; i < 40; i++ {
		cveMust(o, "exec", ctr, "true")
	}
	w := cveStopWatch(t, out) // the watcher, the container's init, then exits
	if w.RuntimeSeen > 0 {
		t.Errorf("a container process saw the sbx binary as the exe of a process of its pid namespace %d times (e.g. %v): the runtime's pre-exec child is reachable from the container",
			w.RuntimeSeen, w.Runtime)
	}
	if w.MemCount > 0 {
		t.Errorf("the container opened the memory of a process running sbx (shared with the sbx process on the host) read-write %d times, e.g. %v: ptrace attach access to the runtime",
			w.MemCount, w.Mem)
	}
	if w.WritableCount > 0 {
		t.Errorf("the container opened the sbx binary for writing %d times, e.g. %q", w.WritableCount, w.Writable)
	}
	if !slices.Equal(w.PidsAtEnd, []int{1}) {
		t.Errorf("/proc of the container after the execs lists pids %v, want [1]", w.PidsAtEnd)
	}
	t.Logf("40 execs: the kernel refused %d probes of %d pids (%v); %d loops", w.Denied, len(w.DeniedPids), w.DeniedPids, w.Loops)
}

// TestCVE2024_21626 ("Leaky Vessels"): runc leaked a descriptor of the
// host's /sys/fs/cgroup into `runc init`, and a process.cwd such as
// /proc/self/fd/7 (from an image's WORKDIR or `runc exec --cwd`) made the
// container's process start with a working directory on the host, outside
// its root, from which ../.. reached the host's /.
//
// sbx is given extra host descriptors (a sentinel directory and the
// host's /) that it must not pass on: the container's init and an exec'd
// process list /proc/self/fd and must find only 0, 1 and 2 (and exactly
// the descriptor passed with --preserve-fds, when one is). A cwd of
// /proc/self/fd/N for N in 3..9 must make create or exec fail, or leave
// the process in a directory from which ".." leads to the container's own
// "/" (walked inside with openat("..") until it stops). And the host's
// view of a process's cwd must be the directory inside the rootfs.
func TestCVE2024_21626(t *testing.T) {
	o := newOCI(t)
	rootfs := cveRootfs(t)
	sentinelDir, _ := cveSentinels(t)
	secret, err := os.Open(sentinelDir)
	if err != nil {
		t.Fatal(err)
	}
	defer secret.Close()
	hostRoot, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer hostRoot.Close()
	leaks := []*os.File{secret, hostRoot}
	forbidden := map[[2]uint64]string{}
	for _, f := range leaks {
		dev, ino := cveFileID(t, f.Name())
		forbidden[[2]uint64{dev, ino}] = f.Name()
	}
	checkFDs := func(t *testing.T, what string, r cveFDs, preserved ...*os.File) {
		t.Helper()
		want := []int{0, 1, 2}
		for i := range preserved {
			want = append(want, 3+i)
		}
		var got []int
		for _, fd := range r.FDs {
			got = append(got, fd.FD)
			if name, ok := forbidden[[2]uint64{fd.Dev, fd.Ino}]; ok {
				t.Errorf("%s: fd %d is the host's %s (%s)", what, fd.FD, name, fd.Target)
			}
			if i := fd.FD - 3; i >= 0 && i < len(preserved) {
				if dev, ino := cveFileID(t, preserved[i].Name()); fd.Dev != dev || fd.Ino != ino {
					t.Errorf("%s: fd %d -> %q (dev %d ino %d), want the preserved %s", what, fd.FD, fd.Target, fd.Dev, fd.Ino, preserved[i].Name())
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: open fds %v, want %v: %+v", what, got, want, r.FDs)
		}
		if !r.CwdInRoot {
			t.Errorf("%s: the working directory %q is outside the container's root: %s", what, r.Cwd, r.CwdWhy)
		}
		if r.Exe != "/cve/helper" {
			t.Errorf("%s: /proc/self/exe = %q, want /cve/helper", what, r.Exe)
		}
	}
	parse := func(t *testing.T, what, stdout string) cveFDs {
		t.Helper()
		var r cveFDs
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%s: helper fds: %v: %q", what, err, stdout)
		}
		return r
	}
	withCwd := func(cwd string) string {
		return o.bundle(func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Process.Cwd = cwd
		}, "/cve/helper", "fds")
	}

	t.Run("init", func(t *testing.T) {
		stdout, errs, code := o.runFiles(leaks, "run", "--bundle", withCwd("/"), id("cve-21626-init"))
		if code != 0 {
			t.Fatalf("sbx run: exit %d: %s", code, errs)
		}
		checkFDs(t, "init", parse(t, "init", stdout))
	})
	t.Run("preserved", func(t *testing.T) {
		keep := o.tempFile()
		defer keep.Close()
		files := append([]*os.File{keep}, leaks...)
		stdout, errs, code := o.runFiles(files, "run", "--preserve-fds", "1", "--bundle", withCwd("/"), id("cve-21626-keep"))
		if code != 0 {
			t.Fatalf("sbx run --preserve-fds 1: exit %d: %s", code, errs)
		}
		checkFDs(t, "init with --preserve-fds 1", parse(t, "preserved", stdout), keep)
	})

	running := o.bundle(func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Process.Cwd = "/tmp"
	}, "sleep", "1000")
	ctr := id("cve-21626")
	o.cleanup(ctr)
	o.must("create", "--bundle", running, ctr)
	o.must("start", ctr)
	o.waitStatus(ctr, specs.StateRunning)
	t.Run("exec", func(t *testing.T) {
		stdout, errs, code := o.runFiles(leaks, "exec", ctr, "/cve/helper", "fds")
		if code != 0 {
			t.Fatalf("sbx exec: exit %d: %s", code, errs)
		}
		r := parse(t, "exec", stdout)
		checkFDs(t, "exec", r)
		if r.Cwd != "/tmp" {
			t.Errorf("exec: readlink /proc/self/cwd = %q, want /tmp (process.cwd)", r.Cwd)
		}
	})
	t.Run("host view of cwd", func(t *testing.T) {
		pid := o.state(ctr).Pid
		var got, want unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/cwd", pid), &got); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat(filepath.Join(rootfs, "tmp"), &want); err != nil {
			t.Fatal(err)
		}
		if got.Dev != want.Dev || got.Ino != want.Ino {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
			t.Errorf("the host sees the init's cwd as %q (dev %d ino %d), want %s/tmp (dev %d ino %d)", link, got.Dev, got.Ino, rootfs, want.Dev, want.Ino)
		}
	})
	t.Run("cwd through /proc/self/fd", func(t *testing.T) {
		for n := 3; n <= 9; n++ {
			cwd := "/proc/self/fd/" + strconv.Itoa(n)
			stdout, errs, code := o.runFiles(leaks, "run", "--bundle", withCwd(cwd), id("cve-21626-cwd"+strconv.Itoa(n)))
			if code == 0 {
				checkFDs(t, "init with cwd "+cwd, parse(t, cwd, stdout))
			} else {
				t.Logf("run with cwd %s: exit %d, %q (the process did not start)", cwd, code, strings.TrimSpace(errs))
			}
			stdout, errs, code = o.runFiles(leaks, "exec", "--cwd", cwd, ctr, "/cve/helper", "fds")
			if code == 0 {
				checkFDs(t, "exec with cwd "+cwd, parse(t, cwd, stdout))
			} else {
				t.Logf("exec --cwd %s: exit %d, %q (the process did not start)", cwd, code, strings.TrimSpace(errs))
			}
		}
		if entries, _ := os.ReadDir(o.root); len(entries) != 1 {
			t.Errorf("state root after the runs holds %v, want only %s", entries, ctr)
		}
	})
}

// TestCVE2023_27561: runc followed a symlink at the rootfs's /proc when
// mounting procfs (a regression of CVE-2019-19921), so an image could
// have procfs mounted elsewhere, where the masked and read-only paths the
// runtime then applied to "/proc" did not cover it (and, resolved on the
// host, outside the root).
//
// The rootfs's /proc is a symlink: to a host directory by absolute path
// (missing in the root, or also present there) or by ../ climbing out.
// Create must fail, or mount a procfs that the container sees at /proc,
// masked (/proc/keys, /proc/timer_list… are /dev/null, /proc/acpi… an
// empty tmpfs) and read-only (/proc/sys, /proc/sysrq-trigger refuse
// writers). The host's sentinel directory, its
// core_pattern and its mount table must not change.
func TestCVE2023_27561(t *testing.T) {
	o := newOCI(t)
	cases := []struct {
		name   string
		target func(sentinel string) string
		inRoot bool
	}{
		{"absolute, missing in the root", func(s string) string { return s }, false},
		{"absolute, also in the root", func(s string) string { return s }, true},
		{"relative escape", func(s string) string { return strings.Repeat("../", 12) + strings.TrimPrefix(s, "/") }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := cveRootfs(t)
			sentinelDir, sentinelFile := cveSentinels(t)
			if err := os.Remove(filepath.Join(rootfs, "proc")); err != nil {
				t.Fatal(err)
			}
			cveSymlink(t, tc.target(sentinelDir), filepath.Join(rootfs, "proc"))
			if tc.inRoot {
				cveMkdir(t, filepath.Join(rootfs, sentinelDir))
			}
			var masked []string // the config's masked paths under /proc that the host has
			b := o.bundle(func(s *specs.Spec) {
				s.Root.Path = rootfs
				for _, p := range s.Linux.MaskedPaths {
					if _, err := os.Stat(p); err == nil && strings.HasPrefix(p, "/proc/") {
						masked = append(masked, p)
					}
				}
			}, "true")
			cveSetArgs(t, b, append(append([]string{"/cve/helper", "stat", "/proc/"}, masked...),
				"--", "openw", "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger")...)
			h := cveGuardHost(t, sentinelDir, sentinelFile)
			stdout, errs, code := o.run("run", "--bundle", b, id("cve-27561"))
			h.check(t)
			cveNoState(t, o)
			if cveRefused(t, code, errs) {
				return
			}
			var st map[string]cveStat
			var w map[string]string
			cveLines(t, stdout, &st, &w)
			if st["/proc/"].FSMagic != unix.PROC_SUPER_MAGIC {
				t.Errorf("/proc in the container: %+v, want a procfs", st["/proc/"])
			}
			for _, p := range masked {
				m := st[p]
				emptyTmpfs := m.Type == "dir" && m.FSMagic == unix.TMPFS_MAGIC
				null := m.Type == "char" && m.Major == 1 && m.Minor == 3
				if !emptyTmpfs && !null {
					t.Errorf("%s in the container: %+v, want masked (an empty tmpfs, or the null device)", p, m)
				}
			}
			for p, e := range w {
				if e == "OK" {
					t.Errorf("opening %s for writing in the container succeeded; want it read-only", p)
				}
			}
		})
	}
}

// TestCVE2025_31133: runc masked paths by bind-mounting the container's
// own /dev/null over them without checking that it was the null device.
// An image (or a racing container) that made /dev/null a symlink to, say,
// /proc/sys/kernel/core_pattern had that file bound, writable, at every
// masked path, and a write there changed the host's core_pattern.
//
// The rootfs's /dev/null is a symlink to core_pattern or to a host
// sentinel file; /dev comes from the rootfs (no /dev tmpfs in the config)
// or is the usual tmpfs, and an extra masked path is itself a symlink to
// the sentinel. Each masked file in the container must be the real null
// device (char 1:3); in the sentinel case the container also writes to
// every masked path and to /dev/null. The sentinel, core_pattern and the
// host's mount table must not change.
func TestCVE2025_31133(t *testing.T) {
	o := newOCI(t)
	cases := []struct {
		name     string
		target   func(sentinelFile string) string
		devTmpfs bool
		write    bool // write "pwned" through each masked path (never when core_pattern is the target)
	}{
		{"/dev/null -> core_pattern, /dev from the rootfs", func(string) string { return "/proc/sys/kernel/core_pattern" }, false, false},
		{"/dev/null -> host file, /dev from the rootfs", func(f string) string { return f }, false, true},
		{"/dev/null -> host file, /dev tmpfs", func(f string) string { return f }, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := cveRootfs(t)
			sentinelDir, sentinelFile := cveSentinels(t)
			cveSymlink(t, tc.target(sentinelFile), filepath.Join(rootfs, "dev/null"))
			cveSymlink(t, sentinelFile, filepath.Join(rootfs, "etc/masked"))
			var masked []string
			b := o.bundle(func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Root.Readonly = false
				if !tc.devTmpfs {
					s.Mounts = cveWithoutMounts(s.Mounts, "/dev")
				}
				s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/masked")
				for _, p := range s.Linux.MaskedPaths {
					if fi, err := os.Stat(p); (err == nil && !fi.IsDir()) || p == "/etc/masked" {
						masked = append(masked, p)
					}
				}
			}, "true")
			args := append([]string{"/cve/helper", "stat", "/dev/null"}, masked...)
			if tc.write {
				args = append(append(args, "--", "write", "/dev/null"), masked...)
			}
			cveSetArgs(t, b, args...)
			h := cveGuardHost(t, sentinelDir, sentinelFile)
			stdout, errs, code := o.run("run", "--bundle", b, id("cve-31133"))
			h.check(t)
			cveNoState(t, o)
			if cveRefused(t, code, errs) {
				return
			}
			var st map[string]cveStat
			var w map[string]string
			if tc.write {
				cveLines(t, stdout, &st, &w)
			} else {
				cveLines(t, stdout, &st)
			}
			for _, p := range masked {
				s := st[p]
				if !s.Exists && p == "/etc/masked" {
					continue // the symlink resolves inside the root, to nothing
				}
				if s.Type != "char" || s.Major != 1 || s.Minor != 3 {
					t.Errorf("masked path %s in the container: %+v, want the null device (char 1:3)", p, s)
				}
			}
			if n := st["/dev/null"]; n.Type != "char" || n.Major != 1 || n.Minor != 3 {
				if tc.devTmpfs {
					t.Errorf("/dev/null in the container: %+v, want the null device", n)
				} else {
					t.Logf("note: /dev/null in the container is the rootfs's symlink (%+v): sbx adds devices only to a /dev tmpfs", n)
				}
			}
			t.Logf("writes: %v", w)
		})
	}
}

// TestCVE2025_52565: runc bind-mounted the container's pty over
// /dev/console, and /dev/pts/ptmx and /dev/console came from paths the
// container could make symlinks (to /proc/sys/kernel/core_pattern, say),
// so the bind landed on, or came from, a file of the container's choosing;
// a write to the "console" then reached the host.
//
// With process.terminal and --console-socket, the rootfs makes
// /dev/console a symlink to a host sentinel file or to core_pattern,
// /dev/pts a symlink to a host directory, or /dev/pts/ptmx a symlink to
// core_pattern. Create must fail, or give the process a pty of the
// container's devpts as stdin; the process writes to /dev/console (opens
// it, for core_pattern). The sentinel file and directory, core_pattern
// and the host's mount table must not change.
func TestCVE2025_52565(t *testing.T) {
	o := newOCI(t)
	socket := cveConsole(t)
	cases := []struct {
		name   string
		setup  func(t *testing.T, rootfs, sentinelDir, sentinelFile string)
		devpts bool // keep the devpts mount at /dev/pts
		write  bool // write through /dev/console (not when it leads to core_pattern)
	}{
		{"/dev/console -> host file", func(t *testing.T, rootfs, _, f string) {
			cveSymlink(t, f, filepath.Join(rootfs, "dev/console"))
		}, true, true},
		{"/dev/console -> core_pattern", func(t *testing.T, rootfs, _, _ string) {
			cveSymlink(t, "/proc/sys/kernel/core_pattern", filepath.Join(rootfs, "dev/console"))
		}, true, false},
		{"/dev/pts -> host directory", func(t *testing.T, rootfs, d, _ string) {
			cveSymlink(t, d, filepath.Join(rootfs, "dev/pts"))
			cveMkdir(t, filepath.Join(rootfs, d))
		}, true, true},
		{"/dev/pts/ptmx -> core_pattern", func(t *testing.T, rootfs, _, _ string) {
			cveMkdir(t, filepath.Join(rootfs, "dev/pts"))
			cveSymlink(t, "/proc/sys/kernel/core_pattern", filepath.Join(rootfs, "dev/pts/ptmx"))
		}, false, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := cveRootfs(t)
			sentinelDir, sentinelFile := cveSentinels(t)
			tc.setup(t, rootfs, sentinelDir, sentinelFile)
			args := []string{"/cve/helper", "-o", "/cve-out/result", "fds", "--", "stat", "/proc/self/fd/0", "/dev/console"}
			if tc.write {
				args = append(args, "--", "write", "/dev/console")
			} else {
				args = append(args, "--", "openw", "/dev/console")
			}
			b := o.bundle(func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Root.Readonly = false
				s.Process.Terminal = true
				keep := cveWithoutMounts(s.Mounts, "/dev")
				for _, m := range s.Mounts {
					if m.Destination == "/dev/pts" && tc.devpts {
						keep = append(keep, m)
					}
				}
				s.Mounts = keep
			}, args...)
			h := cveGuardHost(t, sentinelDir, sentinelFile)
			ctr := id("cve-52565-" + strconv.Itoa(i))
			o.cleanup(ctr)
			if _, errs, code := o.run("create", "--console-socket", socket, "--bundle", b, ctr); code != 0 {
				h.check(t)
				cveNoState(t, o)
				cveRefused(t, code, errs)
				return
			}
			o.must("start", ctr)
			o.waitStatus(ctr, specs.StateStopped)
			h.check(t)
			o.must("delete", ctr)
			result, err := os.ReadFile(filepath.Join(rootfs, "cve-out/result"))
			if err != nil {
				t.Fatalf("the container wrote no result: %v", err)
			}
			var fds cveFDs
			var st map[string]cveStat
			var w map[string]string
			cveLines(t, string(result), &fds, &st, &w)
			if in := st["/proc/self/fd/0"]; in.Type != "char" || in.Major < 136 || in.Major > 143 {
				t.Errorf("stdin of the container's process: %+v, want a pty (char 136-143)", in)
			}
			if got := len(fds.FDs); got != 3 {
				t.Errorf("the container's process has %d fds, want 0, 1 and 2 (its terminal): %+v", got, fds.FDs)
			}
			if c := st["/dev/console"]; c.Content == "sentinel\n" {
				t.Errorf("/dev/console in the container is the host's sentinel file: %+v", c)
			}
			if !tc.write && w["/dev/console"] == "OK" {
				t.Errorf("the container opened /dev/console, a symlink to core_pattern, for writing: %+v", st["/dev/console"])
			}
			t.Logf("/dev/console: %+v, writes: %v", st["/dev/console"], w)
		})
	}
}

// TestCVE2025_52881: runc's writes to procfs during setup (sysctls, LSM
// labels) could be redirected, by symlinks or by mounts over /proc, to
// other files: to core_pattern or sysrq-trigger of the host, or to a file
// the image planted, the parameter then silently left unset.
//
// Each case asks for linux.sysctl net.ipv4.ip_default_ttl=77 with a
// rootfs that plants something at /proc/sys/net/ipv4/ip_default_ttl:
// a symlink to a host sentinel file, a symlinked directory on the way to
// a host sentinel directory, a plain file (a fake procfs, /proc not
// mounted), or /proc itself a symlink to another directory of the root
// (with the usual procfs mount). Create must fail, or the parameter must
// be set in the container's own network namespace (read on the host
// with nsenter). The sentinels, the host's own ip_default_ttl,
// core_pattern and the host's mount table must not change.
func TestCVE2025_52881(t *testing.T) {
	o := newOCI(t)
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("nsenter (util-linux) is missing: the container's sysctl cannot be read from the host")
	}
	const key, param, value = "net.ipv4.ip_default_ttl", "proc/sys/net/ipv4/ip_default_ttl", "77"
	cases := []struct {
		name    string
		setup   func(t *testing.T, rootfs, sentinelDir, sentinelFile string)
		procfs  bool // keep the /proc mount
		refused bool // create must refuse it (linux.sysctl needs the procfs sbx mounts)
	}{
		{"symlink to a host file, no /proc mount", func(t *testing.T, rootfs, _, f string) {
			cveMkdir(t, filepath.Join(rootfs, filepath.Dir(param)))
			cveSymlink(t, f, filepath.Join(rootfs, param))
		}, false, true},
		{"symlinked directory to a host directory, no /proc mount", func(t *testing.T, rootfs, d, _ string) {
			cveMkdir(t, filepath.Join(rootfs, "proc/sys/net"))
			cveSymlink(t, d, filepath.Join(rootfs, "proc/sys/net/ipv4"))
		}, false, true},
		{"fake procfs file, no /proc mount", func(t *testing.T, rootfs, _, _ string) {
			cveMkdir(t, filepath.Join(rootfs, filepath.Dir(param)))
			cveWrite(t, filepath.Join(rootfs, param), "64\n", 0o644)
		}, false, true},
		{"/proc a symlink within the root", func(t *testing.T, rootfs, _, _ string) {
			if err := os.Remove(filepath.Join(rootfs, "proc")); err != nil {
				t.Fatal(err)
			}
			cveMkdir(t, filepath.Join(rootfs, "proc2"))
			cveSymlink(t, "proc2", filepath.Join(rootfs, "proc"))
		}, true, false},
		{"plain rootfs (control)", func(*testing.T, string, string, string) {}, true, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := cveRootfs(t)
			sentinelDir, sentinelFile := cveSentinels(t)
			tc.setup(t, rootfs, sentinelDir, sentinelFile)
			b := o.bundle(func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Root.Readonly = false
				if !tc.procfs {
					s.Mounts = cveWithoutMounts(s.Mounts, "/proc")
				}
				s.Linux.Sysctl = map[string]string{key: value}
			}, "sleep", "1000")
			h := cveGuardHost(t, sentinelDir, sentinelFile, "/proc/sys/net/ipv4/ip_default_ttl")
			ctr := id("cve-52881-" + strconv.Itoa(i))
			o.cleanup(ctr)
			_, errs, code := o.run("create", "--bundle", b, ctr)
			h.check(t)
			if tc.refused != (code != 0) {
				t.Errorf("create: exit %d, %s; want it refused: %v", code, strings.TrimSpace(errs), tc.refused)
			}
			if code != 0 {
				cveNoState(t, o)
				cveRefused(t, code, errs)
				return
			}
			pid := o.state(ctr).Pid
			got, err := exec.Command(nsenter, "--net=/proc/"+strconv.Itoa(pid)+"/ns/net", "cat", "/proc/sys/net/ipv4/ip_default_ttl").CombinedOutput()
			if err != nil {
				t.Fatalf("nsenter into the container's network namespace: %v: %s", err, got)
			}
			if strings.TrimSpace(string(got)) != value {
				planted, _ := os.ReadFile(filepath.Join(rootfs, param))
				t.Errorf("create succeeded, but %s in the container's network namespace = %s, want %s (the rootfs's %s now holds %q): sbx wrote the sysctl to a file that is not procfs",
					key, strings.TrimSpace(string(got)), value, "/"+param, planted)
			}
			o.must("delete", "--force", ctr)
		})
	}
}

// TestCVE2021_30465: runc mounted volumes on destinations it resolved on
// the host, so a destination that was (or was swapped for) a symlink in
// the rootfs put the mount outside the container's root: over the host's
// /etc or any directory, with the runtime's privileges.
//
// The rootfs's /mnt (or a directory on the way to the destination) is a
// symlink to /etc, to a host sentinel directory by absolute path (missing
// in the root, or also present there), or climbing out with ../; a tmpfs
// of a size no other mount has, or a bind of a host directory, is
// mounted at it. Create must fail, or the mount must show up inside the
// container, at the symlink's target resolved in the root. The sentinel
// directory, /etc, core_pattern and the host's mount table must not
// change.
func TestCVE2021_30465(t *testing.T) {
	o := newOCI(t)
	cases := []struct {
		name   string
		link   string                       // the symlink in the rootfs
		target func(sentinel string) string // its target
		inRoot bool                         // create the target's path in the rootfs too
		dst    string                       // the mount's destination
		want   func(sentinel string) string // where the mount must be, inside the root
		bind   bool
	}{
		{"/mnt -> /etc", "mnt", func(string) string { return "/etc" }, false, "/mnt",
			func(string) string { return "/etc" }, false},
		{"/mnt -> host directory missing in the root", "mnt", func(s string) string { return s }, false, "/mnt",
			func(s string) string { return s }, false},
		{"/mnt -> host directory also in the root", "mnt", func(s string) string { return s }, true, "/mnt",
			func(s string) string { return s }, false},
		{"/mnt -> ../ escape", "mnt", func(s string) string { return strings.Repeat("../", 12) + strings.TrimPrefix(s, "/") }, true, "/mnt",
			func(s string) string { return s }, false},
		{"/data -> host directory, mount at /data/sub", "data", func(s string) string { return s }, true, "/data/sub",
			func(s string) string { return s + "/sub" }, false},
		{"bind at /mnt -> host directory", "mnt", func(s string) string { return s }, true, "/mnt",
			func(s string) string { return s }, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := cveRootfs(t)
			sentinelDir, sentinelFile := cveSentinels(t)
			cveSymlink(t, tc.target(sentinelDir), filepath.Join(rootfs, tc.link))
			if tc.inRoot {
				cveMkdir(t, filepath.Join(rootfs, sentinelDir))
			}
			size := strconv.Itoa(4*(250+i)) + "k" // whole pages: tmpfs rounds up
			m := specs.Mount{Destination: tc.dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=" + size}}
			if tc.bind {
				source := t.TempDir()
				cveWrite(t, filepath.Join(source, "from-the-volume"), "volume\n", 0o644)
				m = specs.Mount{Destination: tc.dst, Type: "bind", Source: source, Options: []string{"rbind", "rw"}}
			}
			want := tc.want(sentinelDir)
			b := o.bundle(func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Root.Readonly = false
				s.Mounts = append(s.Mounts, m)
			}, "sh", "-c", `cat /proc/self/mountinfo; echo ---; cat "$1/from-the-volume" 2>&1; exit 0`, "sh", want)
			h := cveGuardHost(t, sentinelDir, sentinelFile, "/etc")
			stdout, errs, code := o.run("run", "--bundle", b, id("cve-30465"))
			h.check(t)
			cveNoState(t, o)
			if cveRefused(t, code, errs) {
				return
			}
			mountinfo, volume, _ := strings.Cut(stdout, "---\n")
			found := tc.bind && volume == "volume\n"
			for _, line := range strings.Split(mountinfo, "\n") {
				f := strings.Fields(line)
				sep := slices.Index(f, "-")
				if tc.bind || len(f) < 5 || sep < 0 || sep+3 >= len(f) || cveUnescape(f[4]) != want {
					continue
				}
				if f[sep+1] == "tmpfs" && strings.Contains(","+f[sep+3]+",", ",size="+size+",") {
					found = true
				}
			}
			if !found {
				t.Errorf("create succeeded, but the container has no mount of %s at %s (the symlink's target inside the root):\n%s", tc.dst, want, stdout)
			}
		})
	}
}

// cveUnescape undoes mountinfo's octal escapes (a space is \040).
func cveUnescape(s string) string {
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

// cveFDs, cveStat, cvePeek and cveWatchReport mirror the helper's FDs,
// Stat, Peek and Watch.
type cveFDs struct {
	FDs []struct {
		FD       int
		Target   string
		Type     string
		Dev, Ino uint64
	}
	Exe, Cwd  string
	CwdInRoot bool
	CwdWhy    string
}

type cveStat struct {
	Exists       bool
	Err, Type    string
	Major, Minor uint32
	Dev, Ino     uint64
	FSMagic      int64
	Size         int64
	Content      string
}

type cvePeek struct{ Exe, Mem string }

type cveWatchReport struct {
	SelfExe       string
	Loops         int
	Denied        int
	DeniedPids    []int
	RuntimeSeen   int
	Runtime       []string
	WritableCount int
	Writable      []string
	MemCount      int
	Mem           []string
	OtherWritable []string
	PidsAtEnd     []int
}

var cveHelperBuild struct {
	once sync.Once
	path string
	err  error
}

// cveHelper builds the helper once, into env.base.
func cveHelper(t *testing.T) string {
	t.Helper()
	cveHelperBuild.once.Do(func() {
		dir, err := os.MkdirTemp(env.base, "cve-helper-")
		if err != nil {
			cveHelperBuild.err = err
			return
		}
		helper := filepath.Join(dir, "helper")
		if out, err := command([]string{"CGO_ENABLED=0"}, goTool(), "build", "-o", helper, "./cvehelper"); err != nil {
			cveHelperBuild.err = fmt.Errorf("go build of the CVE helper: %v\n%s", err, out)
			return
		}
		cveHelperBuild.path = helper
	})
	if cveHelperBuild.err != nil {
		t.Fatal(cveHelperBuild.err)
	}
	return cveHelperBuild.path
}

// cveRootfs is a private copy of the BusyBox root, with the helper at
// /cve/helper and an empty /cve-out.
func cveRootfs(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", env.rootfs, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying the BusyBox root: %v\n%s", err, out)
	}
	cveMkdir(t, filepath.Join(dst, "cve"))
	cveMkdir(t, filepath.Join(dst, "cve-out"))
	cveCopy(t, cveHelper(t), filepath.Join(dst, "cve/helper"), 0o755)
	return dst
}

// cveRuntimeLibs copies the ELF interpreter and shared libraries of the
// sbx binary (ldd) into rootfs at their host paths, so that the binary
// can run in the container.
func cveRuntimeLibs(t *testing.T, rootfs string) {
	t.Helper()
	out, err := exec.Command("ldd", env.sbx).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return
		}
		t.Skipf("ldd %s: %v: %s", env.sbx, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				dst := filepath.Join(rootfs, f)
				cveMkdir(t, filepath.Dir(dst))
				cveCopy(t, f, dst, 0o755)
			}
		}
	}
}

// cveSentinels makes, outside every root, the directory and the file a
// runtime resolving a rootfs's symlink on the host would reach.
func cveSentinels(t *testing.T) (dir, file string) {
	t.Helper()
	base := t.TempDir()
	dir, file = filepath.Join(base, "sentinel-dir"), filepath.Join(base, "sentinel-file")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cveWrite(t, file, "sentinel\n", 0o600)
	return dir, file
}

// cveOutDir is a host directory the container reaches at /cve-out.
func cveOutDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	cveMkdir(t, dir)
	return dir
}

func cveOutMount(dir string) specs.Mount {
	return specs.Mount{Destination: "/cve-out", Type: "bind", Source: dir, Options: []string{"rbind", "rw"}}
}

// cveStopWatch tells the watcher in the container to stop and reads its
// report.
func cveStopWatch(t *testing.T, out string) cveWatchReport {
	t.Helper()
	cveWrite(t, filepath.Join(out, "stop"), "", 0o644)
	path := filepath.Join(out, "report.json")
	waitFile(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w cveWatchReport
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("watcher report: %v: %s", err, b)
	}
	return w
}

// cveSetArgs rewrites process.args of the bundle's config.
func cveSetArgs(t *testing.T, bundle string, args ...string) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = args
	if b, err = json.Marshal(&s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cveWithoutMounts drops the mounts at or under dir.
func cveWithoutMounts(ms []specs.Mount, dir string) []specs.Mount {
	var keep []specs.Mount
	for _, m := range ms {
		if d := filepath.Clean(m.Destination); d != dir && !strings.HasPrefix(d, dir+"/") {
			keep = append(keep, m)
		}
	}
	return keep
}

// cveLines decodes the helper's JSON lines into vs, in order.
func cveLines(t *testing.T, out string, vs ...any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < len(vs) {
		t.Fatalf("helper printed %d lines, want %d: %q", len(lines), len(vs), out)
	}
	for i, v := range vs {
		if err := json.Unmarshal([]byte(lines[i]), v); err != nil {
			t.Fatalf("helper line %d: %v: %q", i+1, err, lines[i])
		}
	}
}

// cveNoState checks that no container is left in the state root.
func cveNoState(t *testing.T, o *ociRuntime) {
	t.Helper()
	if entries, _ := os.ReadDir(o.root); len(entries) != 0 {
		t.Errorf("state root holds %v, want nothing", entries)
	}
}

// cveMust is runFiles without extra files, failing the test unless sbx
// exits 0.
func cveMust(o *ociRuntime, args ...string) string {
	o.t.Helper()
	out, errs, code := o.runFiles(nil, args...)
	if code != 0 {
		o.t.Fatalf("sbx %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// cveHost is what a test saw of the host before the container ran.
type cveHost struct {
	paths  []string
	before map[string]string
	mounts map[string]int
}

// cveGuardHost records paths (and core_pattern) and the mount table.
func cveGuardHost(t *testing.T, paths ...string) *cveHost {
	t.Helper()
	h := &cveHost{paths: append(paths, "/proc/sys/kernel/core_pattern"), before: map[string]string{}, mounts: cveMounts(t)}
	for _, p := range h.paths {
		h.before[p] = cveDescribe(p)
	}
	return h
}

// check fails the test if a recorded path changed or the host has a new
// mount, and detaches new mounts on the recorded paths.
func (h *cveHost) check(t *testing.T) {
	t.Helper()
	for _, p := range h.paths {
		if got := cveDescribe(p); got != h.before[p] {
			t.Errorf("host's %s changed: %s, was %s", p, got, h.before[p])
		}
	}
	after := cveMounts(t)
	for m, n := range after {
		if n <= h.mounts[m] || cveMountNoise(m) {
			continue
		}
		t.Errorf("new mount on the host: %s", m)
		point, _, _ := strings.Cut(m, " ")
		if slices.Contains(h.paths, point) {
			unix.Unmount(point, unix.MNT_DETACH)
		}
	}
}

// cveMounts is the host's mount table: "point root fstype source" lines
// and how many times each appears.
func cveMounts(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		m[strings.Join([]string{f[4], f[3], f[sep+1], f[sep+2]}, " ")]++
	}
	return m
}

// cveMountNoise is a mount that container engines on the host may make
// at any time, whatever sbx does.
func cveMountNoise(m string) bool {
	for _, p := range []string{"/run/containerd/", "/var/lib/containerd/", "/run/containers/", "/var/lib/containers/", "/run/netns/", "/run/user/", "/var/lib/docker/", "/run/docker/"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// cveDescribe says what is at path: type, mode, owner, and the content
// of a file or the names in a directory.
func cveDescribe(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return "error: " + err.Error()
	}
	st := fi.Sys().(*syscall.Stat_t)
	s := fmt.Sprintf("%v uid %d gid %d", fi.Mode(), st.Uid, st.Gid)
	switch {
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(path)
		if err != nil {
			return s + " unreadable: " + err.Error()
		}
		s += fmt.Sprintf(" content %q", b)
	case fi.IsDir():
		entries, _ := os.ReadDir(path)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		s += fmt.Sprintf(" entries %q", names)
	}
	return s
}

// cveConsole listens for the terminal masters `create --console-socket`
// sends and keeps each open, drained, until the test ends.
func cveConsole(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var masters []*os.File
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, f := range masters {
			f.Close()
		}
	})
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			oob := make([]byte, unix.CmsgSpace(4*4))
			_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 16), oob)
			c.Close()
			if err != nil {
				continue
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					f := os.NewFile(uintptr(fd), "console master")
					mu.Lock()
					masters = append(masters, f)
					mu.Unlock()
					go io.Copy(io.Discard, f)
				}
			}
		}
	}()
	return path
}

func cveFileID(t *testing.T, path string) (dev, ino uint64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev, st.Ino
}

func cveSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func cveWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func cveCopy(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cveWrite(t, dst, string(b), mode)
}

func cveMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func cveSymlink(t *testing.T, target, link string) {
	t.Helper()
	os.Remove(link)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
