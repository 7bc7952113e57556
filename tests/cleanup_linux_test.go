package tests

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
