package cgroup

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Controllers are the v1 hierarchies a sandbox joins, in the order
// cgroup1 writes their limits: freezer makes Kill race-free, cpuacct
// gives CPU time, memory gives peak use and OOM kills even unlimited.
// Later resources add cpuset, blkio, hugetlb and devices here.
var v1Controllers = []cgroup1.Name{cgroup1.Freezer, cgroup1.Pids, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory}

// pather is how cgroup1 controllers name a group's directory.
type pather interface{ Path(string) string }

const (
	procSelfCgroup = "/proc/self/cgroup"
	hintSwapV1     = "boot with swapaccount=1, or turn swap off: swapoff -a"
)

// newV1 creates <caller's cgroup>/name in every v1 hierarchy of
// v1Controllers that the host mounts; those that limits in r need must be
// there.
func newV1(root, name string, r *specs.LinuxResources) (_ *Group, err error) {
	n := needsOf(r)
	self, err := cgroup1.ParseCgroupFile(procSelfCgroup)
	if err != nil {
		return nil, opError("reading", procSelfCgroup, err)
	}
	subs, err := v1Subsystems(root, self, n)
	if err != nil {
		return nil, err
	}
	res, err := planV1(root, r, n)
	if err != nil {
		return nil, err
	}
	g := &Group{mode: modeV1, member: map[string]string{}}
	var undo cleanup
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
	where := cgroup1.NestedPath(name)
	for _, s := range subs {
		if err := g.addHierarchy(s, where, self, name, &undo); err != nil {
			return nil, err
		}
	}
	only := func() ([]cgroup1.Subsystem, error) { return subs, nil }
	g.v1, err = cgroup1.New(where, res, cgroup1.WithHierarchy(only))
	if err != nil {
		return nil, hostError("writing limits to", g.dirs[0], err, modeV1)
	}
	return g, nil
}

// addHierarchy creates the group's directory for controller s, unless a
// controller mounted with it already did, and records where it is.
func (g *Group) addHierarchy(s cgroup1.Subsystem, where cgroup1.Path, self map[string]string, name string, undo *cleanup) error {
	ctrl := string(s.Name())
	rel, err := where(s.Name())
	if err != nil {
		return opError("finding the "+ctrl+" cgroup", "", err)
	}
	// Resolve the hierarchy root: /sys/fs/cgroup/cpu is often a symlink
	// to cpu,cpuacct, which it shares with cpuacct.
	top, err := filepath.EvalSymlinks(s.(pather).Path("/"))
	if err != nil {
		return opError("finding the "+ctrl+" hierarchy", s.(pather).Path("/"), err)
	}
	dir := filepath.Join(top, rel)
	g.member[ctrl] = path.Join(self[ctrl], name)
	if s.Name() == cgroup1.Freezer {
		g.freezer = dir
	}
	for _, d := range g.dirs {
		if d == dir {
			return nil
		}
	}
	if err := mkdir(dir, modeV1, undo); err != nil {
		return err
	}
	g.dirs = append(g.dirs, dir)
	return nil
}

// v1Subsystems returns cgroup1's controller for each of v1Controllers
// that the host mounts and the caller belongs to.
func v1Subsystems(root string, self map[string]string, n needs) ([]cgroup1.Subsystem, error) {
	need := map[cgroup1.Name]bool{cgroup1.Memory: n.memory, cgroup1.Pids: n.pids, cgroup1.Cpu: n.cpu}
	var subs []cgroup1.Subsystem
	for _, c := range v1Controllers {
		top := filepath.Join(root, string(c))
		_, joined := self[string(c)]
		if _, err := os.Stat(top); err != nil || !joined {
			if need[c] {
				return nil, &Error{Op: "finding the " + string(c) + " controller", Path: top, Kind: ErrUnavailable,
					Err: errors.New("no cgroup v1 hierarchy mounted"), Hint: "mount it, or drop the " + string(c) + " limit"}
			}
			continue
		}
		subs = append(subs, v1Subsystem(root, c))
	}
	if len(subs) == 0 {
		return nil, &Error{Op: "finding controllers", Path: root, Kind: ErrUnavailable,
			Err: errors.New("none of freezer, pids, cpu, cpuacct, memory is mounted"), Hint: "mount cgroup2 on " + root}
	}
	return subs, nil
}

func v1Subsystem(root string, c cgroup1.Name) cgroup1.Subsystem {
	switch c {
	case cgroup1.Freezer:
		return cgroup1.NewFreezer(root)
	case cgroup1.Pids:
		return cgroup1.NewPids(root)
	case cgroup1.Cpu:
		return cgroup1.NewCpu(root)
	case cgroup1.Cpuacct:
		return cgroup1.NewCpuacct(root)
	}
	// Stats reads no kmem files (gone from recent kernels) and memsw
	// files only where swap is accounted.
	return cgroup1.NewMemory(root, cgroup1.OptionalSwap(), cgroup1.IgnoreModules("kmem", "kmem.tcp"))
}

// planV1 is r reduced to what cgroup1 must write: -1 (no limit) is what a
// new group has already, and a memory+swap limit is dropped when the
// kernel does not account swap and none is on (see swapAccounted).
func planV1(root string, r *specs.LinuxResources, n needs) (*specs.LinuxResources, error) {
	out := &specs.LinuxResources{}
	if n.memory {
		out.Memory = &specs.LinuxMemory{Limit: limited(r.Memory.Limit)}
	}
	if n.swap {
		file := filepath.Join(root, string(cgroup1.Memory), "memory.memsw.limit_in_bytes")
		ok, err := swapAccounted(file, hintSwapV1)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Memory.Swap = r.Memory.Swap
		}
	}
	if n.pids {
		out.Pids = &specs.LinuxPids{Limit: r.Pids.Limit}
	}
	if n.cpu {
		out.CPU = &specs.LinuxCPU{Quota: limited(r.CPU.Quota), Period: r.CPU.Period}
	}
	return out, nil
}

func (g *Group) statsV1() (Stats, error) {
	m, err := g.v1.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, opError("reading stats of", g.dirs[0], err)
	}
	cpu := m.GetCPU().GetUsage()
	return Stats{
		OOMKilled:       m.GetMemoryOomControl().GetOomKill() > 0,
		PeakMemoryBytes: m.GetMemory().GetUsage().GetMax(),
		UserTime:        time.Duration(cpu.GetUser()),
		SystemTime:      time.Duration(cpu.GetKernel()),
	}, nil
}

// freezeWait bounds how long a v1 freeze may take before Kill signals
// anyway. cgroup1's Freeze waits for FROZEN without end, and a task in
// uninterruptible sleep can hold the group in FREEZING for as long as it
// sleeps; an incomplete freeze only costs Kill another round.
const freezeWait = 100 * time.Millisecond

// freezeV1 sets the freezer state of the group's freezer directory dir.
// The state is written again while waiting because tasks forked during
// the freeze are caught only by a new write (as runc and cgroup1 do).
func freezeV1(dir string, on bool) {
	state := "THAWED"
	if on {
		state = "FROZEN"
	}
	file := filepath.Join(dir, "freezer.state")
	deadline := time.Now().Add(freezeWait)
	for {
		if os.WriteFile(file, []byte(state), 0) != nil || !on {
			return
		}
		b, err := os.ReadFile(file)
		if err != nil || strings.TrimSpace(string(b)) == state || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
