package tests

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// battery is every property of `sbx run` the tests check, each a function
// of the runner so it runs as the caller and again as an unprivileged user.
var battery = []struct {
	name string
	test func(*testing.T, *runner)
}{
	{"Namespaces", testNamespaces},
	{"UserMapping", testUserMapping},
	{"UserMappingRanges", testUserMappingRanges},
	{"Privileges", testPrivileges},
	{"Capabilities", testCapabilities},
	{"Seccomp", testSeccomp},
	{"FileDescriptors", testFileDescriptors},
	{"HostFilesInvisible", testHostFilesInvisible},
	{"Writes", testWrites},
	{"HostRootReadOnly", testHostRootReadOnly},
	{"WritableRoot", testWritableRoot},
	{"SymlinkEscape", testSymlinkEscape},
	{"Hostname", testHostname},
	{"KillAllInside", testKillAllInside},
	{"Network", testNetwork},
	{"PidsLimit", testPidsLimit},
	{"MemoryLimit", testMemoryLimit},
	{"CPULimit", testCPULimit},
	{"OpenFilesLimit", testOpenFilesLimit},
	{"Timeout", testTimeout},
	{"TreeKill", testTreeKill},
	{"ParentDeath", testParentDeath},
	{"Signals", testSignals},
	{"ExitCodes", testExitCodes},
	{"BadSpec", testBadSpec},
	{"HostRefuses", testHostRefuses},
	{"Terminal", testTerminal},
	{"Report", testReport},
	{"RelativePaths", testRelativePaths},
	{"BusyBox", testBusyBox},
	{"Dev", testDev},
	{"Proc", testProc},
	{"NoSys", testNoSys},
	{"Environment", testEnvironment},
}

// TestSandbox runs the battery with sbx run by the test's own user.
func TestSandbox(t *testing.T) {
	runBattery(t, callerRunner())
}

// TestSandboxUnprivileged runs the battery again, as root, with sbx run by
// an unprivileged system user.
func TestSandboxUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skipf("not root: TestSandbox already ran sbx as uid %d", os.Getuid())
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("the host allows no user namespaces (user.max_user_namespaces = 0)")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("the host refuses unprivileged user namespaces (kernel.unprivileged_userns_clone = 0)")
	}
	runBattery(t, unprivilegedRunner(t))
}

func runBattery(t *testing.T, r *runner) {
	for _, b := range battery {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.test(t, r)
		})
	}
}

var namespaceNames = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// testNamespaces: every namespace differs from the host's unless shared
// with share.X, and then it is the host's.
func testNamespaces(t *testing.T, r *runner) {
	cases := []struct {
		name   string
		share  Share
		shared string
	}{
		{"isolated", Share{}, ""},
		{"share.network", Share{Network: true}, "net"},
		{"share.pid", Share{PID: true}, "pid"},
		{"share.ipc", Share{IPC: true}, "ipc"},
		{"share.uts", Share{UTS: true}, "uts"},
		{"share.cgroup", Share{Cgroup: true}, "cgroup"},
		{"share.time", Share{Time: true}, "time"},
		{"share.user", Share{User: true}, "user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("facts")
			s.Share = &tc.share
			res := r.sbx(t, s, call{})
			if !r.root() && tc.shared == "user" {
				// Without a user namespace an unprivileged caller cannot
				// create the others: sbx must refuse, not share them.
				res.wantRefused(t, "share.user as an unprivileged user")
				return
			}
			if tc.shared == "pid" && !r.ownsCgroup() {
				refusedSharedPID(t, r, res)
				return
			}
			var f facts
			res.probeLines(t, 0, &f)
			for _, ns := range namespaceNames {
				host, got := env.host.NS[ns], f.NS[ns]
				switch {
				case got == "":
					t.Errorf("%s namespace: probe could not read it (errors %q)\n%v", ns, f.Errors, res)
				case ns == tc.shared && got != host:
					t.Errorf("%s namespace = %s, want the host's %s (shared)\n%v", ns, got, host, res)
				case ns != tc.shared && got == host:
					t.Errorf("%s namespace = %s, the host's; want a new one\n%v", ns, got, res)
				}
			}
			if tc.shared == "user" && f.UIDMap != env.host.UIDMap {
				t.Errorf("uid_map with share.user = %q, want the host's %q", f.UIDMap, env.host.UIDMap)
			}
		})
	}
}

// testUserMapping: process.user is mapped to the caller's ids, one each.
func testUserMapping(t *testing.T, r *runner) {
	cases := []struct {
		name     string
		user     *User
		uid, gid int
	}{
		{"default root", nil, 0, 0},
		{"uid 1000", &User{UID: 1000, GID: 1001}, 1000, 1001},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("facts")
			s.Process.User = tc.user
			res := r.sbx(t, s, call{})
			var f facts
			res.probeLines(t, 0, &f)
			if f.UID != tc.uid || f.GID != tc.gid {
				t.Errorf("uid, gid in the sandbox = %d, %d, want %d, %d", f.UID, f.GID, tc.uid, tc.gid)
			}
			if want := fmt.Sprintf("%d %d 1", tc.uid, r.uid); f.UIDMap != want {
				t.Errorf("uid_map = %q, want %q (host's is %q)", f.UIDMap, want, env.host.UIDMap)
			}
			if want := fmt.Sprintf("%d %d 1", tc.gid, r.gid); f.GIDMap != want {
				t.Errorf("gid_map = %q, want %q (host's is %q)", f.GIDMap, want, env.host.GIDMap)
			}
		})
	}
}

// subordinate is the range of host ids testUserMapping maps, and gives
// the unprivileged user in /etc/subuid and /etc/subgid.
const subordinateStart, subordinateSize = 300000, 65536

// testUserMapping ranges: uidMappings and gidMappings map more than one
// id; without privilege, through newuidmap and newgidmap and the ranges
// /etc/subuid and /etc/subgid give the caller.
func testUserMappingRanges(t *testing.T, r *runner) {
	if !r.root() {
		giveSubordinateIDs(t, r)
	}
	own := func(id int) []IDMap {
		return []IDMap{{0, id, 1}, {1, subordinateStart, subordinateSize}}
	}
	s := probeSpec("facts")
	s.UIDMappings, s.GIDMappings = own(r.uid), own(r.gid)
	s.Process.User = &User{UID: 1000, GID: 1001}
	res := r.sbx(t, s, call{})
	var f facts
	res.probeLines(t, 0, &f)
	if f.UID != 1000 || f.GID != 1001 {
		t.Errorf("uid, gid in the sandbox = %d, %d, want 1000, 1001 (host ids %d, %d)", f.UID, f.GID, subordinateStart+999, subordinateStart+1000)
	}
	for _, m := range []struct {
		name, got string
		id        int
	}{{"uid_map", f.UIDMap, r.uid}, {"gid_map", f.GIDMap, r.gid}} {
		if want := fmt.Sprintf("0 %d 1 1 %d %d", m.id, subordinateStart, subordinateSize); m.got != want {
			t.Errorf("%s = %q, want %q", m.name, m.got, want)
		}
	}
}

// giveSubordinateIDs gives r's user the subordinate range in /etc/subuid
// and /etc/subgid (usermod, as root), unless it has it.
func giveSubordinateIDs(t *testing.T, r *runner) {
	t.Helper()
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), fmt.Sprintf("\n%s:%d:%d\n", r.name, subordinateStart, subordinateSize)) ||
			strings.HasPrefix(string(b), fmt.Sprintf("%s:%d:%d\n", r.name, subordinateStart, subordinateSize)) {
			continue
		}
		ids := fmt.Sprintf("%d-%d", subordinateStart, subordinateStart+subordinateSize-1)
		flag := "--add-subuids"
		if f == "/etc/subgid" {
			flag = "--add-subgids"
		}
		if out, err := exec.Command("usermod", flag, ids, r.name).CombinedOutput(); err != nil {
			t.Fatalf("usermod %s %s %s: %v\n%s", flag, ids, r.name, err, out)
		}
	}
}

const noCaps = "0000000000000000"

// testPrivileges: no capabilities in any set, no_new_privs, a seccomp
// filter; for root in the sandbox and for another user.
func testPrivileges(t *testing.T, r *runner) {
	for name, u := range map[string]*User{"root": nil, "uid 1000": {UID: 1000, GID: 1000}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("facts")
			s.Process.User = u
			res := r.sbx(t, s, call{})
			var f facts
			res.probeLines(t, 0, &f)
			want := map[string]string{
				"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapBnd": noCaps, "CapAmb": noCaps,
				"NoNewPrivs": "1", "Seccomp": "2",
			}
			for k, v := range want {
				if f.Status[k] != v {
					t.Errorf("/proc/self/status %s = %q, want %q (host: %q)", k, f.Status[k], v, env.host.Status[k])
				}
			}
		})
	}
}

// testCapabilities: a listed capability is the only one in the effective,
// permitted and bounding sets, and works; without it, it does not.
func testCapabilities(t *testing.T, r *runner) {
	const netRaw = "0000000000002000" // 1 << CAP_NET_RAW (13)
	cases := []struct {
		name    string
		caps    []string
		user    *User
		wantCap string
		wantErr string // of a raw socket
	}{
		{"none", nil, nil, noCaps, "EPERM"},
		{"CAP_NET_RAW", []string{"CAP_NET_RAW"}, nil, netRaw, ""},
		{"CAP_NET_RAW uid 1000", []string{"CAP_NET_RAW"}, &User{UID: 1000, GID: 1000}, netRaw, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("facts", "--", "rawsocket")
			s.Capabilities, s.Process.User = tc.caps, tc.user
			res := r.sbx(t, s, call{})
			var f facts
			var raw map[string]string
			res.probeLines(t, 0, &f, &raw)
			for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
				if f.Status[k] != tc.wantCap {
					t.Errorf("%s = %q, want %q", k, f.Status[k], tc.wantCap)
				}
			}
			if raw["err"] != tc.wantErr {
				t.Errorf("socket(AF_INET, SOCK_RAW) error = %q, want %q", raw["err"], tc.wantErr)
			}
		})
	}
}

// reachedErrno are the probe's system calls whose arguments make them fail
// with an errno other than EPERM once they reach the kernel, capabilities
// or not: with "unconfined" they must not fail with EPERM, which shows
// the default profile's EPERM is the filter's.
var reachedErrno = []string{
	"keyctl", "add_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "mount", "umount2", "unshare(CLONE_NEWUSER)",
	"clone(CLONE_NEWUSER)", "clone3(CLONE_NEWUSER)", "setns(CLONE_NEWUSER)", "ptrace", "ioctl(TIOCSTI)",
}

// privileged are the probe's system calls that fail with EPERM before
// the kernel looks at their arguments unless the caller has a capability
// in the host's user namespace, with the sysctl that disables them all.
var privileged = map[string]string{
	"kexec_load": "kernel/kexec_load_disabled", "kexec_file_load": "kernel/kexec_load_disabled",
	"init_module": "kernel/modules_disabled", "finit_module": "kernel/modules_disabled",
	"pivot_root": "",
}

// testSeccomp: the default filter denies the dangerous system calls with
// EPERM (clone3 may be ENOSYS, so that libc falls back to clone);
// "unconfined" installs no filter.
func testSeccomp(t *testing.T, r *runner) {
	for _, profile := range []string{"", "default"} {
		t.Run(fmt.Sprintf("seccomp %q", profile), func(t *testing.T) {
			t.Parallel()
			s := probeSpec("facts", "--", "syscalls")
			s.Seccomp = profile
			res := r.sbx(t, s, call{})
			var f facts
			var calls map[string]string
			res.probeLines(t, 0, &f, &calls)
			if f.Status["Seccomp"] != "2" {
				t.Errorf("Seccomp = %q, want 2 (filter)", f.Status["Seccomp"])
			}
			if len(calls) == 0 {
				t.Fatalf("probe reported no system calls\n%v", res)
			}
			for name, errno := range calls {
				ok := errno == "EPERM" || (strings.HasPrefix(name, "clone3") && errno == "ENOSYS")
				if !ok {
					t.Errorf("%s in the sandbox = %s, want EPERM", name, errno)
				}
			}
		})
	}
	t.Run("unconfined", func(t *testing.T) {
		t.Parallel()
		s := probeSpec("facts", "--", "syscalls")
		s.Seccomp = "unconfined"
		res := r.sbx(t, s, call{})
		var f facts
		var calls map[string]string
		res.probeLines(t, 0, &f, &calls)
		if f.Status["Seccomp"] != "0" {
			t.Errorf("Seccomp with \"unconfined\" = %q, want 0", f.Status["Seccomp"])
		}
		ioUringOff := false
		if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil && strings.TrimSpace(string(b)) != "0" {
			ioUringOff = true
		}
		for _, name := range reachedErrno {
			if strings.HasPrefix(name, "io_uring") && ioUringOff {
				continue
			}
			if calls[name] == "EPERM" || calls[name] == "" {
				t.Errorf("%s unconfined = %q, want the kernel's own errno (not EPERM)", name, calls[name])
			}
		}
	})
}

// TestSeccompPrivileged: kexec_load, init_module and the other calls that
// only a capability of the host's user namespace lets through are denied
// by the default filter itself: with the host's user namespace and those
// capabilities they fail with EPERM, and with "unconfined" they reach the
// kernel (which refuses their arguments).
func TestSeccompPrivileged(t *testing.T) {
	r := callerRunner()
	if !r.root() {
		t.Skip("needs the capabilities of the host's user namespace, so root")
	}
	for _, profile := range []string{"default", "unconfined"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("syscalls")
			s.Seccomp = profile
			s.Share = &Share{User: true}
			s.Capabilities = []string{"CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_BOOT"}
			res := r.sbx(t, s, call{})
			var calls map[string]string
			res.probeLines(t, 0, &calls)
			for name, sysctl := range privileged {
				if b, err := os.ReadFile("/proc/sys/" + sysctl); sysctl != "" && err == nil && strings.TrimSpace(string(b)) != "0" {
					continue // the host refuses it to everyone
				}
				if got := calls[name]; profile == "default" && got != "EPERM" {
					t.Errorf("%s with %s = %q, want EPERM", name, profile, got)
				} else if profile == "unconfined" && (got == "EPERM" || got == "") {
					t.Errorf("%s with %s = %q, want the kernel's own errno (not EPERM)", name, profile, got)
				}
			}
		})
	}
}

// testFileDescriptors: only 0, 1 and 2 are open in the sandbox, though sbx
// inherits more: a non-close-on-exec descriptor of the test process and
// two passed explicitly.
func testFileDescriptors(t *testing.T, r *runner) {
	leak, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leak)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	res := r.sbx(t, probeSpec("facts"), call{extra: []*os.File{pr, pw}})
	var f facts
	res.probeLines(t, 0, &f)
	var fds []int
	for _, fd := range f.FDs {
		fds = append(fds, fd.FD)
	}
	if !slices.Equal(fds, []int{0, 1, 2}) {
		t.Errorf("open fds in the sandbox = %+v, want only 0, 1, 2 (sbx had fds 3, 4 and %d too)", f.FDs, leak)
	}
}

// testHostFilesInvisible: with no root, the sandbox sees only its declared
// mounts, /proc, /dev and /tmp; host files are not there.
func testHostFilesInvisible(t *testing.T, r *runner) {
	secret := filepath.Join(r.tempDir(t), "secret")
	r.writeFile(t, secret, "host secret\n", 0o644)
	paths := []string{secret, filepath.Dir(secret), env.base, "/etc/passwd", "/etc", "/usr", "/root", "/home", "/bin/sh", "/var"}
	var hostPaths []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			hostPaths = append(hostPaths, p)
		}
	}
	res := r.sbx(t, probeSpec(append([]string{"stat"}, append(hostPaths, "--", "facts")...)...), call{})
	var st map[string]stat
	var f facts
	res.probeLines(t, 0, &st, &f)
	for _, p := range hostPaths {
		if st[p].Exists {
			t.Errorf("host path %s is visible in the sandbox: %+v", p, st[p])
		}
	}
	root := slices.Sorted(slices.Values(f.Root))
	if want := []string{"dev", "probe", "proc", "tmp"}; !slices.Equal(root, want) {
		t.Errorf("entries of / = %q, want %q", root, want)
	}
}

// testWrites: writes fail with EROFS outside writable mounts and succeed
// inside them; every declared mount is nosuid,nodev, read-only unless
// writable.
func testWrites(t *testing.T, r *runner) {
	dir := r.tempDir(t)
	rw, ro := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	r.mkdir(t, rw)
	r.mkdir(t, ro)
	want := map[string]string{
		"/rw/f": "OK", "/scratch/f": "OK", "/tmp/f": "OK", "/dev/shm/f": "OK",
		"/ro/f": "EROFS", "/rotmp/f": "EROFS", "/f": "EROFS", "/probe/f": "EROFS",
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	s := probeSpec(append(append([]string{"create"}, paths...), "--", "facts")...)
	s.Mounts = append(s.Mounts,
		Mount{Source: rw, Destination: "/rw", Writable: true},
		Mount{Source: ro, Destination: "/ro"},
		Mount{Type: "tmpfs", Destination: "/scratch", Writable: true, Size: "1MiB"},
		Mount{Type: "tmpfs", Destination: "/rotmp"},
	)
	res := r.sbx(t, s, call{})
	var got map[string]string
	var f facts
	res.probeLines(t, 0, &got, &f)
	for _, p := range paths {
		if got[p] != want[p] {
			t.Errorf("creating %s in the sandbox: %s, want %s", p, got[p], want[p])
		}
	}
	if b, err := os.ReadFile(filepath.Join(rw, "f")); err != nil || string(b) != "written by probe\n" {
		t.Errorf("host file behind /rw/f: %q, %v; want the probe's text", b, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "f")); err == nil {
		t.Errorf("host file behind /ro/f exists; the read-only mount was written")
	}
	for point, mode := range map[string]string{"/rw": "rw", "/scratch": "rw", "/ro": "ro", "/rotmp": "ro", "/probe": "ro", "/": "ro"} {
		m := f.mount(point)
		if m == nil {
			t.Errorf("no mount at %s in the sandbox's mountinfo", point)
			continue
		}
		opts := strings.Split(m.Options, ",")
		if !slices.Contains(opts, mode) {
			t.Errorf("mount %s options %q, want %s", point, m.Options, mode)
		}
		if point == "/" {
			continue
		}
		for _, o := range []string{"nosuid", "nodev"} {
			if !slices.Contains(opts, o) {
				t.Errorf("mount %s options %q, want %s", point, m.Options, o)
			}
		}
	}
}

// testHostRootReadOnly: with the host's / as a read-only root, nothing on
// the host can be written.
func testHostRootReadOnly(t *testing.T, r *runner) {
	name := "sbx-test-" + newMarker()
	paths := []string{"/" + name, "/etc/" + name, "/var/tmp/" + name, filepath.Join(env.probeDir, name)}
	t.Cleanup(func() {
		for _, p := range paths {
			os.Remove(p)
		}
	})
	res := r.sbx(t, hostRootSpec(append([]string{"create"}, paths...)...), call{})
	var got map[string]string
	res.probeLines(t, 0, &got)
	for _, p := range paths {
		if got[p] != "EROFS" {
			t.Errorf("creating %s through a read-only root \"/\": %s, want EROFS", p, got[p])
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created on the host", p)
		}
	}
}

// testWritableRoot: root.writable lets the sandbox write its root, which
// the host then sees.
func testWritableRoot(t *testing.T, r *runner) {
	root := r.tempDir(t)
	r.mkdir(t, filepath.Join(root, "probe"))
	s := probeSpec("create", "/new-file")
	s.Root = &Root{Path: root, Writable: true}
	res := r.sbx(t, s, call{})
	var got map[string]string
	res.probeLines(t, 0, &got)
	if got["/new-file"] != "OK" {
		t.Errorf("creating /new-file in a writable root: %s, want OK", got["/new-file"])
	}
	if _, err := os.Stat(filepath.Join(root, "new-file")); err != nil {
		t.Errorf("the host does not see the file written in the writable root: %v", err)
	}
}

// testSymlinkEscape: a mount destination that passes through a symlink to
// / (in a mounted tree or in the root) lands inside the sandbox, or sbx
// refuses it; nothing is created or mounted on the host outside the root.
func testSymlinkEscape(t *testing.T, r *runner) {
	cases := []struct {
		name   string
		link   string // the symlink's target
		inRoot bool   // the symlink is in root.path, not in a mounted tree
	}{
		{"mounted tree, absolute symlink", "/", false},
		{"mounted tree, relative symlink", strings.Repeat("../", 20), false},
		{"root, absolute symlink", "/", true},
		{"root, relative symlink", strings.Repeat("../", 20), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := r.tempDir(t)
			hostSide := filepath.Join(dir, "hostside") // on the host, never mounted
			target := filepath.Join(dir, "target")     // the mount's source
			r.mkdir(t, hostSide)
			r.mkdir(t, target)
			s := probeSpec()
			var via string
			if tc.inRoot {
				root := filepath.Join(dir, "root")
				r.mkdir(t, filepath.Join(root, "probe"))
				if err := os.Symlink(tc.link, filepath.Join(root, "esc")); err != nil {
					t.Fatal(err)
				}
				s.Root = &Root{Path: root}
				via = "/esc"
			} else {
				tree := filepath.Join(dir, "tree")
				r.mkdir(t, tree)
				if err := os.Symlink(tc.link, filepath.Join(tree, "esc")); err != nil {
					t.Fatal(err)
				}
				s.Mounts = append(s.Mounts, Mount{Source: tree, Destination: "/tree"})
				via = "/tree/esc"
			}
			dst := via + hostSide + "/sub"
			s.Mounts = append(s.Mounts, Mount{Source: target, Destination: dst, Writable: true})
			s.Process.Args = append(s.Process.Args, "create", dst+"/marker", "--", "facts")
			res := r.sbx(t, s, call{})
			if es, _ := os.ReadDir(hostSide); len(es) > 0 {
				t.Errorf("sbx created %s/%s on the host, outside the sandbox root\n%v", hostSide, es[0].Name(), res)
			}
			if ms := mountsUnder(t, dir); len(ms) > 0 {
				t.Errorf("mounts on the host after sbx returned: %q\n%v", ms, res)
			}
			if res.code == 125 {
				res.wantRefused(t, "a destination through a symlink", fmt.Sprintf("mounts[%d]", len(s.Mounts)-1))
				return
			}
			var created map[string]string
			var f facts
			res.probeLines(t, 0, &created, &f)
			if created[dst+"/marker"] != "OK" {
				t.Errorf("creating %s/marker in the sandbox: %s, want OK", dst, created[dst+"/marker"])
			}
			if _, err := os.Stat(filepath.Join(target, "marker")); err != nil {
				t.Errorf("the mount did not land where %s leads inside the sandbox: %v", dst, err)
			}
			if m := f.mount(hostSide + "/sub"); m == nil {
				t.Errorf("no mount at %s/sub in the sandbox (where %s resolves inside it)", hostSide, dst)
			}
		})
	}
}

// testHostname: the sandbox has its own host name; changing it inside
// leaves the host's alone; with share.uts it is the host's, which the
// sandbox cannot change. Setting the name takes CAP_SYS_ADMIN and, since
// sbx's default seccomp profile denies sethostname, "unconfined": what is
// tested is the UTS namespace, not the filter.
func testHostname(t *testing.T, r *runner) {
	hostName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		hostname string
		share    *Share
		set      string // a name to set inside, with CAP_SYS_ADMIN
		want     string // the host name inside at the end
		wantErr  string // of sethostname
	}{
		{"default", "", nil, "", "sbx", ""},
		{"hostname", "box-1", nil, "", "box-1", ""},
		{"changed inside", "box-2", nil, "changed-inside", "changed-inside", ""},
		{"share.uts", "", &Share{UTS: true}, "", hostName, ""},
		// Setting the host's own name changes nothing even if it succeeds.
		{"share.uts cannot change the host's", "", &Share{UTS: true}, hostName, hostName, "EPERM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("facts")
			s.Hostname, s.Share = tc.hostname, tc.share
			if tc.set != "" {
				s.Process.Args = append(s.Process.Args, "--", "sethostname", tc.set, env.host.NS["uts"])
				s.Capabilities, s.Seccomp = []string{"CAP_SYS_ADMIN"}, "unconfined"
			}
			res := r.sbx(t, s, call{})
			var f facts
			var set map[string]string
			if tc.set != "" {
				res.probeLines(t, 0, &f, &set)
				if set["err"] != tc.wantErr {
					t.Errorf("sethostname(%q) = %q, want %q", tc.set, set["err"], tc.wantErr)
				}
				f.Hostname = set["hostname"]
			} else {
				res.probeLines(t, 0, &f)
			}
			if f.Hostname != tc.want {
				t.Errorf("host name in the sandbox = %q, want %q", f.Hostname, tc.want)
			}
			if now, _ := os.Hostname(); now != hostName {
				t.Errorf("host's name changed from %q to %q", hostName, now)
				unix.Sethostname([]byte(hostName))
			}
		})
	}
}

// testKillAllInside: kill(-1, SIGKILL) in the sandbox leaves a host process
// of the same user alive.
func testKillAllInside(t *testing.T, r *runner) {
	marker := newMarker()
	sentinel := exec.Command("/bin/sleep", "1000")
	sentinel.Args[0] = marker
	sentinel.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	if err := sentinel.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sentinel.Process.Kill()
		sentinel.Wait()
	})
	res := r.sbx(t, probeSpec("killall", env.host.NS["pid"]), call{})
	var got map[string]string
	res.probeLines(t, 0, &got)
	if got["err"] != "" && got["err"] != "ESRCH" {
		t.Errorf("kill(-1, SIGKILL) in the sandbox = %s, want success or ESRCH", got["err"])
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sentinel.Process.Pid))
	if err != nil || procState(b) == "Z" {
		t.Errorf("host sentinel process %d died when the sandbox ran kill(-1, SIGKILL)", sentinel.Process.Pid)
	}
}

// testNetwork: a fresh network namespace has only lo, up; the host's
// loopback listener is unreachable unless share.network.
func testNetwork(t *testing.T, r *runner) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	t.Run("isolated", func(t *testing.T) {
		t.Parallel()
		res := r.sbx(t, probeSpec("facts", "--", "connect", addr, "--", "loopback"), call{})
		var f facts
		var conn, lo map[string]string
		res.probeLines(t, 0, &f, &conn, &lo)
		if len(f.Interfaces) != 1 || f.Interfaces[0].Name != "lo" || !f.Interfaces[0].Up {
			t.Errorf("interfaces in the sandbox = %+v, want only lo, up (host has %+v)", f.Interfaces, env.host.Interfaces)
		}
		if conn["err"] == "" {
			t.Errorf("connecting to the host's listener %s from the sandbox succeeded", addr)
		}
		if lo["err"] != "" {
			t.Errorf("TCP over the sandbox's lo: %s, want it to work", lo["err"])
		}
	})
	t.Run("share.network", func(t *testing.T) {
		t.Parallel()
		s := probeSpec("connect", addr)
		s.Share = &Share{Network: true}
		res := r.sbx(t, s, call{})
		var conn map[string]string
		res.probeLines(t, 0, &conn)
		if conn["err"] != "" {
			t.Errorf("connecting to the host's listener %s with share.network: %s, want success", addr, conn["err"])
		}
	})
}

// refusedLimit checks that sbx, unable to apply a cgroup limit, refused to
// run at all.
func refusedLimit(t *testing.T, r *runner, res *result, field string) {
	t.Helper()
	res.wantRefused(t, fmt.Sprintf("%s as %s without cgroup delegation", field, r.name), field, "cgroup")
	if res.stdout != "" {
		t.Errorf("the sandbox ran without its %s: stdout %q", field, res.stdout)
	}
}

// refusedSharedPID checks that sbx, unable to create the cgroup that finds
// a sandbox's processes in the host's pid namespace, refused share.pid.
func refusedSharedPID(t *testing.T, r *runner, res *result) {
	t.Helper()
	res.wantRefused(t, fmt.Sprintf("share.pid as %s without a cgroup", r.name), "share.pid", "cgroup")
	if res.stdout != "" {
		t.Errorf("the sandbox ran: stdout %q", res.stdout)
	}
}

// testPidsLimit: a fork bomb stops at limits.pids, and sbx cleans up.
func testPidsLimit(t *testing.T, r *runner) {
	const limit = 32
	marker := newMarker()
	s := hostRootSpec("forkbomb", "/bin/sleep", marker, "256")
	s.Limits = &Limits{Pids: limit}
	res := r.sbx(t, s, call{})
	defer func() {
		if pids := markerPids(marker); len(pids) > 0 {
			t.Errorf("fork bomb processes left on the host after sbx returned: %v", pids)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}()
	if !r.canLimit("pids") {
		refusedLimit(t, r, res, "limits.pids")
		return
	}
	var got struct {
		Forked int    `json:"forked"`
		Err    string `json:"err"`
	}
	res.probeLines(t, 0, &got)
	if got.Err != "EAGAIN" || got.Forked >= limit {
		t.Errorf("fork bomb under limits.pids %d: forked %d then %q, want fewer than %d then EAGAIN", limit, got.Forked, got.Err, limit)
	}
}

// testMemoryLimit: exceeding limits.memory gets the sandbox OOM-killed,
// and the report says so.
func testMemoryLimit(t *testing.T, r *runner) {
	s := probeSpec("alloc", "1024")
	s.Limits = &Limits{Memory: "64MiB"}
	res := r.sbx(t, s, call{report: true})
	if !r.canLimit("memory") {
		refusedLimit(t, r, res, "limits.memory")
		return
	}
	if res.code != 128+9 {
		t.Errorf("allocating 1GiB under a 64MiB limit: exit status %d, want 137 (SIGKILL)\n%v", res.code, res)
	}
	if res.report == nil {
		t.Fatalf("no report\n%v", res)
	}
	if res.report.OOMKilled == nil || !*res.report.OOMKilled {
		t.Errorf("report oomKilled = %v, want true\n%v", res.report.OOMKilled, res)
	}
	if sig := res.report.signal(); sig != 9 {
		t.Errorf("report signal = %s, want 9 (SIGKILL)", res.report.Signal)
	}
	if p := res.report.PeakMemoryBytes; p == nil || *p <= 16<<20 || *p > 68<<20 {
		t.Errorf("report peakMemoryBytes = %v, want near the 64MiB limit", p)
	}
}

// testCPULimit: limits.cpus caps the CPU time used per wall-clock second:
// at 0.1 CPUs, 0.2s of CPU takes about 2s, however idle the host.
func testCPULimit(t *testing.T, r *runner) {
	const cpus, work = 0.1, 0.2
	s := probeSpec("cputime", "cpu", fmt.Sprintf("%gs", work))
	s.Limits = &Limits{CPUs: cpus}
	res := r.sbx(t, s, call{})
	if !r.canLimit("cpu") {
		refusedLimit(t, r, res, "limits.cpus")
		return
	}
	var got map[string]float64
	res.probeLines(t, 0, &got)
	if min := work / cpus * 0.75; got["wallSeconds"] < min {
		t.Errorf("%.2fs of CPU under limits.cpus %v took %.2fs, want at least %.2fs", got["cpuSeconds"], cpus, got["wallSeconds"], min)
	}
}

// testOpenFilesLimit: limits.openFiles is RLIMIT_NOFILE, soft and hard.
func testOpenFilesLimit(t *testing.T, r *runner) {
	s := probeSpec("facts")
	s.Limits = &Limits{OpenFiles: 64}
	res := r.sbx(t, s, call{})
	var f facts
	res.probeLines(t, 0, &f)
	if f.NoFile != [2]uint64{64, 64} {
		t.Errorf("RLIMIT_NOFILE = %v, want [64 64] (host: %v)", f.NoFile, env.host.NoFile)
	}
}

// testTimeout: at limits.timeout the child gets SIGTERM, then the whole
// tree SIGKILL; sbx exits 124 and reports timedOut.
func testTimeout(t *testing.T, r *runner) {
	t.Run("expires", func(t *testing.T) {
		t.Parallel()
		marker := newMarker()
		out := r.tempDir(t)
		s := probeSpec("daemon", marker, "ignore-term", "/out/got-sigterm")
		s.Mounts = append(s.Mounts, Mount{Source: out, Destination: "/out", Writable: true})
		s.Limits = &Limits{Timeout: "1s"}
		res := r.sbx(t, s, call{report: true})
		if pids := markerPids(marker); len(pids) > 0 {
			t.Errorf("sandbox processes %v alive after sbx returned from a timeout\n%v", pids, res)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		if res.code != 124 {
			t.Errorf("exit status = %d, want 124 (timeout)\n%v", res.code, res)
		}
		if res.wall < time.Second || res.wall > 20*time.Second {
			t.Errorf("sbx returned after %v, want between the 1s timeout and 20s", res.wall)
		}
		if _, err := os.Stat(filepath.Join(out, "got-sigterm")); err != nil {
			t.Errorf("the child was not sent SIGTERM before SIGKILL: %v", err)
		}
		if res.report == nil {
			t.Fatalf("no report\n%v", res)
		}
		if res.report.TimedOut == nil || !*res.report.TimedOut {
			t.Errorf("report timedOut = %v, want true\n%v", res.report.TimedOut, res)
		}
	})
	t.Run("not reached", func(t *testing.T) {
		t.Parallel()
		s := probeSpec("exit", "7")
		s.Limits = &Limits{Timeout: "20s"}
		res := r.sbx(t, s, call{report: true})
		if res.code != 7 || res.wall > 10*time.Second {
			t.Errorf("exit status = %d after %v, want 7 at once\n%v", res.code, res.wall, res)
		}
		if res.report != nil && (res.report.TimedOut == nil || *res.report.TimedOut) {
			t.Errorf("report timedOut = %v, want false", res.report.TimedOut)
		}
	})
}

// testTreeKill: when the child exits, every process it left behind is gone
// before sbx returns, in a pid namespace or not.
func testTreeKill(t *testing.T, r *runner) {
	for name, share := range map[string]*Share{"pid namespace": nil, "share.pid": {PID: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			marker := newMarker()
			s := probeSpec("daemon", marker, "exit")
			s.Share = share
			res := r.sbx(t, s, call{})
			pids := markerPids(marker)
			t.Cleanup(func() {
				for _, p := range pids {
					syscall.Kill(p, syscall.SIGKILL)
				}
			})
			if share != nil && !r.ownsCgroup() {
				refusedSharedPID(t, r, res)
				return
			}
			var ready map[string]string
			res.probeLines(t, 0, &ready)
			if len(pids) > 0 {
				t.Errorf("processes the child left behind are alive after sbx returned: %v\n%v", pids, res)
			}
		})
	}
}

// testParentDeath: when sbx is SIGKILLed, the sandbox dies within a second.
func testParentDeath(t *testing.T, r *runner) {
	marker := newMarker()
	p := r.start(t, probeSpec("daemon", marker, "wait"))
	p.waitLine(t, "grandchild")
	if pids := markerPids(marker); len(pids) < 2 {
		t.Fatalf("sandbox processes with marker = %v, want the child and its grandchild", pids)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	deadline := time.Now().Add(time.Second)
	for {
		pids := markerPids(marker)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("sandbox processes %v alive 1s after sbx was SIGKILLed\nstderr: %s", pids, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testSignals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2
// and SIGALRM sent to sbx
// reach the child, whose handler chooses the exit status.
func testSignals(t *testing.T, r *runner) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGWINCH,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM} {
		t.Run(sigName(sig), func(t *testing.T) {
			t.Parallel()
			p := r.start(t, probeSpec("trap"))
			p.waitLine(t, "ready")
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, rest := p.wait(t, 10*time.Second)
			if want := 40 + int(sig); code != want || !strings.Contains(rest, fmt.Sprintf("got %d", sig)) {
				t.Errorf("after %s to sbx: exit status %d, stdout %q; want %d and \"got %d\"\nstderr: %s",
					sigName(sig), code, rest, want, sig, p.stderr)
			}
		})
	}
	t.Run("shell trap", func(t *testing.T) {
		t.Parallel()
		s := hostRootSpec()
		s.Process.Args = []string{"/bin/sh", "-c", `trap 'echo trapped; exit 42' TERM; echo ready; while :; do sleep 0.05; done`}
		p := r.start(t, s)
		p.waitLine(t, "ready")
		p.cmd.Process.Signal(syscall.SIGTERM)
		code, rest := p.wait(t, 10*time.Second)
		if code != 42 || !strings.Contains(rest, "trapped") {
			t.Errorf("after SIGTERM to sbx: exit status %d, stdout %q; want 42 and \"trapped\"\nstderr: %s", code, rest, p.stderr)
		}
	})
}

// testExitCodes: sbx exits with the child's status, 128+N for a signal,
// 126 when the command cannot be executed, 127 when it is not found.
func testExitCodes(t *testing.T, r *runner) {
	dir := r.tempDir(t)
	r.writeFile(t, filepath.Join(dir, "plain"), "#!/bin/sh\nexit 0\n", 0o644)
	r.writeFile(t, filepath.Join(dir, "garbage"), "\x01\x02\x03 not a program\n", 0o755)
	r.mkdir(t, filepath.Join(dir, "subdir"))
	withData := func(args ...string) Spec {
		s := probeSpec()
		s.Process.Args = args
		s.Process.Env = []string{"PATH=/data:/probe"}
		s.Mounts = append(s.Mounts, Mount{Source: dir, Destination: "/data"})
		return s
	}
	cases := []struct {
		name   string
		spec   Spec
		want   int
		stderr string // sbx's message must name this
	}{
		{"exit 0", probeSpec("exit", "0"), 0, ""},
		{"exit 1", probeSpec("exit", "1"), 1, ""},
		{"exit 42", probeSpec("exit", "42"), 42, ""},
		{"SIGSEGV", probeSpec("segv"), 128 + 11, ""},
		{"not executable", withData("/data/plain"), 126, "/data/plain"},
		{"exec format error", withData("/data/garbage"), 126, "/data/garbage"},
		{"directory", withData("/data/subdir"), 126, "/data/subdir"},
		{"missing", withData("/data/missing"), 127, "/data/missing"},
		{"missing in PATH", withData("no-such-command"), 127, "no-such-command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := r.sbx(t, tc.spec, call{report: true})
			if res.code != tc.want {
				t.Errorf("exit status = %d, want %d\n%v", res.code, tc.want, res)
			}
			if tc.stderr != "" && !strings.Contains(res.stderr, tc.stderr) {
				t.Errorf("stderr = %q, want a message naming %s", res.stderr, tc.stderr)
			}
			if tc.want == 128+11 && res.report != nil && res.report.signal() != 11 {
				t.Errorf("report signal = %s, want 11 (SIGSEGV)", res.report.Signal)
			}
		})
	}
	t.Run("SIGKILL from the host", func(t *testing.T) {
		t.Parallel()
		marker := newMarker()
		p := r.start(t, probeSpec("trap", marker))
		p.waitLine(t, "ready")
		var pids []int
		for _, pid := range markerPids(marker) {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasPrefix(string(b), sandboxProbe+"\x00") {
				pids = append(pids, pid)
			}
		}
		if len(pids) != 1 {
			t.Fatalf("host pids of the sandbox's %s trap %s = %v, want one", sandboxProbe, marker, pids)
		}
		syscall.Kill(pids[0], syscall.SIGKILL)
		if code, _ := p.wait(t, 10*time.Second); code != 128+9 {
			t.Errorf("exit status after the child was SIGKILLed = %d, want 137\nstderr: %s", code, p.stderr)
		}
	})
}

// testBadSpec: a bad spec makes sbx exit 125 with one line naming the file
// and the field.
func testBadSpec(t *testing.T, r *runner) {
	cases := []struct {
		name  string
		spec  string
		field string
	}{
		{"empty args", `{"process": {"args": []}}`, "process.args"},
		{"no process", `{}`, "process.args"},
		{"unknown field", `{"process": {"args": ["/x"], "agrs": ["/y"]}}`, "process.agrs"},
		{"relative destination", `{"process": {"args": ["/x"]}, "mounts": [{"type": "tmpfs", "destination": "relative"}]}`, "mounts[0].destination"},
		{"missing source", `{"process": {"args": ["/x"]}, "mounts": [{"source": "/nonexistent-sbx-test", "destination": "/a"}]}`, "mounts[0].source"},
		{"bad memory", `{"process": {"args": ["/x"]}, "limits": {"memory": "2XB"}}`, "limits.memory"},
		{"bad timeout", `{"process": {"args": ["/x"]}, "limits": {"timeout": "soon"}}`, "limits.timeout"},
		{"unknown capability", `{"process": {"args": ["/x"]}, "capabilities": ["CAP_NOPE"]}`, "capabilities[0]"},
		{"missing root", `{"process": {"args": ["/x"]}, "root": {"path": "no-such-root"}}`, "root.path"},
		{"wrong type", `{"process": {"args": ["/x"]}, "share": {"network": "yes"}}`, "share.network"},
		{"missing seccomp profile", `{"process": {"args": ["/x"]}, "seccomp": "no-such-profile.json"}`, "seccomp"},
		{"syntax", `{"process": {"args": ["/x"]},`, "line 1"},
		{"misspelt field", `{"process": {"args": ["/x"]}, "mounts": [{"type": "tmpfs", "destinaton": "/a"}]}`, `mounts[0].destinaton: unknown field; did you mean "destination"?`},
		{"escaping destination", `{"process": {"args": ["/x"]}, "mounts": [{"type": "tmpfs", "destination": "/a/../../b"}]}`, "mounts[0].destination"},
		{"negative pids", `{"process": {"args": ["/x"]}, "limits": {"pids": -1}}`, "limits.pids"},
		{"negative memory", `{"process": {"args": ["/x"]}, "limits": {"memory": "-5MiB"}}`, "limits.memory"},
		{"negative timeout", `{"process": {"args": ["/x"]}, "limits": {"timeout": "-3s"}}`, "limits.timeout"},
		{"bad tmpfs size", `{"process": {"args": ["/x"]}, "mounts": [{"type": "tmpfs", "destination": "/a", "size": "lots"}]}`, "mounts[0].size"},
		// Found only once the sandbox exists: sbx still names the field.
		{"missing cwd", `{"process": {"args": ["/x"], "cwd": "/nonexistent-sbx-cwd"}}`, "process.cwd"},
		{"mount point under a file", `{"process": {"args": ["/x"]}, "root": {"path": "/"}, "mounts": [{"type": "tmpfs", "destination": "/etc/passwd/x"}]}`, "mounts[0].destination: create mount point"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := r.sbx(t, Spec{}, call{raw: tc.spec})
			if res.code != 125 {
				t.Fatalf("exit status = %d, want 125\n%v", res.code, res)
			}
			msg := strings.TrimRight(res.stderr, "\n")
			prefix := "sbx: " + res.specPath + ": " + tc.field
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, prefix) {
				t.Errorf("stderr = %q, want one line starting %q", res.stderr, prefix)
			}
		})
	}
}

// testHostRefuses: on a host that cannot give the namespaces a spec asks
// for, sbx exits 125 with one line naming what refused and how to lift it.
func testHostRefuses(t *testing.T, r *runner) {
	hello := `{"process": {"args": ["/bin/true"]}}`
	t.Run("namespace limit", func(t *testing.T) {
		// In a user namespace of its own, whose limit of nested user
		// namespaces is 0: the host's own setting stays as it is.
		path, _ := r.writeSpec(t, Spec{}, call{raw: hello})
		script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" run "$1"`
		cmd := exec.Command("unshare", "--user", "--map-root-user", "sh", "-c", script, env.sbx, path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		res := &result{code: exitCode(t, err, cmd), stderr: stderr.String(), specPath: path, specText: hello}
		res.wantRefused(t, "user.max_user_namespaces = 0", "/proc/sys/user/max_user_namespaces is 0")
	})
	t.Run("seccomp filter", func(t *testing.T) {
		// sbx inside a sandbox: the default filter refuses clone3.
		dir := r.tempDir(t)
		inner := filepath.Join(dir, "inner.json")
		r.writeFile(t, inner, hello, 0o644)
		bin := filepath.Dir(env.sbx)
		s := Spec{
			Process: Process{Args: []string{env.sbx, "run", inner}},
			Root:    &Root{Path: "/"},
			Mounts:  []Mount{{Source: bin, Destination: bin}, {Source: dir, Destination: dir}},
		}
		r.sbx(t, s, call{}).wantRefused(t, "sbx run in a sandbox", "a seccomp filter confines sbx itself")
	})
}

// testReport: --report writes every field, with plausible values.
func testReport(t *testing.T, r *runner) {
	res := r.sbx(t, probeSpec("cputime", "cpu", "300ms", "--", "exit", "3"), call{report: true})
	var probe map[string]float64
	res.probeLines(t, 3, &probe)
	rep := res.report
	if rep == nil {
		t.Fatalf("no report written\n%v", res)
	}
	var missing []string
	for name, present := range map[string]bool{
		"exitCode": rep.ExitCode != nil, "signal": rep.Signal != nil, "timedOut": rep.TimedOut != nil,
		"oomKilled": rep.OOMKilled != nil, "wallSeconds": rep.WallSeconds != nil, "userSeconds": rep.UserSeconds != nil,
		"systemSeconds": rep.SystemSeconds != nil, "peakMemoryBytes": rep.PeakMemoryBytes != nil,
	} {
		if !present {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Fatalf("report lacks %q\n%v", missing, res)
	}
	if *rep.ExitCode != 3 || rep.signal() != 0 || *rep.TimedOut || *rep.OOMKilled {
		t.Errorf("report exitCode %d, signal %s, timedOut %v, oomKilled %v; want 3, none, false, false",
			*rep.ExitCode, rep.Signal, *rep.TimedOut, *rep.OOMKilled)
	}
	if w := *rep.WallSeconds; w < probe["wallSeconds"] || w > res.wall.Seconds()+0.05 {
		t.Errorf("report wallSeconds = %.3f, want between the probe's %.3f and sbx's %.3f",
			w, probe["wallSeconds"], res.wall.Seconds())
	}
	if cpu := *rep.UserSeconds + *rep.SystemSeconds; cpu < probe["cpuSeconds"]*0.9 || cpu > res.wall.Seconds()*4 {
		t.Errorf("report userSeconds+systemSeconds = %.3f, want at least the probe's own %.3f",
			cpu, probe["cpuSeconds"])
	}
	// Without limits there is no cgroup, and the process's own max RSS
	// counts the memory it shared with sbx until exec: sbx reports 0,
	// unknown (the memory-limit test checks the peak with a cgroup).
	if p := *rep.PeakMemoryBytes; p != 0 {
		t.Errorf("report peakMemoryBytes = %.0f without a cgroup, want 0 (unknown)", p)
	}
}

// testRelativePaths: root.path and mounts[].source resolve against the
// spec file's directory, not sbx's working directory.
func testRelativePaths(t *testing.T, r *runner) {
	needBusyBox(t)
	dir := r.tempDir(t)
	sub := filepath.Join(dir, "sub")
	r.mkdir(t, filepath.Join(sub, "data"))
	r.writeFile(t, filepath.Join(sub, "data", "hello.txt"), "hello-relative\n", 0o644)
	rel, err := filepath.Rel(sub, env.rootfs)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("mount source", func(t *testing.T) {
		s := probeSpec("stat", "/data/hello.txt")
		s.Mounts = append(s.Mounts, Mount{Source: "data", Destination: "/data"})
		res := r.sbx(t, s, call{specDir: sub, dir: dir, specArg: "sub/spec.json"})
		var st map[string]stat
		res.probeLines(t, 0, &st)
		if got := st["/data/hello.txt"].Content; got != "hello-relative\n" {
			t.Errorf("/data/hello.txt (source \"data\" next to sub/spec.json) = %q, want %q", got, "hello-relative\n")
		}
	})
	t.Run("root path", func(t *testing.T) {
		s := Spec{
			Process: Process{Args: []string{"/bin/cat", "/etc/passwd", "/root/hello.txt"}},
			Root:    &Root{Path: rel},
			Mounts:  []Mount{{Source: "data", Destination: "/root"}},
		}
		res := r.sbx(t, s, call{specDir: sub, dir: "/"})
		if res.code != 0 || !strings.HasPrefix(res.stdout, "root:x:0:0:") || !strings.Contains(res.stdout, "hello-relative") {
			t.Errorf("root.path %q: want the BusyBox root's /etc/passwd and the relative mount\n%v", rel, res)
		}
	})
}

// needBusyBox skips the test when the host has no static BusyBox and
// cannot install one, and fails it when assembling the root failed else.
func needBusyBox(t *testing.T) {
	t.Helper()
	switch {
	case env.rootErr == nil:
	case strings.Contains(env.rootErr.Error(), "static busybox is missing"):
		t.Skipf("no BusyBox root: %v", env.rootErr)
	default:
		t.Fatalf("BusyBox root: %v", env.rootErr)
	}
}

// testBusyBox: a BusyBox root filesystem as root.path runs its commands.
func testBusyBox(t *testing.T, r *runner) {
	needBusyBox(t)
	s := Spec{
		Process: Process{
			Args: []string{"/bin/sh", "-c", `busybox | head -n 1; echo "uid=$(id -u)"; echo "host=$(hostname)"; ls /; echo sum=$(echo 1 2 3 | awk '{print $1+$2+$3}')`},
			Env:  []string{"PATH=/bin"},
		},
		Root: &Root{Path: env.rootfs},
	}
	res := r.sbx(t, s, call{})
	for _, want := range []string{"BusyBox v", "uid=0", "host=sbx", "bin\n", "etc\n", "sum=6"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("BusyBox sandbox stdout lacks %q\n%v", want, res)
		}
	}
	if res.code != 0 {
		t.Errorf("exit status = %d, want 0\n%v", res.code, res)
	}
}

// testDev: /dev holds only null, zero, full, random, urandom, tty, ptmx
// (with devpts) and shm, the same devices as the host's, and they work.
func testDev(t *testing.T, r *runner) {
	res := r.sbx(t, probeSpec("facts", "--", "devio"), call{})
	var f facts
	var io map[string]string
	res.probeLines(t, 0, &f, &io)
	devices := map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true, "tty": true}
	seen := map[string]bool{}
	for _, e := range f.Dev {
		seen[e.Name] = true
		switch {
		case devices[e.Name]:
			var st unix.Stat_t
			if err := unix.Stat("/dev/"+e.Name, &st); err != nil {
				t.Fatal(err)
			}
			hostMajor, hostMinor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
			if e.Type != "char" || e.Major != hostMajor || e.Minor != hostMinor {
				t.Errorf("/dev/%s = %s %d:%d, want char %d:%d like the host's", e.Name, e.Type, e.Major, e.Minor, hostMajor, hostMinor)
			}
		case e.Name == "ptmx":
			if !(e.Type == "symlink" && e.Link == "pts/ptmx") && !(e.Type == "char" && e.Major == 5 && e.Minor == 2) {
				t.Errorf("/dev/ptmx = %+v, want a symlink to pts/ptmx or char 5:2", e)
			}
		case e.Type == "char" || e.Type == "block":
			t.Errorf("unexpected device /dev/%s (%s %d:%d) in the sandbox", e.Name, e.Type, e.Major, e.Minor)
		}
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"} {
		if !seen[name] {
			t.Errorf("/dev/%s missing in the sandbox", name)
		}
	}
	if m := f.mount("/dev/pts"); m == nil || m.FSType != "devpts" {
		t.Errorf("/dev/pts mount = %+v, want devpts", m)
	}
	if m := f.mount("/dev/shm"); m == nil || m.FSType != "tmpfs" {
		t.Errorf("/dev/shm mount = %+v, want tmpfs", m)
	}
	want := map[string]string{
		"write /dev/null": "", "write /dev/full": "ENOSPC", "read /dev/zero": "", "read /dev/random": "",
		"read /dev/urandom": "", "open /dev/ptmx": "", "create /dev/shm/probe": "",
	}
	for op, w := range want {
		if got, ok := io[op]; !ok || got != w {
			t.Errorf("%s in the sandbox: %q, want %q", op, got, w)
		}
	}
}

var (
	// maskedPaths and readonlyPaths are runc's defaults under /proc.
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// testProc: runc's masked /proc paths are covered (and /proc/kcore reads
// nothing), its read-only ones are mounted read-only and cannot be
// opened for writing.
func testProc(t *testing.T, r *runner) {
	var masked, readonly []string
	for _, p := range maskedPaths {
		if _, err := os.Stat(p); err == nil {
			masked = append(masked, p)
		}
	}
	for _, p := range readonlyPaths {
		if _, err := os.Stat(p); err == nil {
			readonly = append(readonly, p)
		}
	}
	writes := []string{"/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname", "/proc/sysrq-trigger"}
	args := append([]string{"facts", "--", "stat"}, masked...)
	args = append(append(args, "--", "openw"), writes...)
	res := r.sbx(t, probeSpec(args...), call{})
	var f facts
	var st map[string]stat
	var w map[string]string
	res.probeLines(t, 0, &f, &st, &w)
	for _, p := range masked {
		s := st[p]
		if !s.Exists {
			continue
		}
		if f.mount(p) == nil {
			t.Errorf("%s is not masked: no mount over it in the sandbox (%+v)", p, s)
		}
		if s.ReadBytes > 0 || s.Entries > 0 {
			t.Errorf("%s in the sandbox: read %d bytes, %d entries; want nothing", p, s.ReadBytes, s.Entries)
		}
	}
	for _, p := range readonly {
		m := f.mount(p)
		if m == nil || !slices.Contains(strings.Split(m.Options, ","), "ro") {
			t.Errorf("%s mount in the sandbox = %+v, want read-only", p, m)
		}
	}
	for _, p := range writes {
		if w[p] == "OK" {
			t.Errorf("opening %s for writing in the sandbox succeeded; want EROFS", p)
		}
	}
	// Root in the sandbox maps to the host's root only when sbx runs as
	// root; otherwise the file's owner is unmapped and permission is
	// checked (EACCES) before the read-only mount (EROFS).
	if got := w["/proc/sys/kernel/hostname"]; got != "EROFS" && (r.root() || got != "EACCES") {
		t.Errorf("opening /proc/sys/kernel/hostname (of the sandbox's own UTS namespace) for writing: %s, want EROFS", got)
	}
}

// sysfsMagic is SYSFS_MAGIC from linux/magic.h.
const sysfsMagic = 0x62656572

// testNoSys: there is no sysfs in the sandbox, with an empty root or with
// the host's / as root.
func testNoSys(t *testing.T, r *runner) {
	t.Run("empty root", func(t *testing.T) {
		t.Parallel()
		res := r.sbx(t, probeSpec("stat", "/sys"), call{})
		var st map[string]stat
		res.probeLines(t, 0, &st)
		if st["/sys"].Exists {
			t.Errorf("/sys exists in an empty root: %+v", st["/sys"])
		}
	})
	t.Run("host root", func(t *testing.T) {
		t.Parallel()
		res := r.sbx(t, hostRootSpec("stat", "/sys", "/sys/kernel"), call{})
		var st map[string]stat
		res.probeLines(t, 0, &st)
		if s := st["/sys"]; s.FSMagic == sysfsMagic || s.Entries > 0 || st["/sys/kernel"].Exists {
			t.Errorf("/sys with the host's / as root: %+v, want no sysfs mounted", s)
		}
	})
}

// testEnvironment: the child's environment is process.env and nothing of
// sbx's; its working directory is process.cwd, "/" by default.
func testEnvironment(t *testing.T, r *runner) {
	cases := []struct {
		name string
		env  []string
		cwd  string
	}{
		{"omitted", nil, ""},
		{"given", []string{"FOO=bar", "PATH=/probe"}, "/tmp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := probeSpec("env", "--", "facts")
			s.Process.Env, s.Process.Cwd = tc.env, tc.cwd
			res := r.sbx(t, s, call{env: []string{"SBX_TEST_LEAK=1"}})
			var e map[string][]string
			var f facts
			res.probeLines(t, 0, &e, &f)
			if !slices.Equal(e["env"], tc.env) && !(len(e["env"]) == 0 && len(tc.env) == 0) {
				t.Errorf("environment in the sandbox = %q, want %q", e["env"], tc.env)
			}
			want := tc.cwd
			if want == "" {
				want = "/"
			}
			if f.Cwd != want {
				t.Errorf("working directory = %q, want %q", f.Cwd, want)
			}
		})
	}
}
