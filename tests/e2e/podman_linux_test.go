package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// podman is a podman setup private to one test. Every podman command runs
// in a mount namespace of the test's, with a tmpfs on /run, /var/lib,
// /var/tmp and /dev/shm: whatever its --root, --runroot and containers.conf
// say, podman 4.3 writes /var/lib/containers/cache/blob-info-cache-v1.boltdb,
// makes /run/containers/networks, unpacks `podman load`'s archive in
// /var/tmp, and keeps its locks in /dev/shm/libpod_lock.
type podman struct {
	dir     string // holds the config, storage, state and logs
	conf    string // containers.conf, named by $CONTAINERS_CONF
	storage string // the storage driver
	ns      *mountNS
	rt      *runtimeLog
}

// TestPodman drives podman with --runtime naming the runtime under test,
// which containers.conf maps to its path.
func TestPodman(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	install(t, []string{"podman"}, "podman", "conmon", "nsenter")
	img := busyboxImage(t)
	p := newPodman(t)
	start := time.Now()
	p.must(t, "load", "--quiet", "--input", img)
	t.Logf("podman load: %v", time.Since(start).Round(time.Millisecond))
	for _, tt := range []struct {
		name string
		test func(*testing.T, *podman, string)
	}{
		{"Run", testPodmanRun},
		{"ReadOnly", testPodmanReadOnly},
		{"Exec", testPodmanExec},
		{"Terminal", testPodmanTerminal},
		{"Stop", testPodmanStop},
		{"Pause", testPodmanPause},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.rt.watch(t)
			name := fmt.Sprintf("%s-%d", strings.ToLower(tt.name), os.Getpid())
			t.Cleanup(func() {
				if t.Failed() {
					p.podman(time.Minute, "rm", "--force", "--time", "0", name)
				}
			})
			tt.test(t, p, name)
		})
	}
}

// testPodmanRun: `podman run --rm` prints the container's output and exits
// with its status, the command is the container's pid 1, and nothing is
// left.
func testPodmanRun(t *testing.T, p *podman, name string) {
	cidFile := filepath.Join(t.TempDir(), "cid")
	res := p.podman(time.Minute, "run", "--rm", "--name", name, "--cidfile", cidFile, imageRef, "sh", "-c",
		"echo out pid=$$; echo err >&2; exit 3")
	if res.code != 3 {
		t.Fatalf("exit status = %d, want 3\n%v", res.code, res)
	}
	for _, want := range []string{"out pid=1", "err"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %q\n%v", want, res)
		}
	}
	id, err := os.ReadFile(cidFile)
	if err != nil {
		t.Fatalf("podman run --cidfile: %v", err)
	}
	p.checkGone(t, name, string(id))
}

// testPodmanReadOnly: `podman run --read-only` puts tmpfs mounts with
// "tmpcopyup" on /tmp, /var/tmp and /run over a read-only root: they are
// writable, the root is not.
func testPodmanReadOnly(t *testing.T, p *podman, name string) {
	res := p.podman(time.Minute, "run", "--rm", "--read-only", "--name", name, imageRef, "sh", "-c",
		"echo x > /tmp/f && echo tmp-ok; echo x > /f 2>/dev/null || echo root-ro")
	if res.code != 0 || !strings.Contains(res.out, "tmp-ok") || !strings.Contains(res.out, "root-ro") {
		t.Fatalf("podman run --read-only: exit %d, want 0 with tmp-ok and root-ro\n%v", res.code, res)
	}
}

// testPodmanExec: `podman exec` runs a second process in a running
// container's namespaces and exits with its status.
func testPodmanExec(t *testing.T, p *podman, name string) {
	id := p.runDetached(t, name, "sleep", "600")
	res := p.podman(time.Minute, "exec", name, "sh", "-c",
		"echo exec-out; echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); exit 4")
	if res.code != 4 {
		t.Fatalf("exit status = %d, want 4\n%v", res.code, res)
	}
	for _, want := range []string{"exec-out", "pid1=sleep 600"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %q\n%v", want, res)
		}
	}
	p.wantState(t, name, "running")
	p.remove(t, name, id)
}

// testPodmanTerminal: `podman run -it` and `podman exec -it` under a
// terminal give the process a terminal of the client's size, carry what is
// typed to it and what it writes back, and exit with its status.
func testPodmanTerminal(t *testing.T, p *podman, name string) {
	tm := startTerminal(t, p.command("run", "-it", "--rm", "--name", name, imageRef, "sh"))
	tm.waitFor(t, 0, "# ")
	p.wantState(t, name, "running")
	id := p.id(t, name)

	second := startTerminal(t, p.command("exec", "-it", name, "sh", "-c", ttyScript(6)))
	code, out := second.wait(t, time.Minute)
	checkTerminal(t, "podman exec -it", code, 6, out)

	tm.typeLine(t, consoleCheck+ttyScript(5))
	code, out = tm.wait(t, time.Minute)
	checkTerminal(t, "podman run -it", code, 5, out)
	checkConsole(t, "podman run -it", out)
	p.checkGone(t, name, id)
}

// testPodmanStop: `podman stop` ends a container that traps SIGTERM at
// once, with the trap's status, and one that ignores it (a shell as pid 1
// without a trap) with SIGKILL once the timeout has passed.
func testPodmanStop(t *testing.T, p *podman, name string) {
	id := p.runDetached(t, name, "sh", "-c", `trap "exit 42" TERM; while :; do sleep 0.1; done`)
	p.stop(t, name, "10", 5*time.Second)
	if code := p.inspect(t, name, "{{.State.ExitCode}}"); code != "42" {
		t.Errorf("after podman stop: exit code %s, want 42 (the trap's)", code)
	}
	p.remove(t, name, id)

	name2 := name + "-ignore" // removeAll removes it if the test fails
	id = p.runDetached(t, name2, "sh", "-c", "while :; do sleep 0.1; done")
	p.stop(t, name2, "1", 6*time.Second)
	if code := p.inspect(t, name2, "{{.State.ExitCode}}"); code != "137" {
		t.Errorf("after podman stop: exit code %s, want 137 (SIGKILL)", code)
	}
	p.remove(t, name2, id)
}

// testPodmanPause: `podman pause` freezes the container, which stops
// making progress, `podman unpause` thaws it, and `podman inspect` shows
// both.
func testPodmanPause(t *testing.T, p *podman, name string) {
	id := p.runDetached(t, name, "sh", "-c", "while :; do echo tick; usleep 20000; done")
	ticks := func() int {
		return strings.Count(p.must(t, "logs", name).out, "tick")
	}
	if !eventually(10*time.Second, func() bool { return ticks() >= 3 }) {
		t.Fatalf("the container logged %d ticks in 10s, want 3 or more", ticks())
	}
	p.must(t, "pause", name)
	p.wantState(t, name, "paused")
	time.Sleep(200 * time.Millisecond) // for conmon to log what was written
	before := ticks()
	time.Sleep(500 * time.Millisecond)
	if n := ticks(); n != before {
		t.Errorf("the paused container went from %d to %d ticks in 500ms", before, n)
	}
	p.must(t, "unpause", name)
	p.wantState(t, name, "running")
	if !eventually(10*time.Second, func() bool { return ticks() > before+3 }) {
		t.Errorf("the resumed container logged %d ticks in 10s, want more than %d", ticks(), before+3)
	}
	p.remove(t, name, id)
}

// newPodman writes podman's configuration into a new directory and starts
// the process that holds its mount namespace.
func newPodman(t *testing.T) *podman {
	t.Helper()
	dir := t.TempDir()
	p := &podman{dir: dir, conf: filepath.Join(dir, "containers.conf"), storage: storageDriver(t, dir), rt: wrapRuntime(t)}
	for _, d := range []string{"tmp", "hooks", "networks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p.conf, []byte(p.confText(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.ns = newMountNS(t, "/run", "/var/lib", "/var/tmp", "/dev/shm")
	// With cgroupfs, podman puts conmon and the containers under the
	// cgroup /libpod_parent, and leaves it.
	hadParent := len(cgroupsNamed("libpod_parent")) > 0
	t.Cleanup(func() {
		p.removeAll(t)
		if !hadParent {
			removeCgroups("libpod_parent")
		}
	})
	return p
}

// confText is containers.conf(5): the runtime under test, the cgroupfs
// manager, no network, logs and events in files, every path under p.dir,
// and ulimits the host allows.
func (p *podman) confText(t *testing.T) string {
	return fmt.Sprintf(`[containers]
default_ulimits = [%q, %q]
log_driver = "k8s-file"
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
hooks_dir = [%q]
image_copy_tmp_dir = %q
runtime = %q
runtime_supports_json = [%q, "crun", "runc"]
tmp_dir = %q

[engine.runtimes]
%s = [%q]

[network]
network_config_dir = %q
`, "nofile="+hardLimit(t, unix.RLIMIT_NOFILE)+":"+hardLimit(t, unix.RLIMIT_NOFILE), nproc(t),
		filepath.Join(p.dir, "events.log"), filepath.Join(p.dir, "hooks"), filepath.Join(p.dir, "tmp"),
		p.rt.name, p.rt.name, filepath.Join(p.dir, "tmp"),
		p.rt.name, p.rt.path, filepath.Join(p.dir, "networks"))
}

// nproc is the nproc ulimit for containers: the host's hard limit, but at
// most 32768, since podman 4.3 lowers its own RLIMIT_NPROC to that before
// it starts conmon and the runtime, which cannot raise it again where root
// may not raise hard limits.
func nproc(t *testing.T) string {
	t.Helper()
	n := hardLimit(t, unix.RLIMIT_NPROC)
	if v, err := strconv.ParseUint(n, 10, 64); n == "-1" || err == nil && v > 32768 {
		n = "32768"
	}
	return "nproc=" + n + ":" + n
}

// storageDriver is overlay, or vfs when dir's file system cannot hold an
// overlay's upper directory (it is itself an overlay).
func storageDriver(t *testing.T, dir string) string {
	t.Helper()
	if snapshotter(t, dir) == "native" {
		return "vfs"
	}
	return "overlay"
}

// args is podman's command line for args: the global options that keep
// podman's state in p.dir and name the runtime under test, which
// containers.conf's [engine.runtimes] maps to its path.
func (p *podman) args(args ...string) []string {
	return append([]string{
		"--root", filepath.Join(p.dir, "root"),
		"--runroot", filepath.Join(p.dir, "runroot"),
		"--storage-driver", p.storage,
		"--runtime", p.rt.name,
	}, args...)
}

// command is podman with args in p's mount namespace.
func (p *podman) command(args ...string) *exec.Cmd {
	return command(context.Background(), []string{"CONTAINERS_CONF=" + p.conf},
		"nsenter", append([]string{"--mount=" + p.ns.path, "--", "podman"}, p.args(args...)...)...)
}

func (p *podman) podman(timeout time.Duration, args ...string) *result {
	return run(timeout, []string{"CONTAINERS_CONF=" + p.conf},
		"nsenter", append([]string{"--mount=" + p.ns.path, "--", "podman"}, p.args(args...)...)...)
}

// must runs podman and fails t unless it exits 0.
func (p *podman) must(t *testing.T, args ...string) *result {
	t.Helper()
	res := p.podman(time.Minute, args...)
	if res.code != 0 || res.err != nil {
		t.Fatalf("%v\n%v", res, res.err)
	}
	return res
}

// runDetached runs a container with `podman run -d` and returns its ID.
func (p *podman) runDetached(t *testing.T, name string, args ...string) string {
	t.Helper()
	p.must(t, append([]string{"run", "--detach", "--name", name, imageRef}, args...)...)
	p.wantState(t, name, "running")
	return p.id(t, name)
}

func (p *podman) id(t *testing.T, name string) string {
	t.Helper()
	return p.inspect(t, name, "{{.Id}}")
}

func (p *podman) inspect(t *testing.T, name, format string) string {
	t.Helper()
	return strings.TrimSpace(p.must(t, "inspect", "--format", format, name).out)
}

func (p *podman) wantState(t *testing.T, name, want string) {
	t.Helper()
	if got := p.inspect(t, name, "{{.State.Status}}"); got != want {
		t.Fatalf("podman inspect: %s is %q, want %q", name, got, want)
	}
}

// stop runs `podman stop --time timeout` and checks that the container has
// exited within limit.
func (p *podman) stop(t *testing.T, name, timeout string, limit time.Duration) {
	t.Helper()
	res := p.must(t, "stop", "--time", timeout, name)
	if res.wall > limit {
		t.Errorf("podman stop --time %s took %v, want at most %v", timeout, res.wall.Round(time.Millisecond), limit)
	}
	p.wantState(t, name, "exited")
}

// remove removes the container with `podman rm --force` (SIGKILL at once)
// and checks that nothing is left.
func (p *podman) remove(t *testing.T, name, id string) {
	t.Helper()
	p.must(t, "rm", "--force", "--time", "0", name)
	p.checkGone(t, name, id)
}

// checkGone checks that podman, conmon and the runtime have left nothing
// of the container behind.
func (p *podman) checkGone(t *testing.T, name, id string) {
	t.Helper()
	if out := p.must(t, "ps", "--all", "--quiet").out; strings.TrimSpace(out) != "" {
		t.Errorf("podman ps --all still lists containers: %q", out)
	}
	if ms := mountsUnder(t, p.ns.pid(), p.dir); len(ms) > 0 {
		t.Errorf("podman's mount namespace still has %d mounts under %s: %q", len(ms), p.dir, ms)
	}
	for _, d := range []string{"root", "runroot"} {
		if ds, _ := filepath.Glob(filepath.Join(p.dir, d, "*-containers", id)); len(ds) > 0 {
			t.Errorf("the container's storage is still there: %q", ds)
		}
	}
	// conmon exits on its own once the container has.
	var pids []int
	if !eventually(5*time.Second, func() bool { pids = pidsWith("conmon", id); return len(pids) == 0 }) {
		t.Errorf("the container's conmon is still running 5s after: pids %v", pids)
	}
	if dirs := cgroupsNamed(filepath.Join("libpod_parent", "libpod-"+id+"*")); len(dirs) > 0 {
		t.Errorf("the container's cgroups are still there: %q", dirs)
	}
}

// removeAll removes every container and the conmon processes and cgroups
// they left.
func (p *podman) removeAll(t *testing.T) {
	res := p.podman(time.Minute, "ps", "--all", "--quiet", "--no-trunc")
	ids := strings.Fields(res.out)
	if len(ids) > 0 {
		p.podman(time.Minute, append([]string{"rm", "--force", "--time", "0"}, ids...)...)
	}
	for _, id := range ids {
		killAll(pidsWith("conmon", id))
		for _, d := range cgroupsNamed(filepath.Join("libpod_parent", "libpod-"+id+"*")) {
			killCgroup(d)
		}
		removeCgroups(filepath.Join("libpod_parent", "libpod-"+id+"*"))
	}
}
