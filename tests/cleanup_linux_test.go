package tests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBadInputLeavesNothing runs specs that fail, early or late, and checks
// that sbx leaves no process, mount or cgroup behind. It runs alone (not in
// parallel) so that the host's mount table and cgroups hold still.
func TestBadInputLeavesNothing(t *testing.T) {
	runners := []*runner{callerRunner()}
	if os.Getuid() == 0 {
		runners = append(runners, unprivilegedRunner(t))
	}
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) { badInputLeavesNothing(t, r) })
	}
}

func badInputLeavesNothing(t *testing.T, r *runner) {
	marker := newMarker()
	limits := &Limits{Memory: "64MiB", Pids: 64, Timeout: "5s"}
	withLimits := func(s Spec) Spec {
		s.Limits = limits
		return s
	}
	missingCwd := probeSpec("sleep", marker)
	missingCwd.Process.Cwd = "/nonexistent-cwd"
	underFile := probeSpec("sleep", marker)
	underFile.Mounts = append(underFile.Mounts, Mount{Type: "tmpfs", Destination: "/probe/probe/sub"})
	late := func(code int) int { // the status of a failure after cgroups exist
		if !r.canLimit("memory") || !r.canLimit("pids") {
			return 125
		}
		return code
	}
	cases := []struct {
		name string
		spec Spec
		raw  string
		want int // 0: any failure
	}{
		{"syntax error", Spec{}, `{"process": {"args": ["/probe/probe", "sleep", "` + marker + `"]`, 125},
		{"unknown field", Spec{}, `{"process": {"args": ["/probe/probe", "sleep", "` + marker + `"]}, "limits": {"memroy": "1GiB"}}`, 125},
		{"missing command", withLimits(probeSpec()), "", late(127)},
		{"directory as command", withLimits(probeSpec()), "", late(126)},
		{"missing cwd", withLimits(missingCwd), "", 0},
		{"mount under a file", withLimits(underFile), "", 0},
	}
	cases[2].spec.Process.Args = []string{"/nonexistent-" + marker}
	cases[3].spec.Process.Args = []string{"/probe", marker}
	beforeCgroups := cgroupDirs()
	beforeMounts := hostMounts(t)
	for _, tc := range cases {
		res := r.sbx(t, tc.spec, call{raw: tc.raw, timeout: 15 * time.Second})
		switch {
		case tc.want == 0 && res.code == 0:
			t.Errorf("%s: sbx exited 0, want a failure\n%v", tc.name, res)
		case tc.want != 0 && res.code != tc.want:
			t.Errorf("%s: exit status %d, want %d\n%v", tc.name, res.code, tc.want, res)
		}
		if res.stderr == "" {
			t.Errorf("%s: sbx failed without a message\n%v", tc.name, res)
		}
		if pids := markerPids(marker); len(pids) > 0 {
			t.Errorf("%s: processes %v left behind\n%v", tc.name, pids, res)
			for _, p := range pids {
				unix.Kill(p, unix.SIGKILL)
			}
		}
	}
	known := map[string]bool{}
	for _, m := range beforeMounts {
		known[m] = true
	}
	for _, m := range hostMounts(t) {
		if !known[m] && (strings.Contains(m, env.base) || strings.Contains(m, "sbx")) {
			t.Errorf("mount left behind on the host: %s", m)
		}
	}
	for _, dir := range newCgroups(beforeCgroups, cgroupDirs()) {
		t.Errorf("cgroup left behind: %s", dir)
	}
}

// cgroupDirs lists the cgroup directories on the host, a few levels deep.
func cgroupDirs() map[string]bool {
	dirs := map[string]bool{}
	filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(path, "/") > 9 {
			return filepath.SkipDir
		}
		dirs[path] = true
		return nil
	})
	return dirs
}

// newCgroups are the sandbox cgroups (sbx-*) in after but not before
// that still exist, hold no process, after a moment: left behind, not
// another program's running sandbox. Other programs' groups (containers
// of tests running beside these) are not counted.
func newCgroups(before, after map[string]bool) []string {
	var fresh []string
	for dir := range after {
		if !before[dir] && strings.HasPrefix(filepath.Base(dir), "sbx-") {
			fresh = append(fresh, dir)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	time.Sleep(500 * time.Millisecond)
	var left []string
	for _, dir := range fresh {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if strings.TrimSpace(string(b)) == "" {
			left = append(left, dir)
		}
	}
	return left
}

// TestKilledSbxSwept: sbx killed by SIGKILL cannot delete its sandbox's
// cgroup, and with share.pid the processes the sandbox left (a daemon)
// live on, as only that cgroup still finds them. The next sandbox with a
// cgroup deletes the group and kills what it holds.
func TestKilledSbxSwept(t *testing.T) {
	r := callerRunner()
	if !r.ownsCgroup() {
		t.Skip("needs a writable cgroup: run as root")
	}
	for _, sharePID := range []bool{false, true} {
		t.Run(fmt.Sprintf("share.pid=%v", sharePID), func(t *testing.T) {
			marker := newMarker()
			s := probeSpec("daemon", marker, "wait")
			s.Limits = &Limits{Pids: 64}
			s.Share = &Share{PID: sharePID}
			p := r.start(t, s)
			p.waitLine(t, "grandchild")
			pids := markerPids(marker)
			if len(pids) < 2 {
				t.Fatalf("sandbox processes with marker = %v, want the child and its grandchild", pids)
			}
			groups := sandboxCgroups(t, pids[0])
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
			defer func() {
				for _, pid := range markerPids(marker) {
					unix.Kill(pid, unix.SIGKILL)
				}
			}()
			next := hostRootSpec()
			next.Process.Args, next.Limits = []string{"/bin/true"}, &Limits{Pids: 8}
			if res := r.sbx(t, next, call{}); res.code != 0 {
				t.Fatalf("the next sandbox: %v", res)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(markerPids(marker)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if left := markerPids(marker); len(left) > 0 {
				t.Errorf("processes %v of the killed sbx's sandbox run on after the next sandbox", left)
			}
			for _, d := range groups {
				if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the killed sbx's cgroup %s is still there after the next sandbox (stat: %v)", d, err)
				}
			}
		})
	}
}

// sandboxCgroups lists the directories of pid's sbx-* cgroup in every
// hierarchy.
func sandboxCgroups(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for _, line := range strings.Split(string(b), "\n") {
		if base := filepath.Base(line); strings.HasPrefix(base, "sbx-") {
			name = base
		}
	}
	if name == "" {
		t.Fatalf("process %d is in no sbx-* cgroup:\n%s", pid, b)
	}
	var dirs []string
	for d := range cgroupDirs() {
		if filepath.Base(d) == name {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no directory of cgroup %s found", name)
	}
	return dirs
}
