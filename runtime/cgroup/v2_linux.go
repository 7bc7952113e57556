package cgroup

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	hintSwapV2 = "boot a kernel with CONFIG_MEMCG_SWAP and swapaccount=1, or turn swap off: swapoff -a"
	hintBusy   = "cgroup v2 forbids controllers below a cgroup that holds processes: " +
		"run sbx from a cgroup whose parent holds none, e.g. under systemd-run --scope"
)

// newV2 creates the group under the cgroup2 mount at root, enables the
// controllers it needs (New) or all the root offers (NewAt), writes r and
// opens the directory.
func newV2(root string, s spot, r *specs.LinuxResources) (_ *Group, err error) {
	t, err := mounts()
	if err != nil {
		return nil, err
	}
	m, err := t.v2Mount(root)
	if err != nil {
		return nil, err
	}
	_, self, err := selfCgroup()
	if err != nil {
		return nil, err
	}
	p, err := newPlanV2(r, v2State{swap: true})
	if err != nil {
		return nil, err
	}
	cg := s.rel
	if !s.abs {
		cg = path.Join(path.Dir(self), s.rel)
	}
	dir, ok := m.dir(cg)
	if !ok {
		return nil, &Error{Op: "placing the group in", Path: m.point, Kind: ErrUnavailable,
			Err: fmt.Errorf("%s is outside %s, the part of the hierarchy this process sees", cg, m.root)}
	}
	if s.sandbox {
		sweep(modeV2, m.point, map[string]place{"": {filepath.Dir(dir), path.Dir(cg)}})
	}
	g := &Group{ref: Ref{Mode: modeV2, Dirs: map[string]string{"": dir}, Paths: map[string]string{"": cg}, Mount: m.point},
		dirs: []string{dir}}
	var undo cleanup
	defer func() {
		if err != nil {
			undo.run()
			g.close()
		}
	}()
	undo.push(undoCreate(&g.ref.Created))
	if err := makeDir(dir, m.point, s, modeV2, &g.ref.Created); err != nil {
		return nil, err
	}
	if err := g.openV2(); err != nil {
		return nil, err
	}
	want := []string{"memory"}
	if !s.sandbox {
		if want, err = g.v2.RootControllers(); err != nil {
			return nil, opError("reading controllers of", m.point, err)
		}
	}
	if err := g.enableV2(want, p.need); err != nil {
		return nil, err
	}
	if swapSet(r) {
		st := v2State{}
		if st.swap, err = swapAccounted(filepath.Join(dir, "memory.swap.max"), hintSwapV2); err != nil {
			return nil, err
		}
		if p, err = newPlanV2(r, st); err != nil {
			return nil, err
		}
	}
	if err := g.applyV2(p); err != nil {
		return nil, err
	}
	return g, nil
}

// openV2 makes the group's cgroup2 manager and opens its directory.
func (g *Group) openV2() error {
	dir, mnt := g.ref.Dirs[""], g.ref.Mount
	rel, ok := below(mnt, dir)
	if !ok {
		return &Error{Op: "opening", Path: dir, Kind: ErrInvalid, Err: fmt.Errorf("not under the cgroup2 mount %s", mnt)}
	}
	m, err := cgroup2.Load(rel, cgroup2.WithMountpoint(mnt))
	if err != nil {
		return opError("opening", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return opError("opening", dir, err)
	}
	g.v2, g.dir = m, f
	return nil
}

// enableV2 enables, in cgroup.subtree_control from the root down to the
// group's parent, the controllers in want that the root offers, and
// those the plan needs. A needed controller that cannot be enabled is an
// error, naming the field that needs it; the others are best effort
// (memory for Stats, say).
func (g *Group) enableV2(want []string, need map[string]string) error {
	offered, err := g.v2.RootControllers()
	if err != nil {
		return opError("reading controllers of", g.ref.Mount, err)
	}
	var all []string
	for _, c := range slices.Sorted(maps.Keys(need)) {
		if !slices.Contains(offered, c) {
			return missing(c, need[c], modeV2)
		}
		all = append(all, c)
	}
	for _, c := range want {
		if slices.Contains(offered, c) && !slices.Contains(all, c) {
			all = append(all, c)
		}
	}
	if len(all) == 0 || g.v2.ToggleControllers(all, cgroup2.Enable) == nil {
		return nil
	}
	for _, c := range all {
		err := g.v2.ToggleControllers([]string{c}, cgroup2.Enable)
		if _, needed := need[c]; err == nil || !needed {
			continue
		}
		e := hostError("enabling "+c+" for", field+"."+need[c], err, modeV2)
		if errors.Is(err, unix.EBUSY) {
			e.Kind, e.Hint = ErrUnavailable, hintBusy
		}
		return e
	}
	return nil
}

// v2State is what newPlanV2 needs to know of the group and the host.
type v2State struct {
	// update is Update on a live group: -1 is written as "max",
	// devices are left, and a quota or period alone keeps the other.
	update bool
	// swap is that the kernel accounts swap (memory.swap.max exists),
	// or else that none is on: swap limits are written only then.
	swap bool
	// cpuMax is cpu.max now ("max 100000"), for an update of quota or
	// period alone.
	cpuMax string
}

// planV2 is r as cgroup v2 applies it: lib is written by cgroup2's
// Manager.Update (files, then the eBPF device filter), then ops in order.
type planV2 struct {
	lib  *cgroup2.Resources
	ops  []op
	need map[string]string // controller → the first field that needs it
}

func (p *planV2) uses(ctrl, fieldName string) {
	if _, ok := p.need[ctrl]; !ok && ctrl != "" {
		p.need[ctrl] = fieldName
	}
}

func (p *planV2) write(o op) {
	p.uses(o.ctrl, o.field)
	p.ops = append(p.ops, o)
}

// newPlanV2 turns r into cgroup v2 writes, refusing what v2 cannot
// apply. It is pure: st says what it needs to know of the group.
func newPlanV2(r *specs.LinuxResources, st v2State) (*planV2, error) {
	p := &planV2{lib: &cgroup2.Resources{}, need: map[string]string{}}
	if r == nil {
		return p, nil
	}
	steps := []func() error{
		func() error { return p.memory(r.Memory, st) },
		func() error { return p.cpu(r.CPU, st) },
		func() error { p.pids(r.Pids, st); return nil },
		func() error { return p.blockIO(r.BlockIO) },
		func() error { return p.network(r.Network) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if len(r.Devices) > 0 && !st.update {
		// An eBPF program on the directory (Linux 4.15), no controller.
		p.lib.Devices = devices(r.Devices)
	}
	p.hugepages(r.HugepageLimits)
	for _, o := range rdma(r.Rdma) {
		p.write(o)
	}
	p.unified(r.Unified)
	return p, nil
}

// memory: v2 has no swappiness, no kernel TCP limit, no way to turn the
// OOM killer off and no flat hierarchy; OCI's swap is memory plus swap,
// v2's memory.swap.max swap alone. -1 is "max" (also for reservation,
// memory.low, as runc writes it).
func (p *planV2) memory(m *specs.LinuxMemory, st v2State) error {
	if m == nil {
		return nil
	}
	switch {
	case m.Swappiness != nil:
		return notOn(modeV2, "memory.swappiness", "it has no per-cgroup swappiness")
	case m.KernelTCP != nil:
		return notOn(modeV2, "memory.kernelTCP", "TCP buffers count against memory.limit")
	case m.DisableOOMKiller != nil && *m.DisableOOMKiller:
		return notOn(modeV2, "memory.disableOOMKiller", "the OOM killer cannot be turned off")
	case m.UseHierarchy != nil && !*m.UseHierarchy:
		return notOn(modeV2, "memory.useHierarchy", "accounting is always hierarchical")
	}
	lib := cgroup2.Memory{}
	if l := m.Limit; l != nil && *l != -1 {
		lib.Max = l
	} else if l != nil && st.update {
		p.write(op{ctrl: "memory", file: "memory.max", value: "max", field: "memory.limit"})
	}
	if s := m.Swap; s != nil && st.swap && *s != -1 {
		swap := *s - *m.Limit
		lib.Swap = &swap
	} else if s != nil && st.swap && st.update {
		p.write(op{ctrl: "memory", file: "memory.swap.max", value: "max", field: "memory.swap"})
	}
	if v := m.Reservation; v != nil && *v != -1 {
		lib.Low = v
	} else if v != nil {
		p.write(op{ctrl: "memory", file: "memory.low", value: "max", field: "memory.reservation"})
	}
	if lib != (cgroup2.Memory{}) {
		p.lib.Memory = &lib
		p.uses("memory", "memory")
	}
	return nil
}

// cpu: shares become a weight (cgroup2's conversion, from runc); quota
// and period are cpu.max, whose other half an update keeps; burst
// (Linux 5.14) and idle (5.15), which cgroup2 does not know, follow. v2
// has no realtime bandwidth.
func (p *planV2) cpu(c *specs.LinuxCPU, st v2State) error {
	if c == nil {
		return nil
	}
	if c.RealtimeRuntime != nil {
		return notOn(modeV2, "cpu.realtimeRuntime", "it has no realtime CPU bandwidth")
	}
	if c.RealtimePeriod != nil {
		return notOn(modeV2, "cpu.realtimePeriod", "it has no realtime CPU bandwidth")
	}
	lib := cgroup2.CPU{Cpus: c.Cpus, Mems: c.Mems}
	if s := c.Shares; s != nil && *s != 0 {
		w := cgroup2.ConvertCPUSharesToCgroupV2Value(*s)
		lib.Weight = &w
	}
	if max, ok := cpuMax(c.Quota, c.Period, st); ok {
		lib.Max = max
	}
	if lib.Weight != nil || lib.Max != "" {
		p.uses("cpu", "cpu")
	}
	if lib.Cpus != "" || lib.Mems != "" {
		p.uses("cpuset", "cpu.cpus")
	}
	if lib != (cgroup2.CPU{}) {
		p.lib.CPU = &lib
	}
	if b := c.Burst; b != nil {
		p.write(op{ctrl: "cpu", file: "cpu.max.burst", value: strconv.FormatUint(*b, 10), field: "cpu.burst",
			hint: "CFS burst needs Linux 5.14"})
	}
	if i := c.Idle; i != nil {
		p.write(op{ctrl: "cpu", file: "cpu.idle", value: itoa(*i), field: "cpu.idle", hint: "cpu.idle needs Linux 5.15"})
	}
	return nil
}

// cpuMax is cpu.max for quota and period; false when there is nothing to
// write (a new group's is "max 100000" already).
func cpuMax(quota *int64, period *uint64, st v2State) (cgroup2.CPUMax, bool) {
	if quota == nil && period == nil || !st.update && limited(quota) == nil && period == nil {
		return "", false
	}
	if st.update && (quota == nil || period == nil) {
		cur := strings.Fields(st.cpuMax)
		if quota == nil && len(cur) == 2 && cur[0] != "max" {
			if q, err := strconv.ParseInt(cur[0], 10, 64); err == nil {
				quota = &q
			}
		}
		if period == nil && len(cur) == 2 {
			if v, err := strconv.ParseUint(cur[1], 10, 64); err == nil {
				period = &v
			}
		}
	}
	return cgroup2.NewCPUMax(limited(quota), period), true
}

// pids: 0 is left unset (see the package doc); -1 is "max".
func (p *planV2) pids(ps *specs.LinuxPids, st v2State) {
	if ps == nil || ps.Limit == nil || *ps.Limit == 0 || (*ps.Limit == -1 && !st.update) {
		return
	}
	p.lib.Pids = &cgroup2.Pids{Max: *ps.Limit}
	p.uses("pids", "pids.limit")
}

// blockIO: cgroup2 writes the throttles (io.max). Weights are written
// here: BFQ's io.bfq.weight takes OCI's 10 to 1000 as they are, io.weight
// (the io.cost controller) wants 1 to 10000, converted as runc does;
// cgroup2.ToResources writes the converted value to io.bfq.weight, which
// the kernel refuses above 1000. v2 has no leaf weights.
func (p *planV2) blockIO(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	if b.LeafWeight != nil {
		return notOn(modeV2, "blockIO.leafWeight", "it has no leaf weights")
	}
	hint := "block I/O weights need the BFQ I/O scheduler or the io.cost controller"
	if w := b.Weight; w != nil {
		p.write(op{ctrl: "io", file: "io.bfq.weight", value: strconv.Itoa(int(*w)), alt: "io.weight",
			altValue: strconv.FormatUint(ioWeight(*w), 10), field: "blockIO.weight", hint: hint})
	}
	for _, d := range b.WeightDevice {
		if d.LeafWeight != nil {
			return notOn(modeV2, "blockIO.weightDevice.leafWeight", "it has no leaf weights")
		}
		if w := d.Weight; w != nil {
			dev := fmt.Sprintf("%d:%d ", d.Major, d.Minor)
			p.write(op{ctrl: "io", file: "io.bfq.weight", value: dev + strconv.Itoa(int(*w)), alt: "io.weight",
				altValue: dev + strconv.FormatUint(ioWeight(*w), 10), field: "blockIO.weightDevice", hint: hint})
		}
	}
	var max []cgroup2.Entry
	for _, t := range []struct {
		typ  cgroup2.IOType
		devs []specs.LinuxThrottleDevice
	}{
		{cgroup2.ReadBPS, b.ThrottleReadBpsDevice}, {cgroup2.WriteBPS, b.ThrottleWriteBpsDevice},
		{cgroup2.ReadIOPS, b.ThrottleReadIOPSDevice}, {cgroup2.WriteIOPS, b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			max = append(max, cgroup2.Entry{Type: t.typ, Major: d.Major, Minor: d.Minor, Rate: d.Rate})
		}
	}
	if len(max) > 0 {
		p.lib.IO = &cgroup2.IO{Max: max}
		p.uses("io", "blockIO")
	}
	return nil
}

// ioWeight converts a blkio weight (10 to 1000) to io.weight's 1 to 10000
// (runc's ConvertBlkIOToIOWeightValue).
func ioWeight(w uint16) uint64 {
	if w < 10 {
		w = 10
	}
	return 1 + (uint64(w)-10)*9999/990
}

// network: v2 has no net_cls or net_prio; eBPF programs on the cgroup do
// that job.
func (p *planV2) network(n *specs.LinuxNetwork) error {
	switch {
	case n == nil:
	case n.ClassID != nil:
		return notOn(modeV2, "network.classID", "it has no net_cls controller")
	case len(n.Priorities) > 0:
		return notOn(modeV2, "network.priorities", "it has no net_prio controller")
	}
	return nil
}

// hugepages: cgroup2 writes hugetlb.<size>.max; the reservation limit
// (hugetlb.<size>.rsvd.max, Linux 5.7), which OCI means by default, is
// written here where the kernel has it.
func (p *planV2) hugepages(hs []specs.LinuxHugepageLimit) {
	if len(hs) == 0 {
		return
	}
	var lib cgroup2.HugeTlb
	for _, h := range hs {
		lib = append(lib, cgroup2.HugeTlbEntry{HugePageSize: h.Pagesize, Limit: h.Limit})
		p.write(op{ctrl: "hugetlb", file: "hugetlb." + h.Pagesize + ".rsvd.max",
			value: strconv.FormatUint(h.Limit, 10), field: "hugepageLimits", optional: true})
	}
	p.lib.HugeTlb = &lib
	p.uses("hugetlb", "hugepageLimits")
}

// unified writes each file as it is, last so that it wins (as runc);
// the controller is the name's first part, none for cgroup.* files.
func (p *planV2) unified(u map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(u)) {
		ctrl, _, _ := strings.Cut(k, ".")
		if ctrl == "cgroup" {
			ctrl = ""
		}
		p.write(op{ctrl: ctrl, file: k, value: u[k], field: "unified." + k})
	}
}

// applyV2 executes p on the group.
func (g *Group) applyV2(p *planV2) error {
	if err := g.v2.Update(p.lib); err != nil {
		return hostError("writing limits to", g.dirs[0], err, modeV2)
	}
	for _, o := range p.ops {
		if err := o.run(g.dirs[0], modeV2); err != nil {
			return err
		}
	}
	return nil
}

// updateV2 is Update on v2.
func (g *Group) updateV2(r *specs.LinuxResources) error {
	dir := g.dirs[0]
	st := v2State{update: true, swap: true}
	if swapSet(r) {
		var err error
		if st.swap, err = swapAccounted(filepath.Join(dir, "memory.swap.max"), hintSwapV2); err != nil {
			return err
		}
	}
	if c := r.CPU; c != nil && (c.Quota == nil) != (c.Period == nil) {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
		if err != nil {
			return opError("reading", filepath.Join(dir, "cpu.max"), err)
		}
		st.cpuMax = strings.TrimSpace(string(b))
	}
	p, err := newPlanV2(r, st)
	if err != nil {
		return err
	}
	if err := g.enableV2(nil, p.need); err != nil {
		return err
	}
	if err := checkUsage(r, filepath.Join(dir, "memory.current")); err != nil {
		return err
	}
	return g.applyV2(p)
}

func (g *Group) statsV2() (Stats, error) {
	m, err := g.v2.StatFiltered(cgroup2.StatMemory | cgroup2.StatMemoryEvents | cgroup2.StatCPU | cgroup2.StatPids)
	if err != nil {
		return Stats{}, opError("reading stats of", g.dirs[0], err)
	}
	mem, cpu := m.GetMemory(), m.GetCPU()
	return Stats{
		OOMKilled:        m.GetMemoryEvents().GetOomKill() > 0,
		PeakMemoryBytes:  mem.GetMaxUsage(),
		MemoryBytes:      mem.GetUsage(),
		MemoryLimitBytes: unlimited(mem.GetUsageLimit()),
		Pids:             m.GetPids().GetCurrent(),
		CPUTime:          time.Duration(cpu.GetUsageUsec()) * time.Microsecond,
		UserTime:         time.Duration(cpu.GetUserUsec()) * time.Microsecond,
		SystemTime:       time.Duration(cpu.GetSystemUsec()) * time.Microsecond,
	}, nil
}

// freezeV2 writes cgroup.freeze (Linux 5.2) and waits at most wait for
// cgroup.events to agree.
// cgroup2's own Freeze waits without end.
func freezeV2(dir string, on bool, wait time.Duration) bool {
	if writeFile(filepath.Join(dir, "cgroup.freeze"), boolStr(on)) != nil {
		return false
	}
	deadline := time.Now().Add(wait)
	for {
		frozen, err := frozenV2(dir)
		switch {
		case err != nil:
			return false
		case frozen == on:
			return true
		case time.Now().After(deadline):
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// frozenV2 reads the "frozen" key of dir's cgroup.events.
func frozenV2(dir string) (bool, error) {
	file := filepath.Join(dir, "cgroup.events")
	b, err := os.ReadFile(file)
	if err != nil {
		return false, opError("reading", file, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "frozen "); ok {
			return v == "1", nil
		}
	}
	return false, opError("reading", file, errors.New("no frozen key: the kernel is older than 5.2"))
}
