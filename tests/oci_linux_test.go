package tests

import (
	"bufio"
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociRuntime drives sbx as an OCI runtime with a private state root.
type ociRuntime struct {
	t    *testing.T
	root string
}

func newOCI(t *testing.T) *ociRuntime {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the OCI tests create containers as root")
	}
	if env.rootErr != nil {
		t.Fatalf("BusyBox rootfs: %v", env.rootErr)
	}
	return &ociRuntime{t: t, root: t.TempDir()}
}

// run runs sbx --root R args… and returns stdout, stderr and the status.
// Its stdout and stderr are files, not pipes: a container created by it
// keeps them open after sbx exits.
func (o *ociRuntime) run(args ...string) (string, string, int) {
	o.t.Helper()
	return o.runFiles(nil, args...)
}

// runFiles is run with extra files for sbx (fds 3, 4, …). An sbx that
// hangs is killed after a minute, failing the test instead of the suite.
func (o *ociRuntime) runFiles(extra []*os.File, args ...string) (string, string, int) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.sbx, append([]string{"--root", o.root}, args...)...)
	outF, errF := o.tempFile(), o.tempFile()
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = outF, errF, extra
	err := cmd.Run()
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	code := 0
	if ctx.Err() != nil {
		o.t.Fatalf("sbx %v did not return within a minute; killed it\nstderr: %s", args, errb)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		o.t.Fatalf("sbx %v: %v", args, err)
	}
	return string(out), string(errb), code
}

func (o *ociRuntime) tempFile() *os.File {
	f, err := os.CreateTemp(o.t.TempDir(), "out")
	if err != nil {
		o.t.Fatal(err)
	}
	return f
}

// must runs sbx and fails the test unless it exits 0.
func (o *ociRuntime) must(args ...string) string {
	o.t.Helper()
	out, errs, code := o.run(args...)
	if code != 0 {
		o.t.Fatalf("sbx %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func (o *ociRuntime) state(id string) specs.State {
	o.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(o.must("state", id)), &st); err != nil {
		o.t.Fatalf("sbx state %s: %v", id, err)
	}
	return st
}

// waitStatus waits until the container has status want.
func (o *ociRuntime) waitStatus(id string, want specs.ContainerState) {
	o.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := o.state(id)
		if st.Status == want {
			return
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("container %s is %s, want %s", id, st.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bundle writes a bundle whose root is the BusyBox rootfs and whose
// config is `sbx spec`'s, running args, changed by edit.
func (o *ociRuntime) bundle(edit func(*specs.Spec), args ...string) string {
	o.t.Helper()
	dir := o.t.TempDir()
	writeSpecBundle(o.t, dir, false, args, func(s *specs.Spec) {
		s.Root.Path = env.rootfs
		if edit != nil {
			edit(s)
		}
	})
	return dir
}

// writeSpecBundle writes dir/config.json (making dir): `sbx spec
// [--rootless]`'s config, without a terminal, running args, changed by
// edit.
func writeSpecBundle(t *testing.T, dir string, rootless bool, args []string, edit func(*specs.Spec)) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := []string{"spec", "--bundle", dir}
	if rootless {
		cmd = append(cmd, "--rootless")
	}
	if out, err := exec.Command(env.sbx, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("sbx %v: %v\n%s", cmd, err, out)
	}
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	edit(&s)
	writeConfig(t, path, &s)
}

// writeConfig writes s as the config.json at path.
func writeConfig(t *testing.T, path string, s *specs.Spec) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// refuses checks that create fails for the bundle edit makes (running
// true), with an error saying want, and leaves no container behind.
func (o *ociRuntime) refuses(what string, edit func(*specs.Spec), want string) {
	o.t.Helper()
	name := id("refused")
	_, errs, code := o.run("create", "--bundle", o.bundle(edit, "true"), name)
	if code == 0 || !strings.Contains(errs, want) {
		o.run("delete", "--force", name)
		o.t.Errorf("create with %s: exit %d, stderr %q; want a refusal saying %q", what, code, errs, want)
		return
	}
	if _, _, code := o.run("state", name); code == 0 {
		o.t.Errorf("create with %s was refused but left container %s behind", what, name)
	}
}

// processFile writes p as the JSON file `exec --process` reads.
func (o *ociRuntime) processFile(p specs.Process) string {
	o.t.Helper()
	f := filepath.Join(o.t.TempDir(), "process.json")
	bs, err := json.Marshal(p)
	if err != nil {
		o.t.Fatal(err)
	}
	if err := os.WriteFile(f, bs, 0o644); err != nil {
		o.t.Fatal(err)
	}
	return f
}

// cleanup deletes the container at the end of the test, whatever state
// it is in.
func (o *ociRuntime) cleanup(id string) {
	o.t.Cleanup(func() { o.run("delete", "--force", id) })
}

// id makes a container id unique to this test process: the default
// cgroup path (/sbx/ID) is shared by every state root.
func id(name string) string { return name + "-" + strconv.Itoa(os.Getpid()) }

func TestOCILifecycle(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(nil, "sleep", "1000")
	pidFile := filepath.Join(t.TempDir(), "pid")
	o.cleanup(id("life"))
	o.must("create", "--bundle", b, "--pid-file", pidFile, id("life"))
	st := o.state(id("life"))
	pid, _ := os.ReadFile(pidFile)
	if st.Status != specs.StateCreated || strconv.Itoa(st.Pid) != string(pid) || st.Pid == 0 || st.Bundle != b {
		t.Fatalf("after create: state %+v, pid file %q", st, pid)
	}
	// Waiting at the gate, in namespaces of its own.
	for _, ns := range []string{"pid", "mnt", "net", "ipc", "uts", "cgroup"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		ctr, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, ns))
		if err != nil || ctr == host {
			t.Errorf("namespace %s of the container = %q (%v), want one of its own (host %q)", ns, ctr, err, host)
		}
	}
	o.must("start", id("life"))
	o.waitStatus(id("life"), specs.StateRunning)
	if out := o.must("exec", id("life"), "sh", "-c", "echo hello from $$"); out != "hello from 2\n" {
		t.Errorf("exec output = %q, want the second process of the container's pid namespace", out)
	}
	// --cap adds a capability the config's sets lack (CAP_NET_ADMIN,
	// bit 12), without the ambient raise a process without inheritable
	// capabilities cannot get (runc's rule), so without a warning.
	out, errs, code := o.run("exec", "--cap", "CAP_NET_ADMIN", id("life"), "grep", "^CapEff", "/proc/self/status")
	eff, perr := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(out, "CapEff:")), 16, 64)
	if code != 0 || perr != nil || eff&(1<<12) == 0 || errs != "" {
		t.Errorf("exec --cap CAP_NET_ADMIN: exit %d, %q, stderr %q; want CapEff with bit 12 and no warning", code, out, errs)
	}
	o.must("exec", "--detach", id("life"), "sleep", "1000")
	var pids []int
	if err := json.Unmarshal([]byte(o.must("ps", "--format", "json", id("life"))), &pids); err != nil || len(pids) < 2 || !slices.Contains(pids, st.Pid) {
		t.Errorf("ps --format json = %v (%v), want the process %d and the exec'd one", pids, err, st.Pid)
	}
	if _, errs, code := o.run("resume", id("life")); code == 0 || !strings.Contains(errs, "not paused") {
		t.Errorf("resume of a running container: exit %d, %q; want a refusal, as runc's", code, errs)
	}
	o.must("pause", id("life"))
	o.waitStatus(id("life"), specs.ContainerState("paused"))
	if _, errs, code := o.run("pause", id("life")); code == 0 || !strings.Contains(errs, "paused already") {
		t.Errorf("pause of a paused container: exit %d, %q; want a refusal, as runc's", code, errs)
	}
	// runc's refusal: the new process would freeze before its exec.
	if _, errs, code := o.run("exec", id("life"), "true"); code == 0 || !strings.Contains(errs, "cannot exec in a paused container") {
		t.Errorf("exec in a paused container: exit %d, %q; want an error saying it is paused", code, errs)
	}
	o.must("resume", id("life"))
	o.waitStatus(id("life"), specs.StateRunning)
	o.must("kill", id("life"), "KILL")
	o.waitStatus(id("life"), specs.StateStopped)
	if _, errs, code := o.run("kill", id("life"), "TERM"); code == 0 || !strings.Contains(errs, "container not running") {
		t.Errorf("kill of a stopped container: exit %d, %q; want an error saying container not running", code, errs)
	}
	o.must("delete", id("life"))
	if _, errs, code := o.run("state", id("life")); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("state after delete: exit %d, %q; want does not exist", code, errs)
	}
	if entries, _ := os.ReadDir(o.root); len(entries) != 0 {
		t.Errorf("state root after delete holds %v", entries)
	}
}

// TestOCICallerMountNamespace: a config without a mount namespace shares
// the caller's (runtime-spec: an omitted namespace is inherited). Its root
// is a detached mount tree the process chroots into, so none of its mounts
// shows in the caller's mount table, during or after; exec finds the same
// root; a new user namespace without a mount namespace is refused.
func TestOCICallerMountNamespace(t *testing.T) {
	o := newOCI(t)
	noMountNS := func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.MountNamespace
		})
	}
	mountsUnderRoot := func() []string {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		var under []string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], env.rootfs) {
				under = append(under, f[4])
			}
		}
		return under
	}
	c := id("hostmnt")
	o.cleanup(c)
	o.must("create", "--bundle", o.bundle(noMountNS, "sleep", "1000"), c)
	o.must("start", c)
	pid := o.state(c).Pid
	host, _ := os.Readlink("/proc/self/ns/mnt")
	if ctr, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err != nil || ctr != host {
		t.Errorf("mount namespace of the container = %q (%v), want the caller's %q", ctr, err, host)
	}
	if m := mountsUnderRoot(); len(m) != 0 {
		t.Errorf("the running container's mounts show in the caller's mount table: %v", m)
	}
	want, err := os.ReadFile(filepath.Join(env.rootfs, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	// The container's own root, with its /proc (the process is pid 1 of
	// its pid namespace there) and /dev; exec gets the same root.
	script := "cat /etc/passwd; cat /proc/1/cmdline; echo; ls /dev/null; pwd"
	wantOut := string(want) + "sleep\x001000\x00\n/dev/null\n/tmp\n"
	if out := o.must("exec", "--cwd", "/tmp", c, "sh", "-c", script); out != wantOut {
		t.Errorf("exec in the container: %q, want %q", out, wantOut)
	}
	if got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/passwd", pid)); err != nil || string(got) != string(want) {
		t.Errorf("the container's root holds /etc/passwd %q (%v), want the rootfs's", got, err)
	}
	o.must("kill", c, "KILL")
	o.waitStatus(c, specs.StateStopped)
	o.must("delete", c)
	if m := mountsUnderRoot(); len(m) != 0 {
		t.Errorf("mounts left in the caller's mount table after delete: %v", m)
	}
	o.refuses("a user namespace and no mount namespace", func(s *specs.Spec) {
		noMountNS(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}, "linux.namespaces: no mount namespace listed")
}

// TestOCISchedulerAndAffinity: process.scheduler is the process's policy
// and nice value (create and exec); an exec's execCPUAffinity.final is its
// affinity; linux.memoryPolicy is the container's NUMA policy; bad values
// are refused by field.
func TestOCISchedulerAndAffinity(t *testing.T) {
	o := newOCI(t)
	if _, err := os.Stat("/proc/self/numa_maps"); err != nil {
		t.Skip("needs a kernel with NUMA (CONFIG_NUMA) for /proc/PID/numa_maps")
	}
	// Fields 19 and 41 of /proc/self/stat: nice and policy (comm is "(sh)");
	// the policy of the first mapping in numa_maps is the task's.
	stat := "cut -d ' ' -f 19,41 /proc/self/stat"
	numa := "head -n 1 /proc/self/numa_maps | cut -d ' ' -f 2"
	c := id("sched")
	o.cleanup(c)
	b := o.bundle(func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}
	}, "sh", "-c", stat+"; "+numa+"; exec sleep 1000")
	out := filepath.Join(t.TempDir(), "out")
	outF, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	cmd := exec.Command(env.sbx, "--root", o.root, "create", "--bundle", b, c)
	cmd.Stdout, cmd.Stderr = outF, outF
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v", err)
	}
	o.must("start", c)
	deadline := time.Now().Add(10 * time.Second)
	for got, _ := os.ReadFile(out); string(got) != "5 3\nbind=static:0\n"; got, _ = os.ReadFile(out) {
		if time.Now().After(deadline) {
			t.Fatalf("container with SCHED_BATCH nice 5 and MPOL_BIND static node 0: %q, want \"5 3\\nbind=static:0\\n\"", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	process := o.processFile
	p := specs.Process{Args: []string{"sh", "-c", stat + "; grep Cpus_allowed_list /proc/self/status"}, Cwd: "/",
		Env: []string{"PATH=/bin"}, Scheduler: &specs.Scheduler{Policy: specs.SchedIdle},
		ExecCPUAffinity: &specs.CPUAffinity{Initial: "0-1", Final: "1"}}
	// The exec'd process has the container's memory policy too.
	p.Args[2] += "; " + numa
	if got := o.must("exec", "--process", process(p), c); got != "0 5\nCpus_allowed_list:\t1\nbind=static:0\n" {
		t.Errorf("exec with SCHED_IDLE and final affinity 1: %q", got)
	}
	for field, p := range map[string]specs.Process{
		"process.scheduler.policy":        {Scheduler: &specs.Scheduler{Policy: "SCHED_FAST"}},
		"process.execCPUAffinity.final":   {ExecCPUAffinity: &specs.CPUAffinity{Final: "1-0"}},
		"process.execCPUAffinity.initial": {ExecCPUAffinity: &specs.CPUAffinity{Initial: "x"}},
		"spawn: sched_setaffinity":        {ExecCPUAffinity: &specs.CPUAffinity{Final: "1000"}},
	} {
		p.Args, p.Cwd = []string{"true"}, "/"
		if _, errs, code := o.run("exec", "--process", process(p), c); code == 0 || !strings.Contains(errs, field) {
			t.Errorf("exec with a bad %s: exit %d, %q; want an error naming it", field, code, errs)
		}
	}
	for want, mp := range map[string]specs.LinuxMemoryPolicy{
		"linux.memoryPolicy.mode":     {Mode: "MPOL_NOPE"},
		"linux.memoryPolicy.flags[0]": {Mode: specs.MpolDefault, Flags: []specs.MemoryPolicyFlagType{"MPOL_F_NOPE"}},
		"linux.memoryPolicy.nodes":    {Mode: specs.MpolBind, Nodes: "0-"},
		"spawn: set_mempolicy":        {Mode: specs.MpolBind, Nodes: "63"}, // no such node
	} {
		o.refuses(fmt.Sprintf("memory policy %+v", mp), func(s *specs.Spec) { s.Linux.MemoryPolicy = &mp }, want)
	}
}

func TestOCIKillAllAndForceDelete(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(nil, "sh", "-c", "sleep 1000 & sleep 1000 & wait")
	o.cleanup(id("all"))
	o.must("create", "--bundle", b, id("all"))
	o.must("start", id("all"))
	o.waitStatus(id("all"), specs.StateRunning)
	if _, errs, code := o.run("delete", id("all")); code == 0 || !strings.Contains(errs, "not stopped") {
		t.Errorf("delete of a running container: exit %d, %q; want a refusal", code, errs)
	}
	o.must("kill", "--all", id("all"), "TERM")
	o.waitStatus(id("all"), specs.StateStopped)
	o.must("delete", "--force", id("all"))
	// A created container is not stopped either (the runtime-spec; runc
	// deletes it); --force does, and kills its process.
	o.must("create", "--bundle", b, id("gated"))
	pid := o.state(id("gated")).Pid
	if _, errs, code := o.run("delete", id("gated")); code == 0 || !strings.Contains(errs, "not stopped") {
		t.Errorf("delete of a created container: exit %d, %q; want a refusal", code, errs)
	}
	if st := o.state(id("gated")); st.Status != specs.StateCreated || st.Pid != pid {
		t.Errorf("after a refused delete: state %s pid %d, want created %d", st.Status, st.Pid, pid)
	}
	o.must("delete", "--force", id("gated"))
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(st), ") Z") {
			t.Errorf("process %d of the deleted created container is alive", pid)
		}
	}
	// In the host's pid namespace what the process started outlives it in
	// its cgroup; kill --all still reaches it once the process has exited
	// (containerd's shim sends it then), as under runc.
	dir := t.TempDir()
	shared := o.bundle(func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.PIDNamespace })
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: dir, Options: []string{"rbind"}})
	}, "sh", "-c", "sleep 1000 & echo $! > /mnt/pid")
	o.cleanup(id("shared-pid"))
	o.must("create", "--bundle", shared, id("shared-pid"))
	o.must("start", id("shared-pid"))
	o.waitStatus(id("shared-pid"), specs.StateStopped)
	pidText, err := os.ReadFile(filepath.Join(dir, "pid"))
	left, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil || left <= 0 {
		t.Fatalf("the container's background pid: %q, %v", pidText, err)
	}
	o.must("kill", "--all", id("shared-pid"), "KILL")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", left))
		if err != nil || strings.Contains(string(st), ") Z") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d, left by the stopped container, lives on after kill --all", left)
			break
		}
	}
	o.must("delete", id("shared-pid"))
}

func TestOCIRunExitStatus(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(nil, "sh", "-c", "echo out; exit 3")
	out, errs, code := o.run("run", "--bundle", b, id("runner"))
	if code != 3 || out != "out\n" {
		t.Errorf("sbx run: exit %d, stdout %q, stderr %q; want 3 and out", code, out, errs)
	}
	if entries, _ := os.ReadDir(o.root); len(entries) != 0 {
		t.Errorf("state root after run holds %v", entries)
	}
}

// TestOCIDomainname: domainname is the container's NIS domain name, set
// in its uts namespace, and refused without one (runc's rule).
func TestOCIDomainname(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(func(s *specs.Spec) { s.Domainname = "sbx.example" }, "cat", "/proc/sys/kernel/domainname")
	out, errs, code := o.run("run", "--bundle", b, id("domain"))
	if code != 0 || out != "sbx.example\n" {
		t.Errorf("domainname in the container: exit %d, %q, stderr %q; want sbx.example", code, out, errs)
	}
	o.refuses("domainname without a uts namespace", func(s *specs.Spec) {
		s.Domainname, s.Hostname = "sbx.example", ""
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.UTSNamespace
		})
	}, "domainname")
}

// TestOCIConsoleSize: process.consoleSize is the size of the terminal
// sent over --console-socket, for create and for exec.
func TestOCIConsoleSize(t *testing.T) {
	o := newOCI(t)
	size := &specs.Box{Height: 33, Width: 111}
	b := o.bundle(func(s *specs.Spec) {
		s.Process.Terminal, s.Process.ConsoleSize = true, size
	}, "sh", "-c", "stty size; sleep 1000")
	ctr := id("console-size")
	o.cleanup(ctr)
	socket, output := consoleOutput(t)
	o.must("create", "--console-socket", socket, "--bundle", b, ctr)
	o.must("start", ctr)
	if got := <-output; !strings.HasPrefix(got, "33 111") {
		t.Errorf("stty size in the container = %q, want 33 111", got)
	}
	proc := o.processFile(specs.Process{Terminal: true, ConsoleSize: &specs.Box{Height: 44, Width: 99}, Args: []string{"stty", "size"}, Cwd: "/"})
	socket, output = consoleOutput(t)
	o.must("exec", "--detach", "--console-socket", socket, "--process", proc, ctr)
	if got := <-output; !strings.HasPrefix(got, "44 99") {
		t.Errorf("stty size in an exec'd process = %q, want 44 99", got)
	}
}

// consoleOutput listens on a console socket for one terminal master and
// sends what the terminal prints in its first second.
func consoleOutput(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	out := make(chan string, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			out <- err.Error()
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 16), oob)
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || perr != nil || len(msgs) != 1 {
			out <- fmt.Sprintf("no terminal received: %v %v", err, perr)
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			out <- fmt.Sprintf("no terminal received: %v", err)
			return
		}
		// Non-blocking, so that the runtime's poller honours the deadline.
		if err := unix.SetNonblock(fds[0], true); err != nil {
			out <- err.Error()
			return
		}
		master := os.NewFile(uintptr(fds[0]), "master")
		defer master.Close()
		master.SetReadDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(master)
		out <- strings.ReplaceAll(string(b), "\r", "")
	}()
	return path, out
}

func TestOCIHooks(t *testing.T) {
	o := newOCI(t)
	dir := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(dir, name)}}
	}
	// The createContainer hook runs in the container's namespaces before
	// its pivot_root, as runc runs it: a host program (/bin/sh and its
	// libraries) at the host's "/", the container's root with its mounts
	// at root.path. What it writes there, the container finds.
	t.Cleanup(func() { os.Remove(filepath.Join(env.rootfs, "tmp", "marker")) }) // should it land there
	inside := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
		"readlink /proc/self/ns/net > " + filepath.Join(dir, "hook-netns") + " && echo from-hook > " + filepath.Join(env.rootfs, "tmp", "marker")}}
	b := o.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")}, //nolint:staticcheck // still a hook kind to run
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer"), inside},
			// A failing poststart or poststop hook is warned of; the
			// ones after it still run, and start and delete succeed.
			Poststart: []specs.Hook{{Path: "/bin/false"}, hook("poststart")},
			Poststop: []specs.Hook{{Path: "/bin/false"}, hook("poststop"),
				// Without env of its own a hook has sbx's, as under runc;
				// it runs in the bundle directory.
				{Path: "/bin/sh", Args: []string{"sh", "-c", "pwd > " + filepath.Join(dir, "hook-env") + "; echo $HOME >> " + filepath.Join(dir, "hook-env")}},
				{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ${HOME:-none} > " + filepath.Join(dir, "hook-setenv")}, Env: []string{"X=1"}}},
		}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
			specs.Mount{Destination: "/root", Type: "bind", Source: dir, Options: []string{"bind"}})
	}, "sh", "-c", "cat /tmp/marker > /root/seen && readlink /proc/self/ns/net >> /root/seen")
	o.cleanup(id("hooked"))
	o.must("create", "--bundle", b, id("hooked"))
	pid := o.state(id("hooked")).Pid
	o.must("start", id("hooked"))
	o.waitStatus(id("hooked"), specs.StateStopped)
	o.must("delete", id("hooked"))
	// The create-time hooks run after the environment is made (the
	// runtime-spec's lifecycle, step 3 on): the container is created.
	for _, want := range []struct {
		name   string
		status specs.ContainerState
		pid    int
	}{
		{"prestart", specs.StateCreated, pid}, {"createRuntime", specs.StateCreated, pid},
		{"createContainer", specs.StateCreated, pid}, {"poststart", specs.StateRunning, pid},
		{"poststop", specs.StateStopped, 0},
	} {
		b, err := os.ReadFile(filepath.Join(dir, want.name))
		var st specs.State
		if err != nil || json.Unmarshal(b, &st) != nil || st.ID != id("hooked") {
			t.Errorf("%s hook: got state %q (%v), want the container's state on stdin", want.name, b, err)
			continue
		}
		if st.Status != want.status || st.Pid != want.pid {
			t.Errorf("%s hook: status %q pid %d, want %q %d", want.name, st.Status, st.Pid, want.status, want.pid)
		}
	}
	if got, want := readString(t, filepath.Join(dir, "hook-env")), b+"\n"+os.Getenv("HOME")+"\n"; got != want {
		t.Errorf("a hook without env: pwd and HOME %q, want %q (the bundle, and sbx's HOME)", got, want)
	}
	if got := readString(t, filepath.Join(dir, "hook-setenv")); got != "none\n" {
		t.Errorf("a hook with env [X=1]: HOME %q, want none", got)
	}
	seen, _ := os.ReadFile(filepath.Join(dir, "seen"))
	hookNet, _ := os.ReadFile(filepath.Join(dir, "hook-netns"))
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	if want := "from-hook\n" + string(hookNet); string(seen) != want || string(hookNet) == hostNet+"\n" {
		t.Errorf("container saw %q, want %q (the createContainer hook's marker and network namespace, not the host's %s)", seen, want, hostNet)
	}
	if _, err := os.Stat(filepath.Join(env.rootfs, "tmp", "marker")); err == nil {
		t.Error("the createContainer hook's marker landed in the host's rootfs, not the container's /tmp")
	}
	// A failing createRuntime hook fails create and leaves nothing.
	failing := o.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	}, "true")
	if _, errs, code := o.run("create", "--bundle", failing, id("failing")); code == 0 || !strings.Contains(errs, "hook") {
		t.Errorf("create with a failing hook: exit %d, %q; want a hook error", code, errs)
	}
	if entries, _ := os.ReadDir(o.root); len(entries) != 0 {
		t.Errorf("state root after a failed create holds %v", entries)
	}
	// A failing startContainer hook fails start and stops the container
	// (the runtime-spec's lifecycle, step 7), which delete then removes.
	startFails := o.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/false"}}}
	}, "sleep", "60")
	o.cleanup(id("start-hook-fails"))
	o.must("create", "--bundle", startFails, id("start-hook-fails"))
	if _, errs, code := o.run("start", id("start-hook-fails")); code == 0 || !strings.Contains(errs, "startContainer hook") {
		t.Errorf("start with a failing startContainer hook: exit %d, %q; want a hook error", code, errs)
	}
	status := o.state(id("start-hook-fails")).Status
	for deadline := time.Now().Add(5 * time.Second); status != specs.StateStopped && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		status = o.state(id("start-hook-fails")).Status
	}
	if status != specs.StateStopped {
		t.Errorf("after its startContainer hook failed the container is %s, want stopped", status)
	}
	o.must("delete", id("start-hook-fails"))
	// A timeout that is not positive is refused before the hook runs.
	zero, ran := 0, filepath.Join(dir, "ran")
	badTimeout := o.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/touch", Args: []string{"touch", ran}, Timeout: &zero}}}
	}, "true")
	if _, errs, code := o.run("create", "--bundle", badTimeout, id("zero-timeout")); code == 0 || !strings.Contains(errs, "timeout") {
		t.Errorf("create with hook timeout 0: exit %d, %q; want a timeout error", code, errs)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("a hook with timeout 0 was run before being refused")
	}
	// A hook that exits, leaving a process that holds its output open,
	// does not hold create up until that process ends.
	marker := "sbx-hook-bg-" + strconv.Itoa(os.Getpid())
	background := o.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exec -a " + marker + " sleep 60 & exit 0"}}}}
	}, "true")
	o.cleanup(id("bg-hook"))
	began := time.Now()
	_, errs, code := o.run("create", "--bundle", background, id("bg-hook"))
	exec.Command("pkill", "-f", marker).Run()
	if code != 0 || time.Since(began) > 20*time.Second {
		t.Errorf("create with a hook that left a background process: exit %d after %v, %q; want success long before the process ends", code, time.Since(began), errs)
	}
}

func TestOCIErrors(t *testing.T) {
	o := newOCI(t)
	for _, args := range [][]string{{"state", "nope"}, {"start", "nope"}, {"kill", "nope", "KILL"}, {"delete", "nope"}} {
		if _, errs, code := o.run(args...); code == 0 || !strings.Contains(errs, "does not exist") {
			t.Errorf("sbx %v: exit %d, %q; want does not exist", args, code, errs)
		}
	}
	b := o.bundle(nil, "no-such-program")
	if _, errs, code := o.run("create", "--bundle", b, id("missing")); code == 0 || !strings.Contains(errs, "no-such-program") || !strings.Contains(errs, "not found") {
		t.Errorf("create with a missing program: exit %d, %q; want an error naming it, not found", code, errs)
	}
	// What is there but cannot be executed is "permission denied", which
	// podman and Docker turn into exit status 126 (127 is "not found").
	for _, prog := range []string{"/etc/passwd", "/etc", "passwd"} {
		b := o.bundle(func(s *specs.Spec) { s.Process.Env = []string{"PATH=/etc"} }, prog)
		if _, errs, code := o.run("create", "--bundle", b, id("noexec")); code == 0 || !strings.Contains(errs, "permission denied") {
			t.Errorf("create with program %s: exit %d, %q; want permission denied", prog, code, errs)
		}
	}
	// A working directory the image lacks is created, as runc does (an
	// image's WORKDIR, a pod's workingDir), read-only root or not; one
	// that cannot be a directory fails create, named.
	rootfs := copyRootfs(t)
	for _, ro := range []bool{false, true} {
		b := o.bundle(func(s *specs.Spec) { s.Root.Path, s.Process.Cwd, s.Root.Readonly = rootfs, "/no/such/dir", ro }, "pwd")
		if out, errs, code := o.run("run", "--bundle", b, id("cwd")); code != 0 || out != "/no/such/dir\n" {
			t.Errorf("a missing cwd, root read-only %v: exit %d, %q, stderr %q; want it made", ro, code, out, errs)
		}
	}
	o.refuses("a cwd below a file", func(s *specs.Spec) { s.Process.Cwd = "/etc/passwd/dir" }, "/etc/passwd/dir")
	// Docker writes blockIO.weight 0, and 0 for the limits it was not
	// asked for: "not set", as under runc (sbx refused the weight).
	b = o.bundle(func(s *specs.Spec) {
		zero, zw := int64(0), uint16(0)
		s.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &zw},
			Memory: &specs.LinuxMemory{Limit: &zero, Swap: &zero}, CPU: &specs.LinuxCPU{Quota: &zero}}
	}, "true")
	if _, errs, code := o.run("run", "--bundle", b, id("docker-zeros")); code != 0 {
		t.Errorf("Docker's zero resources: exit %d, %q; want them taken as unset", code, errs)
	}
	// exec names a missing or non-executable program as create does
	// (it said "spawn: exec ...: no such file or directory").
	running := o.bundle(nil, "sleep", "60")
	o.cleanup(id("exec-missing"))
	o.must("create", "--bundle", running, id("exec-missing"))
	o.must("start", id("exec-missing"))
	for prog, want := range map[string]string{"no-such-program": "executable file not found", "/etc/passwd": "permission denied"} {
		if _, errs, code := o.run("exec", id("exec-missing"), prog); code == 0 || !strings.Contains(errs, want) {
			t.Errorf("exec of %s: exit %d, %q; want %q", prog, code, errs, want)
		}
	}
	o.must("delete", "--force", id("exec-missing"))
	// What the kernel would refuse naming only a system call is refused
	// naming the field.
	o.refuses("an empty program", func(s *specs.Spec) { s.Process.Args = []string{""} }, "process.args")
	o.refuses("a 65-byte hostname", func(s *specs.Spec) { s.Hostname = strings.Repeat("h", 65) }, "hostname: 65 bytes")
	o.refuses("oomScoreAdj 5000", func(s *specs.Spec) { a := 5000; s.Process.OOMScoreAdj = &a }, "process.oomScoreAdj: 5000")
	o.refuses("overlapping uidMappings", func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 10}, {ContainerID: 5, HostID: 200000, Size: 10}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}, "linux.uidMappings[1]: overlaps linux.uidMappings[0]")
	o.refuses("an rlimit given twice", func(s *specs.Spec) {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 100, Soft: 100}, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 200, Soft: 200})
	}, "is given already")
	// Too little memory to start a process under: the OOM killer took
	// sbx create with the process, which shared its memory, and left the
	// cgroups behind.
	o.refuses("memory.limit 1 MiB", func(s *specs.Spec) {
		l := int64(1 << 20)
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &l}}
	}, "memory.limit: 1048576: must be at least 6291456")
	// (uid_t)-1 is "unchanged" to setresuid(2): the process ran as root.
	o.refuses("uid 4294967295", func(s *specs.Spec) { s.Process.User.UID = 1<<32 - 1 }, "process.user.uid: 4294967295 is not a valid id")
	o.refuses("gid 4294967295", func(s *specs.Spec) { s.Process.User.GID = 1<<32 - 1 }, "process.user.gid: 4294967295 is not a valid id")
	// A mount the kernel refuses is named by its index, type and options
	// (the error named only the system call and the destination).
	o.refuses("a tmpfs size the kernel refuses", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=abc"}})
	}, "(tmpfs on /scratch, options ") // the stderr is logfmt, its quotes escaped
	// An env entry without "=" is refused, as runc refuses it; sbx used to
	// pass it on, and the shell dropped it.
	o.refuses("an env entry without =", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "NOEQ") }, "is not NAME=VALUE")
	// A relative mount destination (deprecated) is relative to "/", as the
	// runtime-spec says; sbx refused it.
	b = o.bundle(func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs"})
	}, "sh", "-c", "grep ' /mnt/rel ' /proc/self/mountinfo | cut -d' ' -f5,9")
	if out, errs, code := o.run("run", "--bundle", b, id("reldest")); code != 0 || out != "/mnt/rel tmpfs\n" || !strings.Contains(errs, "not absolute") {
		t.Errorf("a relative mount destination: exit %d, %q, stderr %q; want a tmpfs at /mnt/rel and a warning", code, out, errs)
	}
	// --preserve-fds counts fds that must be open: a huge count looped
	// for minutes (exec holding the container's lock), a negative one
	// passed.
	b = o.bundle(nil, "true")
	for _, n := range []string{"100000000", "-5"} {
		if _, errs, code := o.run("create", "--preserve-fds", n, "--bundle", b, id("preserve")); code == 0 || !strings.Contains(errs, "--preserve-fds") {
			t.Errorf("create --preserve-fds %s: exit %d, %q; want it refused by name", n, code, errs)
		}
	}
	// A config.json that is a FIFO is refused, not read (create waited
	// for a writer).
	fifoBundle := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(fifoBundle, "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifoDone := make(chan struct{})
	go func() {
		defer close(fifoDone)
		if _, errs, code := o.run("create", "--bundle", fifoBundle, id("fifo-config")); code == 0 || !strings.Contains(errs, "not a regular file") {
			t.Errorf("create with a FIFO as config.json: exit %d, %q; want it refused", code, errs)
		}
	}()
	select {
	case <-fifoDone:
	case <-time.After(20 * time.Second):
		t.Fatal("create with a FIFO as config.json hangs")
	}
	// A namespace path is opened only if it is a namespace file of the
	// listed type: a FIFO there used to hang create.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/etc/hostname", "/proc/self/ns/ipc"} {
		b := o.bundle(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p})
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
				return ns.Type == specs.NetworkNamespace && ns.Path == ""
			})
		}, "true")
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, errs, code := o.run("create", "--bundle", b, id("nspath")); code == 0 || !strings.Contains(errs, "linux.namespaces[") {
				t.Errorf("create joining network namespace %s: exit %d, %q; want an error naming linux.namespaces", p, code, errs)
			}
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("create joining network namespace %s hangs", p)
		}
	}
	// A failure after the start gate (here the chdir as the final user,
	// who cannot enter the directory) has nobody to return it to: the
	// container's process tells it on its own stderr and exits 127.
	denied := o.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/private", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0700"}})
		s.Process.Cwd = "/private"
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	}, "true")
	want := `spawn: chdir "/private": permission denied`
	if _, errs, code := o.run("run", "--bundle", denied, id("denied")); code != 127 || !strings.Contains(errs, want) {
		t.Errorf("run with a cwd the user cannot enter: exit %d, stderr %q; want 127 and %q", code, errs, want)
	}
	logFile := filepath.Join(t.TempDir(), "log.json")
	o.run("--log", logFile, "--log-format", "json", "state", "nope")
	var line struct{ Level, Msg, Time string }
	if b, err := os.ReadFile(logFile); err != nil || json.Unmarshal(b, &line) != nil || line.Level != "error" || !strings.Contains(line.Msg, "does not exist") || line.Time == "" {
		t.Errorf("--log-format json: log %q, want one {level: error, msg, time} line", b)
	}
	// A warning is "warning", as runc (logrus) names it, not slog's "warn":
	// a relative mount destination is warned of.
	warnLog := filepath.Join(t.TempDir(), "log.json")
	warned := o.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs"})
	}, "true")
	o.run("--log", warnLog, "--log-format", "json", "run", "--bundle", warned, id("warned"))
	if b, err := os.ReadFile(warnLog); err != nil || json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &line) != nil || line.Level != "warning" {
		t.Errorf("--log-format json, a warning: log %q, want level warning", b)
	}
	if _, _, code := o.run("checkpoint", "--help"); code == 0 {
		t.Error("checkpoint --help exits 0; podman would think checkpointing works")
	}
	var f struct {
		OCIVersionMax string `json:"ociVersionMax"`
		Hooks         []string
	}
	if err := json.Unmarshal([]byte(o.must("features")), &f); err != nil || f.OCIVersionMax != specs.Version || len(f.Hooks) != 6 {
		t.Errorf("features: %+v, %v", f, err)
	}
}

// TestOCIDevicesAndSysctl: linux.devices are created with their type,
// numbers, mode and owner; linux.sysctl is written in the container's own
// namespaces, and a non-namespaced key is refused.
func TestOCIDevicesAndSysctl(t *testing.T) {
	o := newOCI(t)
	mode := os.FileMode(0o620)
	uid, gid := uint32(5), uint32(6)
	b := o.bundle(func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{
			{Path: "/dev/sbx-null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid},
			{Path: "/sbx-zero", Type: "c", Major: 1, Minor: 5},
		}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	}, "sh", "-c", "ls -ln /dev/sbx-null /sbx-zero; cat /proc/sys/net/ipv4/ip_forward")
	out, errs, code := o.run("run", "--bundle", b, id("devices"))
	fields := strings.Fields(out)
	if code != 0 || len(fields) < 21 {
		t.Fatalf("sbx run: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if got := strings.Join(fields[0:6], " "); got != "crw--w---- 1 5 6 1, 3" {
		t.Errorf("/dev/sbx-null: %q, want crw--w---- 1 5 6 1, 3", got)
	}
	if got := strings.Join(fields[10:16], " "); !strings.HasPrefix(got, "crw-rw-rw- 1 0 0 1, 5") {
		t.Errorf("/sbx-zero: %q, want crw-rw-rw- 1 0 0 1, 5", got)
	}
	if fields[len(fields)-1] != "1" {
		t.Errorf("net.ipv4.ip_forward in the container = %q, want 1", fields[len(fields)-1])
	}
	host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if strings.TrimSpace(string(host)) == "1" {
		t.Logf("note: the host's ip_forward is 1 too; the write inside is checked by its value only")
	}
	o.refuses("vm.swappiness", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "vm.swappiness")

	// A device at the path of one of /dev's own nodes replaces it (docker
	// run --device /dev/full; sbx failed with mknod's EEXIST).
	full := o.bundle(func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: &mode, UID: &uid, GID: &gid}}
	}, "ls", "-ln", "/dev/full")
	if out, errs, code := o.run("run", "--bundle", full, id("dev-full")); code != 0 || !strings.HasPrefix(strings.Join(strings.Fields(out), " "), "crw--w---- 1 5 6 1, 7") {
		t.Errorf("linux.devices /dev/full: exit %d, stdout %q, stderr %q; want crw--w---- 1 5 6 1, 7", code, out, errs)
	}

	// With the host's pid namespace rootless podman binds the host's /proc
	// (it cannot mount a procfs there) and still sets its default sysctl:
	// the bound procfs serves it, in the container's network namespace.
	bound := o.bundle(func(s *specs.Spec) {
		var nss []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.PIDNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
		for i, m := range s.Mounts {
			if m.Destination == "/proc" {
				s.Mounts[i] = specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
			}
		}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": "0 0"}
	}, "cat", "/proc/sys/net/ipv4/ping_group_range")
	if out, errs, code := o.run("run", "--bundle", bound, id("proc-bound")); code != 0 || strings.Join(strings.Fields(out), " ") != "0 0" {
		t.Errorf("sysctl through a bound /proc: exit %d, stdout %q, stderr %q; want 0 0", code, out, errs)
	}
	if host, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); strings.Join(strings.Fields(string(host)), " ") == "0 0" {
		t.Errorf("the host's net.ipv4.ping_group_range became 0 0: the sysctl was written outside the container's network namespace")
	}
}

// TestOCIOOMScoreAdjUserNamespace: process.oomScoreAdj in a container with
// a user namespace whose root is not the host's (docker --userns-remap,
// which always sets it). The child could not write its own oom_score_adj
// there: its /proc files belong to the host's root (it shares sbx's memory
// until exec), whom the namespace does not map; sbx writes it.
func TestOCIOOMScoreAdjUserNamespace(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(func(s *specs.Spec) {
		adj := 100
		s.Process.OOMScoreAdj = &adj
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	}, "cat", "/proc/self/oom_score_adj")
	if out, errs, code := o.run("run", "--bundle", b, id("oom-userns")); code != 0 || out != "100\n" {
		t.Errorf("oomScoreAdj 100 in a user namespace: exit %d, stdout %q, stderr %q; want 100", code, out, errs)
	}
}

// TestOCIIDMappedMounts binds one host directory three ways into a
// container with its own user namespace (0 → 100000): id-mapped with the
// container's mapping ("idmap"), plain, and id-mapped with a mapping of its
// own. Only through an id-mapped mount do the files' owners on disk appear
// as the same ids inside, and a file made inside lands on disk as its
// owner inside.
func TestOCIIDMappedMounts(t *testing.T) {
	o := newOCI(t)
	src, err := os.MkdirTemp("", "sbx-idmap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(src) })
	// The plain bind is cloned by the container's root, uid 100000 on
	// the host, which must be able to walk to it.
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, owner := range map[string]int{"root-file": 0, "user-file": 1000} {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	userns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	// On-disk 1000 is host 100000 through /root/own: the container's 0.
	own := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100000, Size: 1}}
	b := o.bundle(func(s *specs.Spec) {
		userns(s)
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/root", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
			specs.Mount{Destination: "/root/idmapped", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
			specs.Mount{Destination: "/root/plain", Type: "bind", Source: src, Options: []string{"bind"}},
			specs.Mount{Destination: "/root/own", Type: "bind", Source: src, Options: []string{"bind"}, UIDMappings: own, GIDMappings: own},
		)
	}, "sh", "-c", `cd /root && stat -c "%n %u %g" idmapped/root-file idmapped/user-file plain/root-file own/user-file own/root-file && touch idmapped/made-inside`)
	out, errs, code := o.run("run", "--bundle", b, id("idmap"))
	want := "idmapped/root-file 0 0\nidmapped/user-file 1000 1000\nplain/root-file 65534 65534\nown/user-file 0 0\nown/root-file 65534 65534\n"
	if code != 0 || out != want {
		t.Fatalf("sbx run: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errs, out, want)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(src, "made-inside"), &st); err != nil || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("file made by the container's root through the id-mapped mount: uid %d gid %d (%v), want 0 0 on disk", st.Uid, st.Gid, err)
	}

	var f struct {
		Linux struct {
			MountExtensions struct {
				IDMap struct{ Enabled bool } `json:"idmap"`
			} `json:"mountExtensions"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(o.must("features")), &f); err != nil || !f.Linux.MountExtensions.IDMap.Enabled {
		t.Errorf("features: idmap enabled = %v (%v), want true", f.Linux.MountExtensions.IDMap.Enabled, err)
	}

	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"not a bind", func(s *specs.Spec) {
			userns(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/root", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}})
		}, "bind mounts only"},
		{"uid mapping only", func(s *specs.Spec) {
			userns(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: []string{"bind"}, UIDMappings: own})
		}, "needs both uidMappings and gidMappings"},
		{"no mapping at all", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}})
		}, "needs both uidMappings and gidMappings"},
	} {
		o.refuses(tc.name, tc.edit, tc.want)
	}
	if entries, _ := os.ReadDir(o.root); len(entries) != 0 {
		t.Errorf("state root after the refusals holds %v", entries)
	}
}

// TestOCITimeOffsets gives a container's time namespace a boot time ten
// days ahead: its process and a process exec'd into it both see it in
// /proc/uptime, the host does not.
func TestOCITimeOffsets(t *testing.T) {
	o := newOCI(t)
	const ahead = 864000 // seconds
	offsets := func(s *specs.Spec) {
		if !slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.TimeNamespace }) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: ahead}, "monotonic": {Secs: ahead}}
	}
	uptime := func(out string) float64 {
		t.Helper()
		f := strings.Fields(out)
		if len(f) == 0 {
			t.Fatalf("no uptime in %q", out)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	hostUptime := func() float64 {
		b, err := os.ReadFile("/proc/uptime")
		if err != nil {
			t.Fatal(err)
		}
		return uptime(string(b))
	}
	// within checks a container's uptime against the host's, read
	// before and after it.
	within := func(what string, got, before, after float64) {
		t.Helper()
		if got < before+ahead || got > after+ahead+1 {
			t.Errorf("%s: uptime %.2f, want the host's (%.2f…%.2f) + %d", what, got, before, after, ahead)
		}
	}

	b := o.bundle(offsets, "cat", "/proc/uptime")
	before := hostUptime()
	out, errs, code := o.run("run", "--bundle", b, id("timens"))
	if code != 0 {
		t.Fatalf("sbx run: exit %d, stderr %q", code, errs)
	}
	within("container", uptime(out), before, hostUptime())

	b = o.bundle(offsets, "sleep", "30")
	name := id("timens-exec")
	o.cleanup(name)
	o.must("create", "--bundle", b, name)
	o.must("start", name)
	before = hostUptime()
	out = o.must("exec", name, "cat", "/proc/uptime")
	within("exec", uptime(out), before, hostUptime())
	o.must("kill", name, "KILL")

	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"no time namespace", func(s *specs.Spec) {
			offsets(s)
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.TimeNamespace })
		}, "no time namespace of its own"},
		{"unknown clock", func(s *specs.Spec) {
			offsets(s)
			s.Linux.TimeOffsets["realtime"] = specs.LinuxTimeOffset{Secs: 1}
		}, "unknown clock"},
	} {
		o.refuses(tc.name, tc.edit, tc.want)
	}
}

// TestOCIRootless runs `sbx spec --rootless`'s bundle as an unprivileged
// user: it must run as written (its devpts mount cannot keep gid=5, which
// such a user cannot map). exec into it, and startContainer hooks, which
// run in it, work: entering its pid namespace needs CAP_SYS_ADMIN in sbx's
// own user namespace, which sbx gets by entering the container's first.
func TestOCIRootless(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creates the unprivileged user and runs sbx as it: needs root")
	}
	if env.rootErr != nil {
		t.Fatalf("BusyBox rootfs: %v", env.rootErr)
	}
	r := unprivilegedRunner(t)
	dir, err := os.MkdirTemp(env.base, "rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, r.uid, r.gid); err != nil {
		t.Fatal(err)
	}
	// --root is the default for XDG_RUNTIME_DIR=dir, which sbxDefault
	// relies on.
	sbx := func(args ...string) (string, int) {
		return sbxIn(t, r, dir, append([]string{"--root", filepath.Join(dir, "sbx")}, args...)...)
	}
	sbxDefault := func(args ...string) (string, int) { return sbxIn(t, r, dir, args...) }
	bundle := filepath.Join(dir, "bundle")
	if out, code := sbx("spec", "--rootless", "--bundle", dir); code != 0 {
		t.Fatalf("sbx spec --rootless: exit %d, %s", code, out)
	}
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Root = &specs.Root{Path: env.rootfs, Readonly: true}
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", "echo rootless as $(id -u)"}
	writeConfig(t, filepath.Join(bundle, "config.json"), &s)
	if out, code := sbx("run", "--bundle", bundle, id("rootless")); code != 0 || out != "rootless as 0\n" {
		t.Errorf("sbx run of the rootless bundle as %s: exit %d, %q; want rootless as 0", r.name, code, out)
	}

	s.Process.Args = []string{"sleep", "30"}
	writeConfig(t, filepath.Join(bundle, "config.json"), &s)
	name := id("rootless-exec")
	t.Cleanup(func() { sbx("delete", "--force", name) })
	if out, code := sbx("create", "--bundle", bundle, name); code != 0 {
		t.Fatalf("create: exit %d, %s", code, out)
	}
	if out, code := sbx("start", name); code != 0 {
		t.Fatalf("start: exit %d, %s", code, out)
	}
	// exec enters the container's user namespace first (sbx executes
	// itself again to), then its pid namespace and the rest: the second
	// process of the container's pid namespace, as root there.
	if out, code := sbxDefault("exec", name, "sh", "-c", "echo exec as $(id -u) pid $$"); code != 0 || out != "exec as 0 pid 2\n" {
		t.Errorf("exec as %s: exit %d, %q; want exec as 0 pid 2", r.name, code, out)
	}
	// startContainer hooks run in the container's namespaces: start, and
	// run, enter its user namespace first for them as exec does (run
	// through a child `sbx start`). The hook is the second process of the
	// container's pid namespace, root there, and its output is in the
	// container's /tmp.
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(out, r.uid, r.gid); err != nil {
		t.Fatal(err)
	}
	hooked := s
	hooked.Mounts = append(append([]specs.Mount(nil), s.Mounts...), specs.Mount{Destination: "/tmp", Type: "bind", Source: out, Options: []string{"rbind"}})
	hooked.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook as $(id -u) pid $$ > /tmp/hook"}}}}
	hooked.Process = &specs.Process{Args: []string{"cat", "/tmp/hook"}, Cwd: "/", Env: s.Process.Env, User: s.Process.User}
	writeConfig(t, filepath.Join(bundle, "config.json"), &hooked)
	if got, code := sbx("run", "--bundle", bundle, id("rootless-hook-run")); code != 0 || got != "hook as 0 pid 2\n" {
		t.Errorf("run with a startContainer hook as %s: exit %d, %q; want hook as 0 pid 2", r.name, code, got)
	}
	os.Remove(filepath.Join(out, "hook"))
	name = id("rootless-hook-start")
	t.Cleanup(func() { sbx("delete", "--force", name) })
	if got, code := sbx("create", "--bundle", bundle, name); code != 0 {
		t.Fatalf("create with a startContainer hook: exit %d, %s", code, got)
	}
	if got, code := sbx("start", name); code != 0 {
		t.Errorf("start with a startContainer hook as %s: exit %d, %s", r.name, code, got)
	}
	if got, err := os.ReadFile(filepath.Join(out, "hook")); err != nil || string(got) != "hook as 0 pid 2\n" {
		t.Errorf("the startContainer hook of start wrote %q (%v), want hook as 0 pid 2", got, err)
	}

	// Rootless podman runs sbx as uid 0 of a user namespace of its own,
	// without --root and with "resources": {}: sbx must still take
	// XDG_RUNTIME_DIR for its state and run without a cgroup, as runc does.
	// (`unshare -r` makes such a namespace; it denies setgroups, as
	// newgidmap-less ones do.)
	plain := s
	plain.Process = &specs.Process{Args: []string{"sh", "-c", "echo in userns as $(id -u)"}, Cwd: "/", Env: s.Process.Env, User: s.Process.User}
	lx := *s.Linux
	plain.Linux = &lx
	plain.Linux.Resources = &specs.LinuxResources{}
	// Mappings name ids of the runtime's user namespace: there the user is 0.
	own := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
	plain.Linux.UIDMappings, plain.Linux.GIDMappings = own, own
	// As podman on cgroup v1: the host's cgroup namespace and a cgroup
	// mount, which cannot be a cgroup2 mount there without privilege
	// (EPERM); it binds the host's tree, read-only.
	plain.Linux.Namespaces = slices.DeleteFunc(slices.Clone(s.Linux.Namespaces), func(ns specs.LinuxNamespace) bool { return ns.Type == specs.CgroupNamespace })
	plain.Mounts = append(slices.Clone(s.Mounts), specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
	plain.Process.Args = []string{"sh", "-c", `echo in userns as $(id -u); grep " /sys/fs/cgroup/pids " /proc/self/mountinfo | tail -n 1 | cut -d" " -f6 | cut -d, -f1`}
	writeConfig(t, filepath.Join(bundle, "config.json"), &plain)
	inUserns := func(args ...string) (string, int) {
		return runAs(t, r, []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + dir, "USER=" + r.name},
			"unshare", append([]string{"--user", "--map-root-user", env.sbx}, args...)...)
	}
	name = id("rootless-userns")
	if got, code := inUserns("create", "--bundle", bundle, name); code != 0 {
		t.Errorf("create as uid 0 of a user namespace, without --root: exit %d, %s", code, got)
	} else {
		if _, err := os.Stat(filepath.Join(dir, "sbx", name)); err != nil {
			t.Errorf("its state is not under XDG_RUNTIME_DIR/sbx: %v", err)
		}
		if got, code := inUserns("delete", "--force", name); code != 0 {
			t.Errorf("delete as uid 0 of a user namespace: exit %d, %s", code, got)
		}
	}
	if got, code := inUserns("run", "--bundle", bundle, id("rootless-userns-run")); code != 0 || got != "in userns as 0\nro\n" {
		t.Errorf("run as uid 0 of a user namespace: exit %d, %q; want in userns as 0, and the host's pids hierarchy bound read-only", code, got)
	}
	plain.Process.User.AdditionalGids = []uint32{5}
	writeConfig(t, filepath.Join(bundle, "config.json"), &plain)
	if got, code := inUserns("run", "--bundle", bundle, id("rootless-userns-groups")); code == 0 || !strings.Contains(got, "additionalGids") {
		t.Errorf("run with additionalGids where setgroups is denied: exit %d, %q; want them refused by name", code, got)
	}

	// The namespace is entered only by exec and start, from the fd sbx gave
	// itself.
	cmd := exec.Command(env.sbx, "state", name)
	cmd.Env = []string{"_SBX_USERNS_FD=3"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not an fd given to `sbx exec` or `sbx start`") {
		t.Errorf("sbx state with _SBX_USERNS_FD set: %v, %q; want it refused", err, out)
	}
}

// sbxIn runs sbx with args as r's user, with XDG_RUNTIME_DIR=dir, and
// returns its output (stdout and stderr) and exit status.
func sbxIn(t *testing.T, r *runner, dir string, args ...string) (string, int) {
	t.Helper()
	return runAs(t, r, []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + dir}, env.sbx, args...)
}

// runAs runs argv as r's user with environment envv and returns its
// output (stdout and stderr) and exit status.
func runAs(t *testing.T, r *runner, envv []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = envv
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	// A file, not a pipe: a created container keeps it open.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), code
}

// TestOCIImageRoot: the root keeps the flags of the mount its image is
// on, as under runc, so an image's setuid programs work for a non-root
// process (sudo, su, ping) and its device nodes open; noNewPrivileges
// still stops the setuid. (The sandbox's root is nosuid and nodev:
// TestSandbox.)
func TestOCIImageRoot(t *testing.T) {
	o := newOCI(t)
	rootfs := copyRootfs(t)
	suid := filepath.Join(rootfs, "suidprobe")
	b, err := os.ReadFile(env.probe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(suid, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "null2"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		noNewPrivs    bool
		wantEffective string
	}{
		{"setuid", false, "0"},
		{"setuid under noNewPrivileges", true, "1000"},
	} {
		bundle := o.bundle(func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = c.noNewPrivs
		}, "/suidprobe", "facts")
		out, errs, code := o.run("run", "--bundle", bundle, id("image-root"))
		var f facts
		if code != 0 || json.Unmarshal([]byte(out), &f) != nil {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", c.name, code, out, errs)
		}
		// Uid: real, effective, saved, filesystem.
		if ids := strings.Fields(f.Status["Uid"]); len(ids) != 4 || ids[0] != "1000" || ids[1] != c.wantEffective {
			t.Errorf("%s: Uid %q in the container (NoNewPrivs %s), want real 1000 and effective %s", c.name, f.Status["Uid"], f.Status["NoNewPrivs"], c.wantEffective)
		}
	}
	bundle := o.bundle(func(s *specs.Spec) { s.Root.Path = rootfs }, "sh", "-c", "echo x >/null2 && echo written")
	if out, errs, code := o.run("run", "--bundle", bundle, id("image-root-dev")); code != 0 || out != "written\n" {
		t.Errorf("writing the image's own /null2: exit %d, %q, stderr %q; want written", code, out, errs)
	}
}

// TestHostDeviceNodes: /dev's nodes and the /dev/null over masked files
// are binds of the host's nodes, so a process that is root on the host (a
// container without a user namespace, a sandbox sharing the caller's) must
// not change them: chmod needs no capability from the owner. The devices
// still work.
func TestHostDeviceNodes(t *testing.T) {
	o := newOCI(t)
	nodes := []string{"/dev/null", "/dev/full", "/dev/zero", "/dev/tty"}
	before := map[string]unix.Stat_t{}
	for _, n := range nodes {
		var st unix.Stat_t
		if err := unix.Stat(n, &st); err != nil {
			t.Fatal(err)
		}
		before[n] = st
	}
	// Should sbx fail, put the host's nodes back.
	t.Cleanup(func() {
		for n, b := range before {
			unix.Chmod(n, b.Mode&0o7777)
			unix.Chown(n, int(b.Uid), int(b.Gid))
			unix.UtimesNano(n, []unix.Timespec{b.Atim, b.Mtim})
		}
	})
	script := `echo x >/dev/null && head -c 1 /dev/zero | wc -c
for f in /dev/null /dev/full /dev/zero /dev/tty /proc/timer_list /proc/keys; do
	chmod 600 $f 2>/dev/null && echo "chmod $f"
	touch -d "2001-02-03 04:05:06" $f 2>/dev/null && echo "touch $f"
	chown 1:1 $f 2>/dev/null && echo "chown $f"
done; true`
	bundle := o.bundle(func(s *specs.Spec) {
		s.Process.Capabilities = nil // chmod and utimes of one's own file need none
	}, "sh", "-c", script)
	out, errs, code := o.run("run", "--bundle", bundle, id("host-nodes"))
	if code != 0 || out != "1\n" {
		t.Errorf("OCI container as root: exit %d, %q (stderr %q); want the devices to work (1) and every chmod, touch and chown to fail", code, out, errs)
	}
	r := callerRunner()
	s := Spec{Process: Process{Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin"}},
		Root: &Root{Path: env.rootfs}, Share: &Share{User: true}}
	res := r.sbx(t, s, call{})
	if res.code != 0 || res.stdout != "1\n" {
		t.Errorf("sandbox sharing the caller's user namespace: %v; want the devices to work (1) and every chmod, touch and chown to fail", res)
	}
	for _, n := range nodes {
		var st unix.Stat_t
		if err := unix.Stat(n, &st); err != nil {
			t.Fatal(err)
		}
		if b := before[n]; st.Mode != b.Mode || st.Uid != b.Uid || st.Mtim != b.Mtim {
			t.Errorf("the host's %s changed: mode %o uid %d mtime %v, was %o %d %v", n, st.Mode, st.Uid, st.Mtim, b.Mode, b.Uid, b.Mtim)
		}
	}
}

// TestOCIKillCreated: SIGTERM to a created container (CRI's StopContainer
// of one never started) stops it, as under runc, though its process, the
// init of its pid namespace waiting at the start gate, has no handler.
func TestOCIKillCreated(t *testing.T) {
	o := newOCI(t)
	for _, sig := range []string{"TERM", "INT", "HUP"} {
		ctr := id("kill-created-" + sig)
		o.cleanup(ctr)
		o.must("create", "--bundle", o.bundle(nil, "true"), ctr)
		o.must("kill", ctr, sig)
		o.waitStatus(ctr, specs.StateStopped)
		o.must("delete", ctr)
	}
	// A signal that does not end a process is left to the kernel.
	ctr := id("kill-created-winch")
	o.cleanup(ctr)
	o.must("create", "--bundle", o.bundle(nil, "true"), ctr)
	o.must("kill", ctr, "WINCH")
	time.Sleep(200 * time.Millisecond)
	if st := o.state(ctr); st.Status != specs.StateCreated {
		t.Errorf("after SIGWINCH the created container is %s, want created", st.Status)
	}
}

// copyRootfs is a copy of the BusyBox rootfs the test may change.
func copyRootfs(t *testing.T) string {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if out, err := exec.Command("cp", "-a", env.rootfs, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copying the BusyBox rootfs: %v\n%s", err, out)
	}
	return rootfs
}

// TestOCIHome: without HOME in process.env the process gets the home of
// its uid in the image's /etc/passwd (or /), as under runc, in create and
// in exec; a HOME the config sets is kept.
func TestOCIHome(t *testing.T) {
	o := newOCI(t)
	rootfs := copyRootfs(t)
	f, err := os.OpenFile(filepath.Join(rootfs, "etc", "passwd"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("alice:x:1000:1000::/home/alice:/bin/sh\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct {
		uid  uint32
		env  []string
		want string
	}{
		{0, nil, "/root"},
		{1000, nil, "/home/alice"},
		{4242, nil, "/"},
		{1000, []string{"HOME=/mine"}, "/mine"},
	} {
		b := o.bundle(func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Process.User = specs.User{UID: c.uid, GID: c.uid}
			s.Process.Env = append([]string{"PATH=/bin"}, c.env...)
		}, "sh", "-c", `echo "$HOME"`)
		if out, errs, code := o.run("run", "--bundle", b, id("home")); code != 0 || out != c.want+"\n" {
			t.Errorf("uid %d, env %q: exit %d, HOME %q, stderr %q; want %s", c.uid, c.env, code, out, errs, c.want)
		}
	}
	ctr := id("home-exec")
	o.cleanup(ctr)
	o.must("create", "--bundle", o.bundle(func(s *specs.Spec) { s.Root.Path = rootfs }, "sleep", "1000"), ctr)
	o.must("start", ctr)
	if out := o.must("exec", "--user", "1000:1000", ctr, "sh", "-c", `echo "$HOME"`); out != "/home/alice\n" {
		t.Errorf("exec as uid 1000: HOME %q, want /home/alice", out)
	}
}

// TestOCIRunForwardsSignals: `sbx run` in the foreground passes on what a
// supervisor sends (USR1 to reopen logs, TERM to stop), as runc does.
func TestOCIRunForwardsSignals(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(nil, "sh", "-c", `trap 'echo got USR1' USR1; trap 'echo got USR2' USR2; trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd := exec.Command(env.sbx, "--root", o.root, "run", "--bundle", b, id("forward"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	defer o.run("delete", "--force", id("forward"))
	lines := make(chan string)
	go func() {
		for sc := bufio.NewScanner(out); sc.Scan(); {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("container printed %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("container printed nothing in 10 s, want %q", want)
		}
	}
	expect("ready")
	for _, s := range []struct {
		sig  syscall.Signal
		line string
	}{{syscall.SIGUSR1, "got USR1"}, {syscall.SIGUSR2, "got USR2"}, {syscall.SIGTERM, "got TERM"}} {
		if err := cmd.Process.Signal(s.sig); err != nil {
			t.Fatal(err)
		}
		expect(s.line)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 42 {
		t.Errorf("sbx run after the trap's exit 42: %v, want exit status 42", err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return string(b)
}

// TestOCITmpCopyUp: a tmpfs with "tmpcopyup" (runc's and crun's
// extension, which `podman run --read-only` puts on /tmp, /var/tmp and
// /run) starts with what the image has there, owners, modes, symlinks and
// subdirectories kept, and is writable under a read-only root without
// touching the image.
func TestOCITmpCopyUp(t *testing.T) {
	o := newOCI(t)
	rootfs := copyRootfs(t)
	etc := filepath.Join(rootfs, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "sub", "file"), []byte("deep\n"), 0o604); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(etc, "sub", "file"), 1000, 1001); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("passwd", filepath.Join(etc, "link")); err != nil {
		t.Fatal(err)
	}
	b := o.bundle(func(s *specs.Spec) {
		s.Root.Path, s.Root.Readonly = rootfs, true
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "tmpcopyup"}},
			specs.Mount{Destination: "/var/empty", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
	}, "sh", "-c", `grep ' /etc ' /proc/self/mountinfo | cut -d' ' -f9
head -c 5 /etc/passwd; echo
cat /etc/sub/file; stat -c '%a %u:%g' /etc/sub /etc/sub/file
readlink /etc/link
echo new > /etc/new && echo written
ls -A /var/empty | wc -l`)
	out, errs, code := o.run("run", "--bundle", b, id("copyup"))
	want := "tmpfs\nroot:\ndeep\n750 0:0\n604 1000:1001\npasswd\nwritten\n0\n"
	if code != 0 || out != want {
		t.Errorf("tmpcopyup: exit %d, stdout %q, stderr %q; want %q", code, out, errs, want)
	}
	if _, err := os.Stat(filepath.Join(etc, "new")); err == nil {
		t.Errorf("a write to the tmpfs reached the image")
	}
	o.refuses("tmpcopyup on a bind", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/tmp", Options: []string{"bind", "tmpcopyup"}})
	}, "tmpcopyup applies to tmpfs mounts only")
}
