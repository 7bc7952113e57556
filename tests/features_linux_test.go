package tests

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// sbxFeatures runs `sbx features` as r and decodes it.
func sbxFeatures(t *testing.T, r *runner) features.Features {
	t.Helper()
	out, code := sbxIn(t, r, r.tempDir(t), "features")
	var f features.Features
	if err := json.Unmarshal([]byte(out), &f); code != 0 || err != nil {
		t.Fatalf("sbx features as %s: exit %d, %v\n%s", r.name, code, err, out)
	}
	if f.Linux == nil {
		t.Fatalf("sbx features as %s: no linux section\n%s", r.name, out)
	}
	return f
}

// capBounding is the test process's capability bounding set, which sbx
// run by it shares.
func capBounding(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:\t"); ok {
			mask, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				t.Fatalf("CapBnd %q: %v", v, err)
			}
			return mask
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

func enabled(b *bool) bool { return b != nil && *b }

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var maj, min int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &maj, &min); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release[:], err)
	}
	return maj > major || maj == major && min >= minor
}

// TestVersion checks the three lines of `sbx --version` that go-runc's
// parseVersion reads: the version, the commit the binary was built from
// (as its build info records it) and the runtime-spec version.
func TestVersion(t *testing.T) {
	out, err := exec.Command(env.sbx, "--version").Output()
	if err != nil {
		t.Fatalf("sbx --version: %v", err)
	}
	info, err := buildinfo.ReadFile(env.sbx)
	if err != nil {
		t.Fatal(err)
	}
	commit := "unknown"
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			commit = s.Value
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "sbx version ") || len(lines[0]) == len("sbx version ") ||
		lines[1] != "commit: "+commit || lines[2] != "spec: "+specs.Version {
		t.Errorf("sbx --version = %q, want \"sbx version V\\ncommit: %s\\nspec: %s\\n\"", out, commit, specs.Version)
	}
}

// TestFeaturesIDMap: `sbx features` claims id-mapped mounts exactly for
// the callers whose `sbx run` of a bundle with one succeeds: root, and
// not an unprivileged user (namespaces.IDMapped refuses).
func TestFeaturesIDMap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs sbx as root and as an unprivileged user: needs root")
	}
	if env.rootErr != nil {
		t.Fatalf("BusyBox rootfs: %v", env.rootErr)
	}
	for _, r := range []*runner{callerRunner(), unprivilegedRunner(t)} {
		t.Run(r.name, func(t *testing.T) {
			f := sbxFeatures(t, r)
			claimed := f.Linux.MountExtensions != nil && f.Linux.MountExtensions.IDMap != nil &&
				enabled(f.Linux.MountExtensions.IDMap.Enabled)
			for _, opt := range []string{"idmap", "ridmap"} {
				if slices.Contains(f.MountOptions, opt) != claimed {
					t.Errorf("features: mountOptions has %q = %v, but idmap enabled = %v", opt, !claimed, claimed)
				}
			}
			dir := r.tempDir(t)
			bundle := idmapBundle(t, r, dir)
			out, code := sbxIn(t, r, dir, "--root", filepath.Join(dir, "state"), "run", "--bundle", bundle, id("features-idmap-"+r.name))
			switch {
			case claimed && code != 0:
				t.Errorf("features says idmap enabled, but run with an idmap mount as %s: exit %d\n%s", r.name, code, out)
			case !claimed && code == 0:
				t.Errorf("features says idmap disabled, but run with an idmap mount as %s succeeded", r.name)
			case !claimed && !strings.Contains(out, "id-mapped mounts need root"):
				t.Errorf("run with an idmap mount as %s: exit %d, %q; want the refusal of id-mapped mounts", r.name, code, out)
			}
		})
	}
}

// idmapBundle writes in dir a bundle for r (`sbx spec`, or `sbx spec
// --rootless` for a user other than root) that runs true with an
// id-mapped bind of a directory at /root, and returns its path.
func idmapBundle(t *testing.T, r *runner, dir string) string {
	t.Helper()
	bundle := filepath.Join(dir, "bundle")
	r.mkdir(t, bundle)
	args := []string{"spec", "--bundle", bundle}
	if !r.root() {
		args = append(args, "--rootless")
	}
	if out, code := sbxIn(t, r, dir, args...); code != 0 {
		t.Fatalf("sbx %v: exit %d, %s", args, code, out)
	}
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Root = &specs.Root{Path: env.rootfs, Readonly: true}
	s.Process.Terminal = false
	s.Process.Args = []string{"true"}
	if r.root() {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	src := r.tempDir(t)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}})
	if b, err = json.Marshal(&s); err != nil {
		t.Fatal(err)
	}
	r.writeFile(t, filepath.Join(bundle, "config.json"), string(b), 0o644)
	return bundle
}

// TestFeaturesMemoryPolicy runs a container with each memory policy mode
// and flag that features lists, and checks the kernel applied it (the
// policy /proc/self/numa_maps shows for the container's first mapping).
func TestFeaturesMemoryPolicy(t *testing.T) {
	o := newOCI(t)
	if _, err := os.Stat("/sys/devices/system/node/node0"); err != nil {
		t.Skipf("the host has no NUMA node 0 (CONFIG_NUMA off?): %v", err)
	}
	f := sbxFeatures(t, callerRunner())
	if f.Linux.MemoryPolicy == nil || len(f.Linux.MemoryPolicy.Modes) == 0 {
		t.Fatal("features: linux.memoryPolicy lists no modes")
	}
	// nodes is "" where the kernel wants no node mask; since is the first
	// kernel with the mode; shown is how numa_maps(5) prints it.
	modes := map[string]struct {
		nodes, shown string
		since        [2]int
	}{
		"MPOL_DEFAULT": {"", "default", [2]int{}}, "MPOL_LOCAL": {"", "local", [2]int{}},
		"MPOL_PREFERRED": {"0", "prefer:0", [2]int{}}, "MPOL_BIND": {"0", "bind:0", [2]int{}},
		"MPOL_INTERLEAVE": {"0", "interleave:0", [2]int{}}, "MPOL_PREFERRED_MANY": {"0", "prefer (many):0", [2]int{5, 15}},
		"MPOL_WEIGHTED_INTERLEAVE": {"0", "weighted interleave:0", [2]int{6, 9}},
	}
	flags := map[string]string{"MPOL_F_STATIC_NODES": "bind=static:0", "MPOL_F_RELATIVE_NODES": "bind=relative:0", "MPOL_F_NUMA_BALANCING": "bind=balancing:0"}
	run := func(t *testing.T, name string, mp specs.LinuxMemoryPolicy, shown string) {
		b := o.bundle(func(s *specs.Spec) { s.Linux.MemoryPolicy = &mp }, "head", "-n1", "/proc/self/numa_maps")
		out, errs, code := o.run("run", "--bundle", b, id("features-mpol-"+name))
		_, policy, _ := strings.Cut(strings.TrimSpace(out), " ")
		if code != 0 || !strings.HasPrefix(policy, shown+" ") {
			t.Errorf("run with linux.memoryPolicy %+v: exit %d, numa_maps %q, stderr %q; want policy %q", mp, code, out, errs, shown)
		}
	}
	for _, m := range f.Linux.MemoryPolicy.Modes {
		t.Run(m, func(t *testing.T) {
			c, ok := modes[m]
			if !ok {
				t.Fatalf("features lists memory policy mode %q, which this test does not know", m)
			}
			if !kernelAtLeast(t, c.since[0], c.since[1]) {
				t.Skipf("%s needs Linux %d.%d", m, c.since[0], c.since[1])
			}
			run(t, m, specs.LinuxMemoryPolicy{Mode: specs.MemoryPolicyModeType(m), Nodes: c.nodes}, c.shown)
		})
	}
	for _, fl := range f.Linux.MemoryPolicy.Flags {
		t.Run(fl, func(t *testing.T) {
			shown, ok := flags[fl]
			if !ok {
				t.Fatalf("features lists memory policy flag %q, which this test does not know", fl)
			}
			mp := specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MemoryPolicyFlagType(fl)}}
			run(t, fl, mp, shown)
		})
	}
}

// TestFeaturesSeccompFlags runs a container with each seccomp flag that
// features lists, with a notified rule (WAIT_KILLABLE_RECV needs a
// listener) for a call it never makes.
func TestFeaturesSeccompFlags(t *testing.T) {
	o := newOCI(t)
	f := sbxFeatures(t, callerRunner())
	if f.Linux.Seccomp == nil || len(f.Linux.Seccomp.KnownFlags) == 0 {
		t.Fatal("features: linux.seccomp lists no knownFlags")
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	states := make(chan specs.ContainerProcessState, len(f.Linux.Seccomp.KnownFlags))
	go serveNotify(t, ln, states)
	for _, fl := range f.Linux.Seccomp.KnownFlags {
		t.Run(fl, func(t *testing.T) {
			if fl == string(specs.LinuxSeccompFlagWaitKillableRecv) && !kernelAtLeast(t, 5, 19) {
				t.Skipf("%s needs Linux 5.19", fl)
			}
			b := o.bundle(func(s *specs.Spec) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow, ListenerPath: sock, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)},
					Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
				}
			}, "true")
			if out, errs, code := o.run("run", "--bundle", b, id("features-seccomp")); code != 0 {
				t.Errorf("run with seccomp flag %s: exit %d, stdout %q, stderr %q", fl, code, out, errs)
			}
		})
	}
}

// TestFeaturesClaims checks, as root, the rest of what features says:
// everything it claims works in one container, and what it reports false
// is refused.
func TestFeaturesClaims(t *testing.T) {
	o := newOCI(t)
	f := sbxFeatures(t, callerRunner())
	lx := f.Linux
	// works runs args in a container edit makes, and returns its stdout
	// and sbx's stderr.
	works := func(t *testing.T, what string, edit func(*specs.Spec), args ...string) (string, string) {
		t.Helper()
		b := o.bundle(edit, args...)
		out, errs, code := o.run("run", "--bundle", b, id("features-claims"))
		if code != 0 {
			t.Errorf("features claims %s, but run with it: exit %d, stdout %q, stderr %q", what, code, out, errs)
		}
		return out, errs
	}
	t.Run("namespaces", func(t *testing.T) {
		works(t, fmt.Sprintf("namespaces %v", lx.Namespaces), func(s *specs.Spec) {
			s.Linux.Namespaces = nil
			for _, ns := range lx.Namespaces {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(ns)})
			}
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "true")
	})
	// A capability outside sbx's own bounding set, or one no kernel
	// knows, is left out with a warning naming it, as the runtime-spec
	// asks ("SHOULD NOT fail") and runc does.
	t.Run("capabilities", func(t *testing.T) {
		bounding := capBounding(t)
		var have []string
		var mask uint64
		for i, c := range append(lx.Capabilities, "CAP_NONEXISTENT") {
			if i >= len(lx.Capabilities) || bounding&(1<<i) == 0 {
				b := o.bundle(func(s *specs.Spec) {
					s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{c}, Effective: []string{c}, Permitted: []string{c}}
				}, "grep", "CapBnd", "/proc/self/status")
				out, errs, code := o.run("run", "--bundle", b, id("cap-ignored"))
				if code != 0 || out != "CapBnd:\t0000000000000000\n" || !strings.Contains(errs, "ignoring unknown or unavailable capabilities: ["+c+"]") {
					t.Errorf("%s (not in sbx's bounding set): exit %d, %q, stderr %q; want it left out with a warning", c, code, out, errs)
				}
				continue
			}
			have, mask = append(have, c), mask|1<<i
		}
		out, _ := works(t, fmt.Sprintf("capabilities %v", have), func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: have, Effective: have, Permitted: have}
		}, "grep", "CapEff", "/proc/self/status")
		if want := fmt.Sprintf("CapEff:\t%016x\n", mask); out != want {
			t.Errorf("with every capability features lists that sbx has: %q, want %q", out, want)
		}
	})
	// An option sbx does not know is passed to the filesystem, and for a
	// bind ignored with a warning.
	t.Run("mountOptions", func(t *testing.T) {
		src := t.TempDir()
		_, errs := works(t, fmt.Sprintf("mount options %v", f.MountOptions), func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/root", Type: "tmpfs", Source: "tmpfs"})
			for i, opt := range f.MountOptions {
				if opt == "idmap" || opt == "ridmap" {
					continue // TestFeaturesIDMap
				}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: fmt.Sprintf("/root/%d", i), Type: "bind", Source: src, Options: []string{"bind", opt}})
			}
		}, "true")
		if strings.Contains(errs, "ignored") {
			t.Errorf("features lists mount options sbx ignores: %s", errs)
		}
	})
	t.Run("rdma", func(t *testing.T) {
		if lx.Cgroup == nil || !enabled(lx.Cgroup.Rdma) {
			t.Fatal("features: cgroup.rdma is not true, though sbx applies linux.resources.rdma")
		}
		rdma := func(s *specs.Spec) {
			handles := uint32(3)
			s.Linux.Resources = &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: &handles}}}
		}
		if hostHasController("rdma") {
			works(t, "cgroup.rdma", rdma, "true")
			return
		}
		o.refuses("rdma on a host without the controller", rdma, "needs the rdma controller")
	})
	for _, c := range []struct {
		name    string
		claimed bool
		edit    func(*specs.Spec)
		refusal string
	}{
		{"apparmor", lx.Apparmor != nil && enabled(lx.Apparmor.Enabled),
			func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" }, "AppArmor is not enabled"},
		{"selinux", lx.Selinux != nil && enabled(lx.Selinux.Enabled),
			func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, "SELinux is not supported"},
		{"intelRdt", lx.IntelRdt != nil && enabled(lx.IntelRdt.Enabled),
			func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "sbx"} }, "linux.intelRdt"},
		{"netDevices", lx.NetDevices != nil && enabled(lx.NetDevices.Enabled),
			func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"lo": {}} }, "linux.netDevices"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.claimed {
				works(t, c.name, c.edit, "true")
				return
			}
			o.refuses(c.name+" (features: not enabled)", c.edit, c.refusal)
		})
	}
	t.Run("systemd", func(t *testing.T) {
		claimed := lx.Cgroup != nil && (enabled(lx.Cgroup.Systemd) || enabled(lx.Cgroup.SystemdUser))
		_, errs, code := o.run("--systemd-cgroup", "list")
		if refused := code != 0 && strings.Contains(errs, "systemd cgroup driver is not supported"); refused == claimed {
			t.Errorf("features: systemd cgroups enabled = %v, but sbx --systemd-cgroup list: exit %d, %q", claimed, code, errs)
		}
	})
}
