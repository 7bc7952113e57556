package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupsAt are the directories matching rel (a glob) under the root of
// every cgroup hierarchy: v1's /sys/fs/cgroup/NAME and v2's /sys/fs/cgroup.
func cgroupsAt(rel string) []string {
	v1, _ := filepath.Glob("/sys/fs/cgroup/*/" + rel)
	v2, _ := filepath.Glob("/sys/fs/cgroup/" + rel)
	return append(v1, v2...)
}

// containerCgroups are the directories of container id's cgroup (sbx's
// default cgroupsPath, /sbx/ID).
func containerCgroups(id string) []string { return cgroupsAt("sbx/" + id) }

// cgroupPids are the processes in the cgroup directories dirs.
func cgroupPids(dirs []string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestOCICreateKilled: an `sbx create` killed while it makes the
// container (here while a createRuntime hook runs: the cgroup exists and
// holds the process) left a state directory without state.json and the
// cgroup, and, killed later, the process waiting at its gate for ever;
// `delete --force` removed only the directory, and the id's next create
// took the cgroup over without removing it ever. delete --force now
// removes all three, and the id is free again.
func TestOCICreateKilled(t *testing.T) {
	o := newOCI(t)
	ran := filepath.Join(t.TempDir(), "hook-ran")
	pids := int64(64)
	b := o.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo $$ >" + ran + ".tmp; mv " + ran + ".tmp " + ran + "; exec sleep 60"}}}}
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}}
	}, "sleep", "1000")
	name := id("killed-create")
	o.cleanup(name)
	create := exec.Command(env.sbx, "--root", o.root, "create", "--bundle", b, name)
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, ran)
	if before := cgroupPids(containerCgroups(name)); len(before) == 0 {
		t.Errorf("while the hook runs, the container's cgroup holds no process")
	}
	create.Process.Kill() // sbx alone, not the hook (the test ends it)
	create.Wait()
	if b, err := os.ReadFile(ran); err == nil {
		if hook, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			defer syscall.Kill(hook, syscall.SIGKILL)
		}
	}

	dirs := containerCgroups(name)
	left := cgroupPids(dirs)
	if len(dirs) == 0 {
		t.Fatal("after the kill: no cgroup of the container's left; the test proves nothing")
	}
	if _, errs, code := o.run("state", name); code == 0 || !strings.Contains(errs, "did not finish") {
		t.Errorf("state of the half-made container: exit %d, %q; want \"its creation did not finish\"", code, errs)
	}
	t.Logf("after the kill: cgroups %v holding %v", dirs, left)
	o.must("delete", "--force", name)
	for _, pid := range left {
		for deadline := time.Now().Add(5 * time.Second); unix.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("process %d of the half-made container outlived delete --force", pid)
				break
			}
		}
	}
	if dirs := containerCgroups(name); len(dirs) > 0 {
		t.Errorf("delete --force left the cgroups %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(o.root, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete --force left the state directory: %v", err)
	}
	// The id is free again.
	again := o.bundle(nil, "true")
	o.must("create", "--bundle", again, name)
	o.must("delete", "--force", name)
}

// TestOCIStartKilled: a `start` killed after it let the process go (the
// byte written to the gate) but before it recorded so left a container
// that said "running" while its process waited at the gate for ever
// (Started was recorded first). Now the process goes first, and a
// container whose process has left its gate is running whatever the
// record says; one still at its gate is created and can be started.
func TestOCIStartKilled(t *testing.T) {
	o := newOCI(t)
	b := o.bundle(nil, "sleep", "1000")
	name := id("killed-start")
	o.cleanup(name)
	o.must("create", "--bundle", b, name)
	if st := o.state(name); st.Status != specs.StateCreated {
		t.Fatalf("after create: %s, want created", st.Status)
	}
	// What a start killed after its write leaves: the byte, no record.
	gate, err := os.OpenFile(filepath.Join(o.root, name, "gate"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	gate.Write([]byte{0})
	gate.Close()
	o.waitStatus(name, specs.StateRunning)
	if _, errs, code := o.run("start", name); code == 0 || !strings.Contains(errs, "it is running") {
		t.Errorf("start of the running container: exit %d, %q; want a refusal", code, errs)
	}
	o.must("kill", name, "KILL")
	o.waitStatus(name, specs.StateStopped)
	o.must("delete", name)
}

// sandboxCgroupsOf are the cgroup directories of the sandbox sbx pid made
// (sbx-<pidns>-<pid>-<start>).
func sandboxCgroupsOf(pid int) []string { return cgroupsAt(fmt.Sprintf("sbx-*-%d-*", pid)) }

// limitedSpec writes a sandbox spec for args in the BusyBox root, with
// limits (so that sbx makes a cgroup), and returns its path.
func limitedSpec(t *testing.T, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the limits that make a cgroup need root here")
	}
	if env.rootErr != nil {
		t.Fatalf("BusyBox rootfs: %v", env.rootErr)
	}
	b, err := json.Marshal(Spec{Process: Process{Args: args}, Root: &Root{Path: env.rootfs}, Limits: &Limits{Pids: 64, Memory: "64MiB"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runSbx starts `sbx run --report R spec` and returns it with R.
func runSbx(t *testing.T, spec string, i int) (*exec.Cmd, string) {
	t.Helper()
	report := filepath.Join(filepath.Dir(spec), fmt.Sprintf("report-%d.json", i))
	cmd := exec.Command(env.sbx, "run", "--report", report, spec)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, report
}

// reportedStatus is the exitCode of the report at path, and whether there
// is one.
func reportedStatus(path string) (int, bool) {
	b, err := os.ReadFile(path)
	var res struct{ ExitCode int }
	if err != nil || json.Unmarshal(b, &res) != nil {
		return 0, false
	}
	return res.ExitCode, true
}

// checkNoCgroups fails the test for (and removes) the cgroups sbx pid left.
func checkNoCgroups(t *testing.T, run, pid int) {
	t.Helper()
	if left := sandboxCgroupsOf(pid); len(left) > 0 {
		t.Errorf("run %d left the cgroups %v", run, left)
		for _, d := range left {
			os.Remove(d)
		}
	}
}

// TestRunSignalAfterEnd sends SIGTERM to `sbx run` every 200 µs from the
// moment its sandbox runs (the program, which ignores SIGTERM, has
// started its sleep) until sbx exits. sbx let its signals go once the
// sandbox was cleaned up, before it wrote its report and exited, and a
// SIGTERM then ended it with a status its report contradicted (or none).
// It keeps them until it exits now: every run exits 3, as its report says.
func TestRunSignalAfterEnd(t *testing.T) {
	spec := limitedSpec(t, "sh", "-c", "trap '' TERM; sleep 0.1; exit 3")
	for i := 0; i < 40; i++ {
		cmd, report := runSbx(t, spec, i)
		pid := cmd.Process.Pid
		for deadline := time.Now().Add(10 * time.Second); len(cgroupPids(sandboxCgroupsOf(pid))) < 2 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Microsecond):
					cmd.Process.Signal(syscall.SIGTERM)
				}
			}
		}()
		cmd.Wait()
		close(stop)
		if code, ok := reportedStatus(report); cmd.ProcessState.ExitCode() != 3 || !ok || code != 3 {
			t.Errorf("run %d: %v, report exitCode %d (report there: %v); want exit 3 and a report saying so", i, cmd.ProcessState, code, ok)
		}
		checkNoCgroups(t, i, pid)
	}
}

// TestRunSignalAtCgroup sends SIGHUP to `sbx run` the moment its cgroup
// appears: sbx caught its signals on a goroutine while it made the cgroup,
// and a signal in between ended it by its default action and left the
// cgroup (a third of such runs here). sbx run now catches them before it
// makes anything: the sandbox gets the signal, and sbx reports.
func TestRunSignalAtCgroup(t *testing.T) {
	spec := limitedSpec(t, "sleep", "30")
	for i := 0; i < 20; i++ {
		cmd, report := runSbx(t, spec, i)
		pid := cmd.Process.Pid
		for deadline := time.Now().Add(10 * time.Second); len(sandboxCgroupsOf(pid)) == 0 && time.Now().Before(deadline); {
		}
		cmd.Process.Signal(syscall.SIGHUP)
		cmd.Wait()
		status := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if code, ok := reportedStatus(report); status.Signaled() || !ok || code != status.ExitStatus() {
			t.Errorf("run %d: %v, report exitCode %d (report there: %v); want the sandbox ended by the signal and a report", i, cmd.ProcessState, code, ok)
		}
		checkNoCgroups(t, i, pid)
	}
}
