package cgroup

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newAt is NewAt on h, deleting the group when the test ends, checking
// that what NewAt made is gone, and restoring the cgroup2 root's
// controllers.
func newAt(t *testing.T, h host, p string, r *specs.LinuxResources) *Group {
	t.Helper()
	keepSubtreeControl(t, h)
	g, err := newAtIn(h, p, r)
	if err != nil {
		t.Fatalf("NewAt(%q, %+v) = %v", p, r, err)
	}
	t.Cleanup(func() {
		if err := g.Delete(); err != nil {
			t.Errorf("Delete() = %v", err)
		}
		assertGone(t, g.ref.Created...)
	})
	return g
}

// hosts are the cgroup trees to run a test on: the host's own, and on a
// hybrid host also its cgroup2 hierarchy.
func hosts(t *testing.T) []host {
	t.Helper()
	hs := []host{hostOf(t)}
	if v2 := v2Host(t); v2 != hs[0] {
		hs = append(hs, v2)
	}
	return hs
}

// v1Host is the host's v1 tree, for tests of what only v1 has.
func v1Host(t *testing.T) host {
	t.Helper()
	h := hostOf(t)
	if h.mode != modeV1 {
		t.Skip("pure cgroup v2 host: no v1 hierarchies")
	}
	return h
}

// keepSubtreeControl restores, when the test ends, the controllers
// enabled in the cgroup2 root's cgroup.subtree_control, which NewAt
// enables as runc does.
func keepSubtreeControl(t *testing.T, h host) {
	t.Helper()
	if h.mode != modeV2 {
		return
	}
	file := filepath.Join(h.root, "cgroup.subtree_control")
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		after, _ := os.ReadFile(file)
		for _, c := range strings.Fields(string(after)) {
			if !slices.Contains(strings.Fields(string(before)), c) {
				os.WriteFile(file, []byte("-"+c), 0)
			}
		}
	})
}

// childCgroups runs sh -c script in g (through Add) and returns the
// cgroups its last command, cat /proc/self/cgroup, reports.
func childCgroups(t *testing.T, g *Group, script string) (v1 map[string]string, v2 string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read x; "+script+"; cat /proc/self/cgroup")
	var out strings.Builder
	cmd.Stdout = &out
	gated(t, g, cmd)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sh: %v", err)
	}
	v1, v2, err := parseCgroupFile(out.String())
	if err != nil {
		t.Fatal(err)
	}
	return v1, v2
}

// ownV1 is this process's v1 cgroups: the hierarchies NewAt must join.
func ownV1(t *testing.T) map[string]string {
	t.Helper()
	v1, _, err := parseCgroupFile(readFile(t, procSelfCgroup))
	if err != nil {
		t.Fatal(err)
	}
	return v1
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestNewAtV1 creates a container's group at an absolute path whose parent
// does not exist, with what containerd sends, and checks where a process
// of it lands, what NewAt made, the limits and Delete.
func TestNewAtV1(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	parent := "/" + uniqueName(t)
	p := parent + "/ctr"
	g := newAt(t, h, p, containerdResources())

	v1, _ := childCgroups(t, g, "true")
	for c := range ownV1(t) {
		if v1[c] != p {
			t.Errorf("child's %s cgroup = %q, want %s: NewAt joins every hierarchy", c, v1[c], p)
		}
	}
	var leaves, parents int
	for i, d := range g.ref.Created {
		switch {
		case strings.HasSuffix(d, p):
			leaves++
			if !slices.Contains(g.ref.Created[:i], filepath.Dir(d)) {
				t.Errorf("Created = %q, want %s's parent before it", g.ref.Created, d)
			}
		case strings.HasSuffix(d, parent):
			parents++
		default:
			t.Errorf("Created has %s, not the group nor its parent", d)
		}
	}
	if leaves != len(g.dirs) || parents != len(g.dirs) {
		t.Errorf("Created = %q, want the group and its parent in each of %d hierarchies", g.ref.Created, len(g.dirs))
	}
	if d := g.ref.Dirs["cpuset"]; d != "" {
		top := filepath.Join(mountRoot, "cpuset")
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if want, got := readFile(t, filepath.Join(top, f)), readFile(t, filepath.Join(d, f)); got != want {
				t.Errorf("%s = %q, want the root's %q", f, got, want)
			}
		}
	}
	checks := []struct{ file, want string }{
		{"memory.limit_in_bytes", "67108864"},
		{"memory.oom_control", "oom_kill_disable 0"},
		{"cpu.shares", "2"},
		{"cpu.cfs_quota_us", "-1"},
		{"pids.max", "100"},
		{"devices.list", "c 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 136:* rwm\nc 10:200 rwm"},
	}
	for _, c := range checks {
		if got := cgroupFile(t, g, c.file); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
}

// TestNewAtV2 does the same on the cgroup2 hierarchy: every controller the
// root offers is enabled, the device list becomes an eBPF filter, and
// huge page limits are written with their reservations.
func TestNewAtV2(t *testing.T) {
	requireRoot(t)
	h := v2Host(t)
	keepSubtreeControl(t, h)
	parent := "/" + uniqueName(t)
	p := parent + "/ctr"
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}}}
	offered := strings.Fields(readFile(t, filepath.Join(h.root, "cgroup.controllers")))
	if slices.Contains(offered, "hugetlb") {
		r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}}
	}
	g := newAt(t, h, p, r)
	if want := []string{filepath.Join(h.root, parent), filepath.Join(h.root, p)}; !slices.Equal(g.ref.Created, want) {
		t.Errorf("Created = %q, want %q", g.ref.Created, want)
	}
	got := strings.Fields(readFile(t, filepath.Join(g.dirs[0], "cgroup.controllers")))
	if !slices.Equal(got, offered) {
		t.Errorf("the group's cgroup.controllers = %q, want all the root offers, %q", got, offered)
	}
	if r.HugepageLimits != nil {
		for _, f := range []string{"hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"} {
			if v := readFile(t, filepath.Join(g.dirs[0], f)); v != "0" {
				t.Errorf("%s = %q, want 0", f, v)
			}
		}
	}
	cmd := exec.Command("/bin/sh", "-c", "echo > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; cat /proc/self/cgroup")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(g.Dir().Fd())}
	out, _ := cmd.CombinedOutput()
	if s := string(out); !strings.Contains(s, "null-ok") || strings.Contains(s, "zero-ok") || !strings.Contains(s, "0::"+p+"\n") {
		t.Errorf("sh in the group said %q, want /dev/null allowed, /dev/zero denied, and cgroup %s", s, p)
	}
}

// TestDevicesV1 checks the v1 devices cgroup's effect, not just its
// files.
func TestDevicesV1(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	g := newAt(t, h, "/"+uniqueName(t), &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}}})
	cmd := exec.Command("/bin/sh", "-c", "read x; echo > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	gated(t, g, cmd)
	cmd.Wait()
	if s := out.String(); !strings.Contains(s, "null-ok") || strings.Contains(s, "zero-ok") {
		t.Errorf("sh in the group said %q, want /dev/null allowed and /dev/zero denied", s)
	}
}

// TestNewAtRelative checks runc's reading of a relative path: below the
// caller's cgroup on v1, below its parent on v2.
func TestNewAtRelative(t *testing.T) {
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			keepSubtreeControl(t, h)
			rel := uniqueName(t)
			g := newAt(t, h, rel, nil)
			v1, v2 := childCgroups(t, g, "true")
			own, ownV2, _ := parseCgroupFile(readFile(t, procSelfCgroup))
			if h.mode == modeV2 {
				if want := path.Join(path.Dir(ownV2), rel); v2 != want {
					t.Errorf("child's cgroup = %q, want %q", v2, want)
				}
				return
			}
			for c, p := range own {
				if want := path.Join(p, rel); v1[c] != want {
					t.Errorf("child's %s cgroup = %q, want %q", c, v1[c], want)
				}
			}
		})
	}
}

func TestNewAtRefuses(t *testing.T) {
	_, err := NewAt("system.slice:containerd:c1", nil)
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "systemd cgroup driver not supported; use cgroupfs") {
		t.Errorf("NewAt(systemd path) = %v, want ErrNotSupported saying so", err)
	}
	if _, err := NewAt("/", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewAt(/) = %v, want ErrInvalid", err)
	}
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			keepSubtreeControl(t, h)
			tab, err := mounts()
			if err != nil {
				t.Fatal(err)
			}
			type refusal struct {
				r     *specs.LinuxResources
				kind  error
				field string
			}
			tests := []refusal{{notOnMode(h), ErrNotSupported, "linux.resources."}}
			if _, ok := tab.v1["net_cls"]; h.mode == modeV1 && !ok {
				tests = append(tests, refusal{&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}},
					ErrUnavailable, "linux.resources.network.classID"})
			}
			if _, ok := tab.v1["hugetlb"]; h.mode == modeV1 && !ok {
				tests = append(tests, refusal{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}},
					ErrUnavailable, "linux.resources.hugepageLimits"})
			}
			if h.root != mountRoot {
				tests = append(tests, refusal{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}},
					ErrUnavailable, "linux.resources.pids.limit"})
			}
			for _, tt := range tests {
				p := "/" + uniqueName(t)
				_, err := newAtIn(h, p, tt.r)
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.field) {
					t.Errorf("NewAt(%+v) = %v, want %v naming %s", tt.r, err, tt.kind, tt.field)
				}
				t.Log(err)
				if _, err := os.Stat(filepath.Join(h.root, "freezer", p)); h.mode == modeV1 && err == nil {
					t.Errorf("NewAt left %s behind", p)
				}
				if _, err := os.Stat(filepath.Join(h.root, p)); h.mode == modeV2 && err == nil {
					t.Errorf("NewAt left %s behind", p)
				}
			}
		})
	}
}

// TestNewAtExisting takes over directories made beforehand (by kubelet,
// say) and checks that Delete leaves them, subgroups apart.
func TestNewAtExisting(t *testing.T) {
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			keepSubtreeControl(t, h)
			parent := "/" + uniqueName(t)
			pod := newAt(t, h, parent, nil)
			first := newAt(t, h, parent+"/ctr", nil)
			if want := len(first.dirs); len(first.ref.Created) != want {
				t.Errorf("Created = %q, want only the group's %d directories: the parent was there", first.ref.Created, want)
			}
			again, err := newAtIn(h, parent+"/ctr", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}})
			if err != nil {
				t.Fatalf("NewAt(existing) = %v", err)
			}
			if len(again.ref.Created) != 0 {
				t.Errorf("NewAt(existing).Created = %q, want none", again.ref.Created)
			}
			for _, d := range again.dirs {
				if err := os.Mkdir(filepath.Join(d, "nested"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := again.Delete(); err != nil {
				t.Fatalf("Delete() = %v", err)
			}
			for _, d := range again.dirs {
				if _, err := os.Stat(d); err != nil {
					t.Errorf("Delete removed %s, which NewAt did not make: %v", d, err)
				}
				assertGone(t, filepath.Join(d, "nested"))
			}
			for _, d := range pod.dirs {
				if _, err := os.Stat(d); err != nil {
					t.Errorf("Delete removed the parent %s: %v", d, err)
				}
			}
		})
	}
}

// TestRefLoad saves a group's Ref as a state file would, reopens it as a
// later sbx process would, and runs exec, ps, stats, kill and delete
// through the reopened group.
func TestRefLoad(t *testing.T) {
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			keepSubtreeControl(t, h)
			p := "/" + uniqueName(t)
			g := newAt(t, h, p, nil)
			b, err := json.Marshal(g.Ref())
			if err != nil {
				t.Fatal(err)
			}
			var ref Ref
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			l, err := Load(ref)
			if err != nil {
				t.Fatalf("Load(%s) = %v", b, err)
			}
			if l.Mode() != h.mode || !slices.Equal(l.dirs, g.dirs) {
				t.Errorf("Load(): mode %s, dirs %q, want %s, %q", l.Mode(), l.dirs, h.mode, g.dirs)
			}
			// exec: v2 through CLONE_INTO_CGROUP, v1 through Add.
			cmd := exec.Command("/bin/sh", "-c", "read x; exec sleep 1000")
			if dir := l.Dir(); dir != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
				in, _ := cmd.StdinPipe()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				in.Close()
			} else {
				gated(t, l, cmd)
			}
			fd := pidfd(t, cmd.Process.Pid)
			if pids, err := l.Pids(); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
				t.Errorf("Pids() = %v, %v, want [%d]", pids, err, cmd.Process.Pid)
			}
			if !l.holds(cmd.Process.Pid) {
				t.Errorf("the exec'd process is not in the group")
			}
			if _, err := l.Stats(); err != nil {
				t.Errorf("Stats() = %v", err)
			}
			if err := l.Kill(); err != nil || !exited(fd, time.Second) {
				t.Errorf("Kill() = %v; process exited: %v", err, exited(fd, 0))
			}
			if err := l.Delete(); err != nil {
				t.Fatalf("Delete() = %v", err)
			}
			assertGone(t, ref.Created...)
			if _, err := Load(ref); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Load(deleted group) = %v, want fs.ErrNotExist", err)
			}
		})
	}
}

func TestLoadRefusesBadRef(t *testing.T) {
	for _, ref := range []Ref{
		{},
		{Mode: "v3", Dirs: map[string]string{"": "/sys/fs/cgroup/x"}},
		{Mode: modeV1, Dirs: map[string]string{"memory": "relative"}},
		{Mode: modeV1, Dirs: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}, Created: []string{"/"}},
		{Mode: modeV2, Dirs: map[string]string{"": "/sys/fs/cgroup/x"}},
		{Mode: modeV1, Dirs: map[string]string{"memory": "/etc"}},
	} {
		if _, err := Load(ref); !errors.Is(err, ErrInvalid) {
			t.Errorf("Load(%+v) = %v, want ErrInvalid", ref, err)
		}
	}
}

// cpuNs is the CPU time pid has used, from /proc/PID/schedstat.
func cpuNs(t *testing.T, pid int) int64 {
	t.Helper()
	f := strings.Fields(readFile(t, fmt.Sprintf("/proc/%d/schedstat", pid)))
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestFreezeThaw pauses a busy loop and checks that it stops using CPU,
// then resumes it.
func TestFreezeThaw(t *testing.T) {
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			g := newAt(t, h, "/"+uniqueName(t), nil)
			cmd := exec.Command("/bin/sh", "-c", "read x; while :; do :; done")
			gated(t, g, cmd)
			pid := cmd.Process.Pid
			if err := g.Freeze(); err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			if paused, err := g.Paused(); !paused || err != nil {
				t.Errorf("Paused() after Freeze = %v, %v, want true", paused, err)
			}
			before := cpuNs(t, pid)
			time.Sleep(100 * time.Millisecond)
			if after := cpuNs(t, pid); after != before {
				t.Errorf("a frozen busy loop used %v of CPU in 100 ms, want none", time.Duration(after-before))
			}
			if err := g.Thaw(); err != nil {
				t.Fatalf("Thaw() = %v", err)
			}
			if paused, err := g.Paused(); paused || err != nil {
				t.Errorf("Paused() after Thaw = %v, %v, want false", paused, err)
			}
			before = cpuNs(t, pid)
			time.Sleep(100 * time.Millisecond)
			if after := cpuNs(t, pid); after == before {
				t.Errorf("a thawed busy loop used no CPU in 100 ms")
			}
			// Kill reaches a paused group too.
			if err := g.Freeze(); err != nil {
				t.Fatal(err)
			}
			fd := pidfd(t, pid)
			if err := g.Kill(); err != nil || !exited(fd, time.Second) {
				t.Errorf("Kill() of a paused group = %v; exited: %v", err, exited(fd, 0))
			}
		})
	}
}

// startPrinting starts script in a shell in g (gated) and reads the n
// pids it prints, one a line.
func startPrinting(t *testing.T, g *Group, script string, n int) (*exec.Cmd, []int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read x; "+script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	gated(t, g, cmd)
	s := bufio.NewScanner(out)
	var pids []int
	for range n {
		s.Scan()
		pid, err := strconv.Atoi(s.Text())
		if err != nil {
			t.Fatalf("sh said %q", s.Text())
		}
		pids = append(pids, pid)
	}
	return cmd, pids
}

// TestPids lists a shell, its child and a process in a subgroup.
func TestPids(t *testing.T) {
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			g := newAt(t, h, "/"+uniqueName(t), nil)
			cmd, pids := startPrinting(t, g, "sleep 1000 & echo $!; sleep 1000 & echo $!; wait", 2)
			want := append([]int{cmd.Process.Pid}, pids...)
			for _, d := range g.dirs {
				sub := filepath.Join(d, "sub")
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := initCpuset(d, sub); d == g.ref.Dirs["cpuset"] && err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(want[2])), 0); err != nil {
					t.Fatal(err)
				}
			}
			slices.Sort(want)
			if got, err := g.Pids(); err != nil || !slices.Equal(got, want) {
				t.Errorf("Pids() = %v, %v, want %v", got, err, want)
			}
		})
	}
}

// TestUpdateV1 changes limits of a live v1 group as runc update does.
func TestUpdateV1(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	g := newAt(t, h, "/"+uniqueName(t), &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(64 << 20)},
		Pids:   &specs.LinuxPids{Limit: i64(50)},
		CPU:    &specs.LinuxCPU{Quota: i64(20000), Period: u64(50000)},
	})
	_, swapErr := os.Stat(filepath.Join(g.ref.Dirs["memory"], "memory.memsw.limit_in_bytes"))
	swap := swapErr == nil
	steps := []struct {
		name  string
		r     *specs.LinuxResources
		files map[string]string
	}{
		{"raise memory and swap", mem(i64(128<<20), i64(256<<20)),
			map[string]string{"memory.limit_in_bytes": "134217728", "memory.memsw.limit_in_bytes": "268435456"}},
		{"lower them", mem(i64(32<<20), i64(32<<20)),
			map[string]string{"memory.limit_in_bytes": "33554432", "memory.memsw.limit_in_bytes": "33554432"}},
		{"lift the memory limit", mem(i64(-1), nil),
			map[string]string{"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712"}},
		{"lift the pids limit", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, map[string]string{"pids.max": "max"}},
		{"quota alone", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(30000)}},
			map[string]string{"cpu.cfs_quota_us": "30000", "cpu.cfs_period_us": "50000"}},
		{"devices are left", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			map[string]string{"devices.list": "a *:* rwm"}},
	}
	for _, s := range steps {
		if err := g.Update(s.r); err != nil {
			t.Fatalf("%s: Update() = %v", s.name, err)
		}
		for f, want := range s.files {
			if strings.HasPrefix(f, "memory.memsw") && !swap {
				continue
			}
			if got := cgroupFile(t, g, f); got != want {
				t.Errorf("%s: %s = %q, want %q", s.name, f, got, want)
			}
		}
	}
	if err := g.Update(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Update(unified) on v1 = %v, want ErrNotSupported", err)
	}
	checkBeforeUpdate(t, g, "memory.limit_in_bytes")
}

// checkBeforeUpdate charges 8 MiB of shared memory to g, then asks for a
// 1 MiB limit with memory.checkBeforeUpdate.
func checkBeforeUpdate(t *testing.T, g *Group, limitFile string) {
	t.Helper()
	shm := filepath.Join("/dev/shm", uniqueName(t))
	t.Cleanup(func() { os.Remove(shm) })
	childCgroups(t, g, "head -c 8388608 /dev/zero > "+shm)
	before := cgroupFile(t, g, limitFile)
	err := g.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), CheckBeforeUpdate: boolp(true)}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "checkBeforeUpdate") {
		t.Errorf("Update(limit below use, checkBeforeUpdate) = %v, want ErrInvalid", err)
	}
	if after := cgroupFile(t, g, limitFile); after != before {
		t.Errorf("%s = %s after a refused Update, want %s", limitFile, after, before)
	}
}

// TestUpdateV2 changes limits of a live group on the cgroup2 hierarchy:
// on a hybrid host it offers hugetlb at most, which limits what can be
// tested; unified files need no controller.
func TestUpdateV2(t *testing.T) {
	requireRoot(t)
	h := v2Host(t)
	keepSubtreeControl(t, h)
	g := newAt(t, h, "/"+uniqueName(t), nil)
	dir := g.dirs[0]
	if err := g.Update(&specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "3"}}); err != nil {
		t.Fatalf("Update(unified) = %v", err)
	}
	if v := readFile(t, filepath.Join(dir, "cgroup.max.descendants")); v != "3" {
		t.Errorf("cgroup.max.descendants = %q, want 3", v)
	}
	if err := g.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Update(swappiness) on v2 = %v, want ErrNotSupported", err)
	}
	offered := strings.Fields(readFile(t, filepath.Join(h.root, "cgroup.controllers")))
	err := g.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}})
	switch {
	case slices.Contains(offered, "pids") && err != nil:
		t.Errorf("Update(pids) = %v", err)
	case slices.Contains(offered, "pids") && readFile(t, filepath.Join(dir, "pids.max")) != "10":
		t.Errorf("pids.max = %q after Update, want 10", readFile(t, filepath.Join(dir, "pids.max")))
	case !slices.Contains(offered, "pids") && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "pids.limit")):
		t.Errorf("Update(pids) without a pids controller = %v, want ErrUnavailable naming pids.limit", err)
	}
	if slices.Contains(offered, "hugetlb") {
		if err := g.Update(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 << 20}}}); err != nil {
			t.Errorf("Update(hugepageLimits) = %v", err)
		} else if v := readFile(t, filepath.Join(dir, "hugetlb.2MB.max")); v != "2097152" {
			t.Errorf("hugetlb.2MB.max = %q, want 2097152", v)
		}
	}
	if slices.Contains(offered, "memory") {
		checkBeforeUpdate(t, g, "memory.max")
	}
}

// TestTaskFiles joins a v1 group the cheap way: a single-threaded child
// (sh) writes 0 to each tasks file it inherited, then starts cat.
func TestTaskFiles(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	name := uniqueName(t)
	g, err := newIn(h, name, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Delete() })
	files, err := g.TaskFiles()
	if err != nil || len(files) != len(g.dirs) {
		t.Fatalf("TaskFiles() = %d files, %v, want %d", len(files), err, len(g.dirs))
	}
	var script strings.Builder
	for i := range files {
		fmt.Fprintf(&script, "echo 0 >&%d; ", 3+i)
	}
	cmd := exec.Command("/bin/sh", "-c", script.String()+"cat /proc/self/cgroup")
	cmd.ExtraFiles = files
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	v1, _, err := parseCgroupFile(string(out))
	if err != nil {
		t.Fatal(err)
	}
	for c, p := range g.ref.Paths {
		if v1[c] != p {
			t.Errorf("child's %s cgroup = %q, want %q", c, v1[c], p)
		}
	}
	if again, _ := g.TaskFiles(); !slices.Equal(again, files) {
		t.Errorf("TaskFiles() again opened new files")
	}
}

func TestTaskFilesV2(t *testing.T) {
	requireRoot(t)
	g := newGroup(t, v2Host(t), nil)
	if f, err := g.TaskFiles(); f != nil || err != nil {
		t.Errorf("TaskFiles() on v2 = %v, %v, want nil, nil: v2 joins through Dir", f, err)
	}
}

func TestMountDirs(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	g := newGroup(t, h, nil)
	got := g.MountDirs()
	for _, c := range []string{"freezer", "memory"} {
		if got[c] != g.ref.Dirs[c] || got[c] == "" {
			t.Errorf("MountDirs()[%s] = %q, want %q", c, got[c], g.ref.Dirs[c])
		}
	}
	if len(got) != len(g.dirs) {
		t.Errorf("MountDirs() = %v, want one entry per directory %q", got, g.dirs)
	}
}

func TestMountDirsV2(t *testing.T) {
	requireRoot(t)
	if m := newGroup(t, v2Host(t), nil).MountDirs(); m != nil {
		t.Errorf("MountDirs() on v2 = %v, want nil: a cgroup2 mount shows the group", m)
	}
}

// TestStatsLive reads a running group's current use and limits.
func TestStatsLive(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	g := newGroup(t, h, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}, Pids: &specs.LinuxPids{Limit: i64(20)}})
	cmd := exec.Command("/bin/sh", "-c", "read x; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000")
	gated(t, g, cmd)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(readFile(t, fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)), "sleep") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatalf("Stats() = %v", err)
	}
	if st.MemoryBytes == 0 || st.MemoryLimitBytes != 64<<20 || st.Pids != 1 {
		t.Errorf("Stats() = %+v, want memory in use, a 64 MiB limit and 1 task", st)
	}
	if st.CPUTime == 0 || st.CPUTime < st.UserTime {
		t.Errorf("Stats() CPU = %v (user %v), want some, at least the user time", st.CPUTime, st.UserTime)
	}
}

// TestRmdirWaitsWhileBusy checks that Delete's rmdir outlasts a group
// that empties a moment late.
func TestRmdirWaitsWhileBusy(t *testing.T) {
	requireRoot(t)
	h := hostOf(t)
	g := newGroup(t, h, nil)
	dir := filepath.Join(g.dirs[0], "busy")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(filepath.Join(g.dirs[0], "cgroup.procs"), []byte(pid), 0)
	}()
	if err := rmdir(dir); err != nil {
		t.Fatalf("rmdir(busy for 100 ms) = %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("rmdir returned after %v, before the group emptied", d)
	}
	assertGone(t, dir)
}

// TestResourcesV1 applies the v1 fields beyond containerd's usual set and
// reads each back from its file.
func TestResourcesV1(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	dev := specs.LinuxBlockIODevice{Major: 254, Minor: 0}
	g := newAt(t, h, "/"+uniqueName(t), &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(256 << 20), Reservation: i64(128 << 20), Swappiness: u64(10),
			DisableOOMKiller: boolp(true), Kernel: i64(64 << 20), UseHierarchy: boolp(true)},
		CPU:     &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Burst: u64(10000), Cpus: "0", Mems: "0"},
		BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}}},
	})
	checks := []struct{ file, want string }{
		{"memory.limit_in_bytes", "268435456"},
		{"memory.soft_limit_in_bytes", "134217728"},
		{"memory.swappiness", "10"},
		{"memory.oom_control", "oom_kill_disable 1"},
		{"memory.kmem.limit_in_bytes", "9223372036854771712"}, // memory.kernel is not written
		{"cpu.shares", "512"},
		{"cpu.cfs_quota_us", "50000"},
		{"cpu.cfs_period_us", "100000"},
		{"cpu.cfs_burst_us", "10000"},
		{"cpuset.cpus", "0"},
		{"cpuset.mems", "0"},
		{"blkio.throttle.read_bps_device", "254:0 1048576"},
	}
	for _, c := range checks {
		if _, err := os.Stat(filepath.Join(g.ref.Dirs[strings.SplitN(c.file, ".", 2)[0]], c.file)); errors.Is(err, fs.ErrNotExist) {
			t.Logf("%s: not on this kernel", c.file)
			continue
		}
		if got := cgroupFile(t, g, c.file); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	if err := g.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1)}}); err != nil {
		t.Errorf("Update(cpu.idle) = %v", err)
	} else if got := cgroupFile(t, g, "cpu.idle"); got != "1" {
		t.Errorf("cpu.idle = %q, want 1", got)
	}
}

// TestBlkioWeightV1 applies linux.resources.blockIO.weight where the
// kernel has a weight file (CFQ's blkio.weight before Linux 5.0, BFQ's
// blkio.bfq.weight) and otherwise wants it refused, naming the field and
// what the host lacks, with nothing left behind.
func TestBlkioWeightV1(t *testing.T) {
	requireRoot(t)
	h := v1Host(t)
	r := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}}
	var weight string
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if _, err := os.Stat(filepath.Join(h.root, "blkio", f)); err == nil {
			weight = f
			break
		}
	}
	if weight == "" {
		p := "/" + uniqueName(t)
		_, err := newAtIn(h, p, r)
		if err == nil || !strings.Contains(err.Error(), "blockIO.weight") || !strings.Contains(err.Error(), "BFQ") {
			t.Errorf("NewAt(%q, blockIO.weight 500) without a weight file = %v, want the refusal of blockIO.weight naming BFQ", p, err)
		}
		assertGone(t, filepath.Join(h.root, "blkio", p))
		return
	}
	g := newAt(t, h, "/"+uniqueName(t), r)
	if got := cgroupFile(t, g, weight); !strings.HasSuffix(got, "500") {
		t.Errorf("%s = %q, want 500", weight, got)
	}
}

// TestSignal sends SIGTERM to a group (kill --all): the process that
// ignores it lives on, the other dies; a paused group stays paused.
func TestSignal(t *testing.T) {
	requireRoot(t)
	for _, h := range hosts(t) {
		t.Run(h.mode, func(t *testing.T) {
			g := newAt(t, h, "/"+uniqueName(t), nil)
			// The sleep is forked before the trap, so it does not
			// inherit the shell's ignoring of SIGTERM.
			cmd, pids := startPrinting(t, g, "sleep 1000 & trap '' TERM; echo $!; wait; sleep 1000", 1)
			sleep := pids[0]
			shFD, sleepFD := pidfd(t, cmd.Process.Pid), pidfd(t, sleep)
			if err := g.Freeze(); err != nil {
				t.Fatal(err)
			}
			if err := g.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("Signal(SIGTERM) = %v", err)
			}
			// v2's frozen state goes to 0 while the sleep, woken by
			// its fatal signal, dies; it comes back.
			for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
				paused, err := g.Paused()
				if paused && err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Paused() after Signal of a paused group = %v, %v; want it still paused", paused, err)
				}
			}
			if err := g.Thaw(); err != nil {
				t.Fatal(err)
			}
			if !exited(sleepFD, time.Second) {
				t.Error("the sleep survived SIGTERM")
			}
			if exited(shFD, 100*time.Millisecond) {
				t.Error("the shell that ignores SIGTERM died")
			}
		})
	}
}
