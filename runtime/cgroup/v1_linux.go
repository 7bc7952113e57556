package cgroup

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	v1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Known are the v1 hierarchies NewAt makes a container's group in when
// the host mounts them, as runc does (named hierarchies included, so that
// systemd in a container finds its own).
var v1Known = []string{"freezer", "pids", "memory", "cpu", "cpuacct", "cpuset", "devices", "blkio",
	"hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd"}

// v1Sandbox are the hierarchies New makes a sandbox's group in whatever
// its limits: freezer makes Kill race-free (not for NewInPIDNamespace),
// memory gives peak use and OOM kills, cpuacct CPU time. Each further one
// costs a mkdir, a move and an rmdir, so the others are joined only when a
// limit needs them.
var v1Sandbox = []string{"freezer", "memory", "cpuacct"}

const hintSwapV1 = "boot with swapaccount=1, or turn swap off: swapoff -a"

// newV1 creates the group in each v1 hierarchy s calls for and applies r.
func newV1(s spot, r *specs.LinuxResources) (_ *Group, err error) {
	t, err := mounts()
	if err != nil {
		return nil, err
	}
	self, _, err := selfCgroup()
	if err != nil {
		return nil, err
	}
	st := v1State{limit: math.MaxInt64}
	if swapSet(r) {
		if m, ok := t.v1["memory"]; ok {
			file := filepath.Join(m.point, "memory.memsw.limit_in_bytes")
			if st.swap, err = swapAccounted(file, hintSwapV1); err != nil {
				return nil, err
			}
		}
	}
	p, err := newPlanV1(r, st)
	if err != nil {
		return nil, err
	}
	ref, err := placeV1(t, self, s, p.need)
	if err != nil {
		return nil, err
	}
	if s.sandbox {
		sweep(modeV1, "", v1Parents(t, self, ref))
	}
	g := &Group{ref: ref, dirs: distinct(ref.Dirs)}
	var undo cleanup
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
	undo.push(undoCreate(&g.ref.Created))
	for _, d := range g.dirs {
		if err := makeDir(d, topOf(t, g.ref, d), s, modeV1, &g.ref.Created); err != nil {
			return nil, err
		}
	}
	if d := g.ref.Dirs["cpuset"]; d != "" {
		if err := initCpuset(t.v1["cpuset"].point, d); err != nil {
			return nil, err
		}
	}
	if err := g.applyV1(p); err != nil {
		return nil, err
	}
	return g, nil
}

// placeV1 picks the group's directory in each hierarchy: those of
// v1Sandbox (New) or of v1Known (NewAt) that the host mounts, and those
// the plan needs, which must be mounted.
func placeV1(t *mountTable, self map[string]string, s spot, need map[string]string) (Ref, error) {
	ref := Ref{Mode: modeV1, Dirs: map[string]string{}, Paths: map[string]string{}}
	for _, c := range v1Known {
		_, needed := need[c]
		if s.sandbox && !needed && (!slices.Contains(v1Sandbox, c) || s.ownPID && c == "freezer") {
			continue
		}
		m, mounted := t.v1[c]
		own, joined := self[c]
		if !mounted || !joined {
			if needed {
				return Ref{}, missing(c, need[c], modeV1)
			}
			continue
		}
		p := s.rel
		if !s.abs {
			p = path.Join(own, s.rel)
		}
		dir, ok := m.dir(p)
		if !ok {
			return Ref{}, &Error{Op: "placing the group in", Path: m.point, Kind: ErrUnavailable,
				Err: fmt.Errorf("%s is outside %s, the part of the %s hierarchy this process sees", p, m.root, c)}
		}
		ref.Dirs[c], ref.Paths[c] = dir, p
	}
	if len(ref.Dirs) == 0 {
		return Ref{}, &Error{Op: "finding controllers", Path: mountRoot, Kind: ErrUnavailable,
			Err: errors.New("no cgroup v1 hierarchy is mounted"), Hint: "mount cgroup2 on " + mountRoot}
	}
	return ref, nil
}

// v1Parents maps the hierarchies of ref and of every sandbox's group
// (v1Sandbox) to this process's own directory there: where New's groups
// are made. A stale group's directory in another hierarchy (one its limits
// needed) is swept by the first New that needs that hierarchy too.
func v1Parents(t *mountTable, self map[string]string, ref Ref) map[string]place {
	parents := map[string]place{}
	for _, c := range v1Known {
		if _, ok := ref.Dirs[c]; !ok && !slices.Contains(v1Sandbox, c) {
			continue
		}
		m, mounted := t.v1[c]
		own, joined := self[c]
		if !mounted || !joined {
			continue
		}
		if dir, ok := m.dir(own); ok {
			parents[c] = place{dir, own}
		}
	}
	return parents
}

// topOf is the mount point of the hierarchy of dir, a directory of ref.
func topOf(t *mountTable, ref Ref, dir string) string {
	for c, d := range ref.Dirs {
		if d == dir {
			return t.v1[c].point
		}
	}
	return "/"
}

// initCpuset copies cpuset.cpus and cpuset.mems from the parent into each
// directory from below top down to dir whose own are empty: a new v1
// cpuset has none (cgroup.clone_children is off), and no task can join a
// cpuset without CPUs or memory nodes (ENOSPC).
func initCpuset(top, dir string) error {
	rel, err := filepath.Rel(top, dir)
	if err != nil || rel == "." {
		return err
	}
	cur := top
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		parent := cur
		cur = filepath.Join(cur, part)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if err := copyIfEmpty(filepath.Join(parent, f), filepath.Join(cur, f)); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyIfEmpty(from, to string) error {
	b, err := os.ReadFile(to)
	if err != nil {
		return opError("reading", to, err)
	}
	if strings.TrimSpace(string(b)) != "" {
		return nil
	}
	if b, err = os.ReadFile(from); err != nil {
		return opError("reading", from, err)
	}
	if err := writeFile(to, strings.TrimSpace(string(b))); err != nil {
		return hostError("initialising", to, err, modeV1)
	}
	return nil
}

// v1State is what newPlanV1 needs to know of the group and the host.
type v1State struct {
	// update is Update on a live group: -1 is written (on a new group it
	// is what is there), devices are left.
	update bool
	// swap is that the kernel accounts swap (memory.memsw.* exist), or
	// else that none is on: memory+swap limits are written only then.
	swap bool
	// limit is the group's memory limit now, math.MaxInt64 for none.
	limit int64
}

// planV1 is r as cgroup v1 applies it: lib is written by cgroup1's
// controllers, for libs in that order, then ops in order.
type planV1 struct {
	lib  *specs.LinuxResources
	libs []string
	ops  []op
	need map[string]string // hierarchy → the first field that needs it
}

func (p *planV1) uses(ctrl, fieldName string) {
	if _, ok := p.need[ctrl]; !ok {
		p.need[ctrl] = fieldName
	}
}

func (p *planV1) libUses(ctrl, fieldName string) {
	p.uses(ctrl, fieldName)
	if !slices.Contains(p.libs, ctrl) {
		p.libs = append(p.libs, ctrl)
	}
}

func (p *planV1) write(o op) {
	p.uses(o.ctrl, o.field)
	p.ops = append(p.ops, o)
}

// newPlanV1 turns r into cgroup v1 writes. It is pure: st says what it needs
// to know of the group.
func newPlanV1(r *specs.LinuxResources, st v1State) (*planV1, error) {
	p := &planV1{lib: &specs.LinuxResources{}, need: map[string]string{}}
	if r == nil {
		return p, nil
	}
	if len(r.Unified) > 0 {
		return nil, notOn(modeV1, "unified", "it holds cgroup v2 files")
	}
	p.memory(r.Memory, st)
	p.cpu(r.CPU)
	p.pids(r.Pids, st)
	p.blockIO(r.BlockIO)
	if len(r.Devices) > 0 && !st.update {
		p.lib.Devices = devices(r.Devices)
		p.libUses("devices", "devices")
	}
	if len(r.HugepageLimits) > 0 {
		p.lib.HugepageLimits = r.HugepageLimits
		p.libUses("hugetlb", "hugepageLimits")
		for _, h := range r.HugepageLimits {
			p.write(op{ctrl: "hugetlb", file: "hugetlb." + h.Pagesize + ".rsvd.limit_in_bytes",
				value: strconv.FormatUint(h.Limit, 10), field: "hugepageLimits", optional: true})
		}
	}
	p.network(r.Network)
	for _, o := range rdma(r.Rdma) {
		p.write(o)
	}
	return p, nil
}

// memory: cgroup1 writes the soft limit, kmem.tcp, oom_control and
// swappiness; the limit and memory+swap are written here, in the order
// the kernel takes them (memory+swap is never below memory: raise it
// first, lower it last; runc does the same, and cgroup1's Update swaps the
// wrong pair). memory.kernel is not written (see the package doc).
func (p *planV1) memory(m *specs.LinuxMemory, st v1State) {
	if m == nil {
		return
	}
	lib := specs.LinuxMemory{Reservation: m.Reservation, KernelTCP: m.KernelTCP,
		Swappiness: m.Swappiness, DisableOOMKiller: m.DisableOOMKiller}
	if lib != (specs.LinuxMemory{}) {
		p.lib.Memory = &lib
		p.libUses("memory", "memory")
	}
	var ops []op
	if l := m.Limit; l != nil && (*l != -1 || st.update) {
		ops = append(ops, op{ctrl: "memory", file: "memory.limit_in_bytes", value: itoa(*l), field: "memory.limit"})
	}
	s := m.Swap
	if s == nil && st.update && m.Limit != nil && *m.Limit == -1 {
		s = &m1 // lifting the memory limit lifts memory+swap, or the kernel refuses it
	}
	if s != nil && st.swap && (*s != -1 || st.update) {
		o := op{ctrl: "memory", file: "memory.memsw.limit_in_bytes", value: itoa(*s), field: "memory.swap"}
		if *s == -1 || st.limit < *s {
			ops = append([]op{o}, ops...)
		} else {
			ops = append(ops, o)
		}
	}
	if h := m.UseHierarchy; h != nil {
		ops = append(ops, op{ctrl: "memory", file: "memory.use_hierarchy", value: boolStr(*h), field: "memory.useHierarchy"})
	}
	for _, o := range ops {
		p.write(o)
	}
}

var m1 = int64(-1)

// cpu: cgroup1 writes the realtime and CFS values and shares; burst
// (Linux 5.14) and idle (5.15), which it does not know, and cpuset follow.
func (p *planV1) cpu(c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	lib := specs.LinuxCPU{Shares: c.Shares, Quota: c.Quota, Period: c.Period,
		RealtimeRuntime: c.RealtimeRuntime, RealtimePeriod: c.RealtimePeriod}
	if lib != (specs.LinuxCPU{}) {
		p.lib.CPU = &lib
		p.libUses("cpu", "cpu")
	}
	if b := c.Burst; b != nil {
		p.write(op{ctrl: "cpu", file: "cpu.cfs_burst_us", value: strconv.FormatUint(*b, 10), field: "cpu.burst",
			hint: "CFS burst needs Linux 5.14"})
	}
	if i := c.Idle; i != nil {
		p.write(op{ctrl: "cpu", file: "cpu.idle", value: itoa(*i), field: "cpu.idle", hint: "cpu.idle needs Linux 5.15"})
	}
	if c.Cpus != "" {
		p.write(op{ctrl: "cpuset", file: "cpuset.cpus", value: c.Cpus, field: "cpu.cpus"})
	}
	if c.Mems != "" {
		p.write(op{ctrl: "cpuset", file: "cpuset.mems", value: c.Mems, field: "cpu.mems"})
	}
}

// pids: cgroup1 writes only positive limits, so "max" would never be
// restored by an Update; the file is written here.
func (p *planV1) pids(ps *specs.LinuxPids, st v1State) {
	if ps == nil || ps.Limit == nil || *ps.Limit == 0 || (*ps.Limit == -1 && !st.update) {
		return
	}
	p.write(op{ctrl: "pids", file: "pids.max", value: pidsMax(*ps.Limit), field: "pids.limit"})
}

func pidsMax(l int64) string {
	if l < 0 {
		return "max"
	}
	return itoa(l)
}

// blockIO: cgroup1 writes the throttles. Weights are written here: it
// writes blkio.weight, which only CFQ had (gone in Linux 5.0); BFQ's is
// blkio.bfq.weight, which runc falls back to too.
func (p *planV1) blockIO(b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	const cfq = "leaf weights exist only with the CFQ I/O scheduler, removed in Linux 5.0"
	if w := b.Weight; w != nil {
		v := strconv.Itoa(int(*w))
		p.write(op{ctrl: "blkio", file: "blkio.weight", value: v, alt: "blkio.bfq.weight", altValue: v,
			field: "blockIO.weight", hint: "block I/O weights need the BFQ or CFQ I/O scheduler"})
	}
	if w := b.LeafWeight; w != nil {
		p.write(op{ctrl: "blkio", file: "blkio.leaf_weight", value: strconv.Itoa(int(*w)), field: "blockIO.leafWeight", hint: cfq})
	}
	for _, d := range b.WeightDevice {
		if w := d.Weight; w != nil {
			v := fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *w)
			p.write(op{ctrl: "blkio", file: "blkio.weight_device", value: v, alt: "blkio.bfq.weight_device", altValue: v,
				field: "blockIO.weightDevice", hint: "block I/O weights need the BFQ or CFQ I/O scheduler"})
		}
		if w := d.LeafWeight; w != nil {
			p.write(op{ctrl: "blkio", file: "blkio.leaf_weight_device", value: fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *w),
				field: "blockIO.weightDevice.leafWeight", hint: cfq})
		}
	}
	lib := specs.LinuxBlockIO{ThrottleReadBpsDevice: b.ThrottleReadBpsDevice, ThrottleWriteBpsDevice: b.ThrottleWriteBpsDevice,
		ThrottleReadIOPSDevice: b.ThrottleReadIOPSDevice, ThrottleWriteIOPSDevice: b.ThrottleWriteIOPSDevice}
	if len(lib.ThrottleReadBpsDevice)+len(lib.ThrottleWriteBpsDevice)+len(lib.ThrottleReadIOPSDevice)+len(lib.ThrottleWriteIOPSDevice) > 0 {
		p.lib.BlockIO = &lib
		p.libUses("blkio", "blockIO")
	}
}

// network is written by cgroup1's net_cls and net_prio.
func (p *planV1) network(n *specs.LinuxNetwork) {
	if n == nil {
		return
	}
	if n.ClassID != nil {
		p.lib.Network = &specs.LinuxNetwork{ClassID: n.ClassID}
		p.libUses("net_cls", "network.classID")
	}
	if len(n.Priorities) > 0 {
		if p.lib.Network == nil {
			p.lib.Network = &specs.LinuxNetwork{}
		}
		p.lib.Network.Priorities = n.Priorities
		p.libUses("net_prio", "network.priorities")
	}
}

// rdma writes rdma.max once per device, in name order: cgroup1 writes
// only the first device, cgroup2 only devices with both limits.
func rdma(r map[string]specs.LinuxRdma) []op {
	var ops []op
	for _, dev := range slices.Sorted(maps.Keys(r)) {
		l := r[dev]
		v := dev
		if l.HcaHandles != nil {
			v += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			v += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if v != dev {
			ops = append(ops, op{ctrl: "rdma", file: "rdma.max", value: v, field: "rdma"})
		}
	}
	return ops
}

// devices fills in what OCI leaves out, as containerd does for its
// deny-all entry: no type is all, no major or minor any (-1), no access
// rwm. cgroup2's eBPF filter dereferences major and minor.
func devices(ds []specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
	out := slices.Clone(ds)
	for i := range out {
		d := &out[i]
		if d.Type == "" {
			d.Type = "a"
		}
		if d.Major == nil {
			d.Major = &m1
		}
		if d.Minor == nil {
			d.Minor = &m1
		}
		if d.Access == "" {
			d.Access = "rwm"
		}
	}
	return out
}

// applyV1 executes p on the group.
func (g *Group) applyV1(p *planV1) error {
	for _, c := range p.libs {
		if err := g.libV1(c, p.lib); err != nil {
			return err
		}
	}
	for _, o := range p.ops {
		if err := o.run(g.ref.Dirs[o.ctrl], modeV1); err != nil {
			return err
		}
	}
	return nil
}

// v1Writer is how cgroup1's controllers apply limits to the group at
// path (relative to the controller's root): Update, where they have one,
// does not create the directory again.
type v1Writer interface {
	Create(path string, r *specs.LinuxResources) error
}

type v1Updater interface {
	Update(path string, r *specs.LinuxResources) error
}

// libV1 has cgroup1's controller for c write r's values for it.
func (g *Group) libV1(c string, r *specs.LinuxResources) error {
	s, err := v1Controller(c)
	if err != nil {
		return err
	}
	dir := g.ref.Dirs[c]
	rel := v1Path(c, dir)
	if u, ok := s.(v1Updater); ok {
		err = u.Update(rel, r)
	} else {
		err = s.(v1Writer).Create(rel, r)
	}
	if err != nil {
		return hostError("writing limits to", dir, err, modeV1)
	}
	return nil
}

// v1Controller is cgroup1's controller for c, built on mountRoot: its
// files are at mountRoot/c/<path>; v1Path makes that dir.
func v1Controller(c string) (cgroup1.Subsystem, error) {
	switch c {
	case "memory":
		// Stats reads no kmem files (gone from recent kernels) and memsw
		// files only where swap is accounted.
		return cgroup1.NewMemory(mountRoot, cgroup1.OptionalSwap(), cgroup1.IgnoreModules("kmem", "kmem.tcp")), nil
	case "cpu":
		return cgroup1.NewCpu(mountRoot), nil
	case "cpuacct":
		return cgroup1.NewCpuacct(mountRoot), nil
	case "pids":
		return cgroup1.NewPids(mountRoot), nil
	case "devices":
		return cgroup1.NewDevices(mountRoot), nil
	case "blkio":
		return cgroup1.NewBlkio(mountRoot), nil
	case "net_cls":
		return cgroup1.NewNetCls(mountRoot), nil
	case "net_prio":
		return cgroup1.NewNetPrio(mountRoot), nil
	case "hugetlb":
		h, err := cgroup1.NewHugetlb(mountRoot)
		if err != nil {
			return nil, opError("finding huge page sizes", "/sys/kernel/mm/hugepages", err)
		}
		return h, nil
	}
	return nil, fmt.Errorf("cgroup: no cgroup1 controller for %s", c)
}

// v1Path is dir, the group's directory in c's hierarchy, relative to
// where cgroup1 puts c (mountRoot/c): cgroup1's controllers join the two,
// which gives dir back wherever the hierarchy is mounted.
func v1Path(c, dir string) string {
	rel, err := filepath.Rel(filepath.Join(mountRoot, c), dir)
	if err != nil {
		return dir
	}
	return rel
}

// updateV1 is Update on v1.
func (g *Group) updateV1(r *specs.LinuxResources) error {
	st := v1State{update: true, limit: math.MaxInt64}
	mem := g.ref.Dirs["memory"]
	if mem != "" {
		if swapSet(r) || (r.Memory != nil && r.Memory.Limit != nil) {
			var err error
			if st.swap, err = swapAccounted(filepath.Join(mem, "memory.memsw.limit_in_bytes"), hintSwapV1); err != nil {
				return err
			}
			if st.limit, err = readInt(filepath.Join(mem, "memory.limit_in_bytes")); err != nil {
				return err
			}
		}
	}
	p, err := newPlanV1(r, st)
	if err != nil {
		return err
	}
	for _, c := range v1Known {
		if f, ok := p.need[c]; ok && g.ref.Dirs[c] == "" {
			return missing(c, f, modeV1)
		}
	}
	if mem != "" {
		if err := checkUsage(r, filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
			return err
		}
	}
	return g.applyV1(p)
}

func readInt(file string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, opError("reading", file, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, opError("reading", file, err)
	}
	return v, nil
}

// v1Stater is how cgroup1's controllers read a group's statistics.
type v1Stater interface {
	Stat(path string, m *v1stats.Metrics) error
}

func (g *Group) statsV1() (Stats, error) {
	m := &v1stats.Metrics{CPU: &v1stats.CPUStat{Usage: &v1stats.CPUUsage{}, Throttling: &v1stats.Throttle{}}}
	for _, c := range []string{"memory", "cpuacct", "pids"} {
		dir := g.ref.Dirs[c]
		if dir == "" {
			continue
		}
		s, err := v1Controller(c)
		if err == nil {
			err = s.(v1Stater).Stat(v1Path(c, dir), m)
		}
		if err != nil {
			return Stats{}, opError("reading stats of", dir, err)
		}
	}
	cpu, mem := m.GetCPU().GetUsage(), m.GetMemory().GetUsage()
	return Stats{
		OOMKilled:        m.GetMemoryOomControl().GetOomKill() > 0,
		PeakMemoryBytes:  mem.GetMax(),
		MemoryBytes:      mem.GetUsage(),
		MemoryLimitBytes: unlimited(mem.GetLimit()),
		Pids:             m.GetPids().GetCurrent(),
		CPUTime:          time.Duration(cpu.GetTotal()),
		UserTime:         time.Duration(cpu.GetUser()),
		SystemTime:       time.Duration(cpu.GetKernel()),
	}, nil
}

// freezeV1 sets the freezer state of dir, the group's freezer directory,
// and waits at most wait for it to be FROZEN. The state is written again
// while waiting because tasks forked during the freeze are caught only by
// a new write (as runc and cgroup1 do); cgroup1's own Freeze waits
// without end.
func freezeV1(dir string, on bool, wait time.Duration) bool {
	state := "THAWED"
	if on {
		state = "FROZEN"
	}
	file := filepath.Join(dir, "freezer.state")
	deadline := time.Now().Add(wait)
	for {
		if writeFile(file, state) != nil {
			return false
		}
		if !on {
			return true
		}
		b, err := os.ReadFile(file)
		if err != nil || strings.TrimSpace(string(b)) == state {
			return err == nil
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// frozenV1 reads whether the freezer directory dir is FROZEN.
func frozenV1(dir string) (bool, error) {
	file := filepath.Join(dir, "freezer.state")
	b, err := os.ReadFile(file)
	if err != nil {
		return false, opError("reading", file, err)
	}
	return strings.TrimSpace(string(b)) == "FROZEN", nil
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
