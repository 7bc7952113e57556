package cgroup

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	hintSwapV2 = "boot a kernel with CONFIG_MEMCG_SWAP and swapaccount=1, or turn swap off: swapoff -a"
	hintBusy   = "cgroup v2 forbids controllers below a cgroup that holds processes: " +
		"run sbx from a cgroup whose parent holds none, e.g. under systemd-run --scope"
)

// newV2 creates <parent of the caller's cgroup>/name (or /name for a
// caller in the root) under the cgroup2 mount root, enables the
// controllers it needs and writes the limits.
func newV2(root, name string, r *specs.LinuxResources) (_ *Group, err error) {
	self, err := selfV2()
	if err != nil {
		return nil, err
	}
	group := path.Join(path.Dir(self), name)
	dir := filepath.Join(root, group)
	var undo cleanup
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
	if err := mkdir(dir, modeV2, &undo); err != nil {
		return nil, err
	}
	m, err := cgroup2.Load(group, cgroup2.WithMountpoint(root))
	if err != nil {
		return nil, opError("opening", dir, err)
	}
	n := needsOf(r)
	if err := enableV2(m, root, n); err != nil {
		return nil, err
	}
	if err := writeV2(m, dir, r, n); err != nil {
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, opError("opening", dir, err)
	}
	return &Group{mode: modeV2, dirs: []string{dir}, member: map[string]string{"": group}, v2: m, dir: f}, nil
}

// selfV2 is the caller's cgroup v2 path, as in /proc/self/cgroup.
func selfV2() (string, error) {
	_, p, err := cgroups.ParseCgroupFileUnified(procSelfCgroup)
	if err == nil && p == "" {
		err = errors.New("no cgroup v2 entry")
	}
	if err != nil {
		return "", opError("reading", procSelfCgroup, err)
	}
	return p, nil
}

// enableV2 enables, in cgroup.subtree_control from the root down to the
// group's parent, each controller the limits need, and memory in any case
// so that Stats can report peak use and OOM kills. A needed controller
// that cannot be enabled is an error; memory for Stats alone is not.
func enableV2(m *cgroup2.Manager, root string, n needs) error {
	want := []struct {
		name string
		need bool
	}{{"memory", n.memory}, {"pids", n.pids}, {"cpu", n.cpu}}
	offered, err := m.RootControllers()
	if err != nil {
		return opError("reading controllers of", root, err)
	}
	for _, c := range want {
		if !c.need && c.name != "memory" {
			continue
		}
		if !slices.Contains(offered, c.name) {
			if !c.need {
				continue
			}
			return &Error{Op: "enabling " + c.name + " in", Path: root, Kind: ErrUnavailable,
				Err:  errors.New("the kernel offers no such cgroup v2 controller here"),
				Hint: "it may be bound to a cgroup v1 hierarchy; drop the " + c.name + " limit, or boot with cgroup v2 only"}
		}
		if err := m.ToggleControllers([]string{c.name}, cgroup2.Enable); err != nil && c.need {
			e := hostError("enabling "+c.name+" in", root, err, modeV2)
			if errors.Is(err, unix.EBUSY) {
				e.Kind, e.Hint = ErrUnavailable, hintBusy
			}
			return e
		}
	}
	return nil
}

// writeV2 converts r to cgroup2's resources and writes them. The
// conversion is done here rather than by cgroup2.ToResources, which drops
// a CPU quota given without a period and turns a memory+swap of -1 into a
// negative memory.swap.max.
func writeV2(m *cgroup2.Manager, dir string, r *specs.LinuxResources, n needs) error {
	res := &cgroup2.Resources{}
	if n.memory {
		res.Memory = &cgroup2.Memory{Max: limited(r.Memory.Limit)}
	}
	if n.swap {
		file := filepath.Join(dir, "memory.swap.max")
		ok, err := swapAccounted(file, hintSwapV2)
		if err != nil {
			return err
		}
		if ok {
			// v2 limits swap alone; OCI's swap is memory plus swap.
			swap := *r.Memory.Swap - *r.Memory.Limit
			res.Memory.Swap = &swap
		}
	}
	if n.pids {
		res.Pids = &cgroup2.Pids{Max: *r.Pids.Limit}
	}
	if n.cpu {
		res.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(limited(r.CPU.Quota), r.CPU.Period)}
	}
	if err := m.Update(res); err != nil {
		return hostError("writing limits to", dir, err, modeV2)
	}
	return nil
}

func (g *Group) statsV2() (Stats, error) {
	m, err := g.v2.StatFiltered(cgroup2.StatMemory | cgroup2.StatMemoryEvents | cgroup2.StatCPU)
	if err != nil {
		return Stats{}, opError("reading stats of", g.dirs[0], err)
	}
	return Stats{
		OOMKilled:       m.GetMemoryEvents().GetOomKill() > 0,
		PeakMemoryBytes: m.GetMemory().GetMaxUsage(),
		UserTime:        time.Duration(m.GetCPU().GetUserUsec()) * time.Microsecond,
		SystemTime:      time.Duration(m.GetCPU().GetSystemUsec()) * time.Microsecond,
	}, nil
}
