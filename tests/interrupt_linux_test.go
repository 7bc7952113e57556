package tests

import (
	"errors"
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

// containerCgroups are the directories of container id's cgroup (sbx's
// default cgroupsPath, /sbx/ID) in every hierarchy that has one.
func containerCgroups(id string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/sbx/" + id)
	if d := "/sys/fs/cgroup/sbx/" + id; isDir(d) {
		dirs = append(dirs, d)
	}
	return dirs
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

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

// waitFile waits until path exists.
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
