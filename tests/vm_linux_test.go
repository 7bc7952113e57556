package tests

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestPureCgroupV2 runs sbx where most users run it and this host cannot:
// a pure cgroup v2 hierarchy (this host is hybrid, its v2 side holding only
// hugetlb) on a distribution kernel older than the pidfs and PIDFD_GET_INFO
// this host's has. It boots Debian 12's kernel in qemu (TCG; the host has no
// KVM) with an initramfs holding a static sbx, BusyBox and vm/checks.sh,
// which checks the sandbox's namespaces and limits, OOM and fork-loop
// containment, the timeout's tree kill, and an OCI container's lifecycle
// with its limits, update, pause and kill --all, each read back from the
// cgroup files, and that no group is left; then the same as uid 1000 in a
// delegated subtree (sbx run, and a rootless OCI container), and the
// refusal of limits outside it; and AppArmor, which Debian's kernel
// enables: a confined container, exec under its profile and another. qemu
// is installed with apt-get when missing; the kernel and apparmor packages
// are downloaded into ../bin/vm once.
func TestPureCgroupV2(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the cgroup v2 VM in -short mode")
	}
	if goruntime.GOARCH != "amd64" {
		t.Skip("the cgroup v2 VM boots Debian's amd64 kernel")
	}
	if os.Geteuid() != 0 {
		t.Skip("the cgroup v2 VM needs root: apt-get of qemu-system-x86 and Debian's kernel package")
	}
	if env.rootErr != nil {
		t.Fatalf("BusyBox rootfs: %v", env.rootErr)
	}
	qemu := aptCommand(t, "qemu-system-x86_64", "qemu-system-x86")
	// null_blk (which needs configfs) gives the VM a block device to
	// throttle, bfq its weights.
	kernel, modules := debianKernel(t, "fs/configfs/configfs.ko", "drivers/block/null_blk/null_blk.ko", "block/bfq.ko")

	stage := filepath.Join(t.TempDir(), "initramfs")
	if out, err := exec.Command("cp", "-a", env.rootfs, stage).CombinedOutput(); err != nil {
		t.Fatalf("copying the BusyBox rootfs: %v\n%s", err, out)
	}
	staticSbx(t, filepath.Join(stage, "sbx"))
	for _, f := range []string{"init", "checks.sh"} {
		copyFile(t, filepath.Join("vm", f), filepath.Join(stage, f), 0o755)
	}
	// The OCI bundles. /bundle's root is a second copy of BusyBox, and its
	// limits are the ones checks.sh reads back. /bundle-rootless is
	// `sbx spec --rootless`'s for uid 1000, whose relative cgroupsPath
	// puts its group below that user's delegated subtree.
	sleep := []string{"sleep", "60"}
	writeSpecBundle(t, filepath.Join(stage, "bundle"), false, sleep, func(s *specs.Spec) {
		s.Root.Path = "rootfs"
		s.Linux.CgroupsPath = "/vmtest/vm1"
		mem, pids, quota, period := int64(64<<20), int64(32), int64(25000), uint64(100000)
		reservation, shares := int64(32<<20), uint64(512)
		s.Linux.Resources = &specs.LinuxResources{
			Memory:         &specs.LinuxMemory{Limit: &mem, Swap: &mem, Reservation: &reservation}, // no swap
			Pids:           &specs.LinuxPids{Limit: &pids},
			CPU:            &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares, Cpus: "1", Mems: "0"},
			Unified:        map[string]string{"memory.high": "62914560"},
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
			// Every device denied but the container's own /dev, as
			// runc's default config has it.
			Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		}
	})
	if out, err := exec.Command("cp", "-a", env.rootfs, filepath.Join(stage, "bundle", "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copying the BusyBox rootfs: %v\n%s", err, out)
	}
	writeSpecBundle(t, filepath.Join(stage, "bundle-rootless"), true, sleep, func(s *specs.Spec) {
		s.Root.Path = "/bundle/rootfs"
		s.Linux.CgroupsPath = "vmtest/r1"
		pids := int64(24)
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}}
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	})
	// AppArmor, which Debian's kernel enables and this host lacks: Debian's
	// apparmor_parser, which needs only the C library (this Debian host's),
	// and a bundle confined by the profile checks.sh loads.
	for dst, src := range map[string]string{
		"sbin/apparmor_parser":           debianFiles(t, "apparmor", "sbin/apparmor_parser")[0],
		"lib/x86_64-linux-gnu/libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6",
		"lib64/ld-linux-x86-64.so.2":     "/lib64/ld-linux-x86-64.so.2",
	} {
		copyFile(t, src, filepath.Join(stage, dst), 0o755)
	}
	writeSpecBundle(t, filepath.Join(stage, "bundle-aa"), false, sleep, func(s *specs.Spec) {
		s.Root.Path = "/bundle/rootfs"
		s.Process.ApparmorProfile = "sbx-vm-test"
	})
	for _, m := range modules {
		copyFile(t, m, filepath.Join(stage, "modules", filepath.Base(m)), 0o644)
	}
	for _, d := range []string{"newroot", "run"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	cpio := exec.Command("sh", "-c", `find . | busybox cpio -o -H newc >"$1"`, "sh", initrd)
	cpio.Dir = stage
	if out, err := cpio.CombinedOutput(); err != nil {
		t.Fatalf("building the initramfs: %v\n%s", err, out)
	}

	// TCG boots and runs the checks in about 10 s here; a hung check is
	// what the deadline is for.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vm := exec.CommandContext(ctx, qemu, "-m", "1024", "-smp", "2", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet rdinit=/init")
	out, err := vm.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the VM did not power off within 3 minutes; its console:\n%s", out)
	}
	if err != nil {
		t.Fatalf("qemu: %v; its console:\n%s", err, out)
	}
	checkTAP(t, out)
}

// checkTAP reads the TAP that checks.sh prints between "vm: begin" and
// "vm: end" and fails the test for every "not ok", a wrong plan or an
// output that never reached the end.
func checkTAP(t *testing.T, console []byte) {
	t.Helper()
	var tap []string
	in, ended := false, false
	sc := bufio.NewScanner(bytes.NewReader(console))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		// The kernel's messages (an OOM kill) interleave with the checks'.
		if strings.Contains(line, "vm: begin") {
			in = true
			continue
		}
		if line == "vm: end" {
			ended = true
			break
		}
		if in {
			tap = append(tap, line)
		}
	}
	if !ended {
		t.Fatalf("checks.sh did not finish; the VM's console:\n%s", console)
	}
	result := regexp.MustCompile(`^(not ok|ok) (\d+) - (.*)$`)
	plan := regexp.MustCompile(`^1\.\.(\d+)$`)
	ran, planned := 0, -1
	for i, line := range tap {
		if m := plan.FindStringSubmatch(line); m != nil {
			fmt.Sscan(m[1], &planned)
			continue
		}
		t.Log(line)
		m := result.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ran++
		if m[1] == "not ok" {
			var why []string
			for _, l := range tap[i+1:] {
				if !strings.HasPrefix(l, "# ") {
					break
				}
				why = append(why, l[2:])
			}
			t.Errorf("in the VM: %s: %s", m[3], strings.Join(why, "\n\t"))
		}
	}
	if ran == 0 || planned != ran {
		t.Errorf("in the VM: %d checks ran, the plan says %d; the TAP:\n%s", ran, planned, strings.Join(tap, "\n"))
	}
}

// aptCommand finds command, installing Debian's pkg when it is missing.
func aptCommand(t *testing.T, command, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(command); err == nil {
		return p
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skipf("%s is missing and there is no apt-get to install %s", command, pkg)
	}
	install := exec.Command("sh", "-c", `apt-get install -y -qq "$1" >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq "$1"; }`, "sh", pkg)
	install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install %s: %v\n%s", pkg, err, out)
	}
	p, err := exec.LookPath(command)
	if err != nil {
		t.Fatalf("%s installed, but %v", pkg, err)
	}
	return p
}

// debianKernel returns the vmlinuz of the kernel package Debian's
// linux-image-amd64 depends on, and its modules named (paths below
// kernel/ in its module tree).
func debianKernel(t *testing.T, modules ...string) (string, []string) {
	t.Helper()
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil || !bytes.Contains(out, []byte("Depends: linux-image-")) {
		if up, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, up)
		}
		out, err = exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
		if err != nil {
			t.Fatalf("apt-cache depends linux-image-amd64: %v", err)
		}
	}
	pkg := regexp.MustCompile(`Depends: (linux-image-\S+)`).FindSubmatch(out)
	if pkg == nil {
		t.Fatalf("apt-cache depends linux-image-amd64 names no kernel package:\n%s", out)
	}
	name := string(pkg[1])
	version := strings.TrimPrefix(name, "linux-image-")
	files := []string{"boot/vmlinuz-" + version}
	for _, m := range modules {
		files = append(files, path.Join("lib/modules", version, "kernel", m))
	}
	got := debianFiles(t, name, files...)
	return got[0], got[1:]
}

// debianFiles returns files (paths inside Debian's package pkg), taken
// from the package downloaded, not installed, into ../bin/vm once.
func debianFiles(t *testing.T, pkg string, files ...string) []string {
	t.Helper()
	cache, err := filepath.Abs(filepath.Join("..", "bin", "vm", pkg))
	if err != nil {
		t.Fatal(err)
	}
	var cached []string
	missing := false
	for _, f := range files {
		c := filepath.Join(cache, filepath.Base(f))
		cached = append(cached, c)
		if _, err := os.Stat(c); err != nil {
			missing = true
		}
	}
	if !missing {
		return cached
	}
	dl := t.TempDir()
	// apt-get download drops privileges to _apt, which must write there.
	if err := os.Chmod(dl, 0o777); err != nil {
		t.Fatal(err)
	}
	get := exec.Command("apt-get", "download", "-qq", pkg)
	get.Dir = dl
	if out, err := get.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dl, pkg+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("apt-get download %s left %v", pkg, debs)
	}
	x := filepath.Join(dl, "x")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", debs[0], err, out)
	}
	for i, f := range files {
		copyFile(t, filepath.Join(x, f), cached[i], 0o755)
	}
	return cached
}

// staticSbx builds sbx as `make build` does, statically, for a VM that has
// no C library.
func staticSbx(t *testing.T, dst string) {
	t.Helper()
	build := exec.Command(goTool(), "build", "-tags=urfave_cli_no_docs,netgo,osusergo",
		"-ldflags=-linkmode external -extldflags -static", "-o", dst, "sbx.dev/sbx/cmd/sbx")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a static sbx: %v\n%s", err, out)
	}
}

// copyFile copies src to dst, making dst's directory.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	// Write to a temporary name first: a cached file is never half there.
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}
