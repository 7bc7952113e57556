// Package cgroup gives a sandbox or a container a cgroup of its own: it
// creates the group (New for sbx run, NewAt for an OCI container's
// linux.cgroupsPath), applies OCI resource limits to it, lets processes
// in, reports what the group used, freezes, lists and kills everything in
// it, changes its limits and removes it. A Ref, kept in a container's
// state file, lets a later process reopen the group with Load.
//
// Limits are written through github.com/containerd/cgroups (its cgroup1
// controllers and cgroup2 Manager, the eBPF device filter included). The
// files it does not handle, or handles wrongly for today's kernels, are
// written directly: cgroup.kill, bounded freezes, v1 memory+swap in the
// order the kernel accepts, "max" on update, BFQ weights, cpu.idle, CFS
// burst, RDMA, huge page reservations, cpuset initialisation and unified.
// The mount table is read once per process, and New joins only the v1
// hierarchies it needs: containerd's discovery reads /proc/self/mountinfo
// once per controller.
//
// # Where the group lives
//
// On a pure cgroup v2 host (/sys/fs/cgroup is cgroup2) New's group is
// <parent of the caller's cgroup>/sbx-<name>: a sibling of the caller's own
// cgroup. It cannot be a child of the caller's cgroup, because that cgroup
// holds the caller and the v2 "no internal processes" rule forbids
// controllers below a cgroup with processes; the parent (a systemd slice,
// say) holds none, and its limits still bound the sandbox. A caller in the
// root cgroup gets /sbx-<name>, the root being exempt from the rule. The
// controllers the limits need, and memory for Stats when it can, are
// enabled in cgroup.subtree_control along the path (never disabled), which
// takes root or a delegated subtree (systemd-run --user --scope -p
// Delegate=yes).
//
// On a cgroup v1 or hybrid host New's group is <caller's cgroup>/sbx-<name>
// in the freezer (for Kill), memory and cpuacct (for Stats) hierarchies and
// in those its limits need, so that limits already set on the caller (a CI
// job, an outer container) still bound the sandbox; v1 allows processes
// beside child groups. The cgroup2 hierarchy of a hybrid host is not used.
//
// A group New names itself records its maker, and each New deletes the
// groups beside its own whose maker is gone (see sweep), killing what they
// hold: a sandbox whose sbx was SIGKILLed.
//
// NewAt reads linux.cgroupsPath as runc does. An absolute path starts at
// the root of each hierarchy as this process sees it. A relative path is
// below the caller's own cgroup on v1, and below the parent of the
// caller's cgroup on v2, for New's reason. On v1 the group is made in every
// hierarchy the host mounts (cpuset, cpu, cpuacct, memory, devices,
// freezer, blkio, pids, hugetlb, net_cls, net_prio, perf_event, rdma, misc
// and name=systemd), with cpuset.cpus and cpuset.mems copied from the
// parent; on v2 every controller the root offers is enabled on the way
// down. The directory and its parents may exist already (kubelet and
// podman make the parents): they are used as they are, and Delete removes
// only what NewAt made.
//
// # What it accepts and refuses
//
// Values mean what OCI says: -1 is no limit, and memory.swap counts memory
// plus swap, so swap equal to the limit means no swap (on a host that does
// not account swap and has none on, the memory limit alone already ensures
// that). containerd and podman send some fields with every container that
// change nothing; they are accepted:
//
//   - devices: the deny-all-then-allow list, on v1 through the devices
//     controller, on v2 as an eBPF program on the directory. Update leaves
//     devices as they are, as runc update does (containerd sends the
//     unchanged list).
//   - pids.limit 0: left unapplied by NewAt and Update, as runc before 1.4,
//     podman and CRI-O take it; New refuses it.
//   - memory.kernel: not written. Linux 5.16 deprecated kmem.limit_in_bytes
//     and later kernels dropped it; kernel memory counts against
//     memory.limit anyway.
//   - on v2, memory.disableOOMKiller false and memory.useHierarchy true,
//     which v2 always is; memory.checkBeforeUpdate outside Update.
//
// A field the cgroup version cannot apply is refused with ErrNotSupported
// and an error naming it (linux.resources.network.classID): on v1
// unified; on v2 memory.swappiness, memory.kernelTCP,
// memory.disableOOMKiller true, memory.useHierarchy false, the CPU realtime
// fields, block I/O leaf weights and network. So is a field added by a
// newer runtime-spec, and the systemd form of cgroupsPath
// ("slice:prefix:name"). A field whose hierarchy or controller the host
// does not have (hugepageLimits on a host whose hugetlb is on the cgroup2
// side of a hybrid host, say) fails with ErrUnavailable naming it. A name
// already in use by New fails with ErrExist; a host that cannot give what
// is asked (no writable cgroup, swap that the kernel does not account)
// fails with ErrUnavailable and a hint on how to fix it. New and NewAt
// never leave a half-made group behind.
//
// Only Linux has cgroups; elsewhere New, NewAt and Load return
// ErrNotSupported.
package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	// ErrUnavailable means the host cannot give what was asked: no
	// writable cgroup, a controller missing, swap not accounted. The error
	// names the cause and how to fix it.
	ErrUnavailable = errors.New("cgroup unavailable")
	// ErrExist means a cgroup of that name already exists; it was not
	// touched.
	ErrExist = errors.New("cgroup exists")
	// ErrInvalid means a resource value or a path is out of range, as
	// checked here or as refused by the kernel.
	ErrInvalid = errors.New("invalid cgroup resources")
	// ErrNotSupported means a resource that this package does not apply
	// on this cgroup version is set, or the platform has no cgroups.
	ErrNotSupported = errors.New("not supported")
)

// Error is the failure of one operation on one cgroup file or directory.
type Error struct {
	Op   string // what was being done: "mkdir", "write limits", "kill", …
	Path string // the file or directory, or the OCI field for a bad value
	Err  error  // the cause
	Kind error  // ErrUnavailable, ErrExist, ErrInvalid, ErrNotSupported or nil
	Hint string // how to fix it; "" when there is nothing to add
}

func (e *Error) Error() string {
	s := "cgroup: " + e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	s += ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap lets errors.Is match both the class (Kind) and the cause.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// opError wraps err as the failure of op. A *fs.PathError is unpacked so
// that the message names its file once.
func opError(op, path string, err error) *Error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		path, err = pe.Path, pe.Err
	}
	return &Error{Op: op, Path: path, Err: err}
}

// Stats is what a group has used. Read it before Delete.
type Stats struct {
	// OOMKilled reports that the OOM killer killed a process of the group
	// because the group reached its memory limit.
	OOMKilled bool
	// PeakMemoryBytes is the group's highest memory use (v1
	// memory.max_usage_in_bytes, v2 memory.peak, Linux 5.19); 0 when the
	// kernel does not say.
	PeakMemoryBytes uint64
	// MemoryBytes is the group's memory use now; 0 when the group is not
	// in a memory cgroup.
	MemoryBytes uint64
	// MemoryLimitBytes is the group's memory limit; 0 for none.
	MemoryLimitBytes uint64
	// Pids is the number of tasks (threads) in the group now; 0 when
	// the group is not in a pids cgroup (New without a pids limit on
	// v1).
	Pids uint64
	// CPUTime is the CPU time used by every process that ran in the
	// group, alive or dead (v1 cpuacct.usage, v2 cpu.stat usage_usec).
	// UserTime and SystemTime split it, at clock-tick precision on v1;
	// all are 0 when the kernel does not say.
	CPUTime, UserTime, SystemTime time.Duration
}

// Ref names a group for Load in another process: New, NewAt and Load
// fill it, a container's state file keeps its JSON form.
type Ref struct {
	// Mode is "v1" or "v2".
	Mode string `json:"mode"`
	// Dirs maps each controller the group is in to the group's
	// directory in that controller's hierarchy: v1 controllers by their
	// /proc/PID/cgroup names ("memory", "name=systemd"; controllers
	// mounted together share a directory), "" for the one v2 directory.
	Dirs map[string]string `json:"dirs"`
	// Paths maps the same keys to the group's path as /proc/PID/cgroup
	// shows it, for telling whether a process is in the group.
	Paths map[string]string `json:"paths"`
	// Mount is the cgroup2 mount point the v2 directory is under; "" on
	// v1.
	Mount string `json:"mount,omitempty"`
	// Created lists the directories New or NewAt made, parents before
	// children: Delete removes these and the subgroups below the group,
	// never a directory that was there before.
	Created []string `json:"created,omitempty"`
}

const (
	// prefix starts every group's directory name, so that a sandbox
	// cgroup is recognisable next to systemd's and other tools'.
	prefix = "sbx-"
	// maxName keeps prefix+name within NAME_MAX (255).
	maxName = 200
	// field is the OCI path of the resources, for error messages.
	field = "linux.resources"
	// pathField is the OCI path of NewAt's path, for error messages.
	pathField = "linux.cgroupsPath"
)

// dirName turns a sandbox name into its cgroup directory name; "" picks a
// unique one, which names its maker where it can (see sweep).
func dirName(name string) (string, error) {
	if name == "" {
		if n := ownerName(); n != "" {
			return n, nil
		}
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return "", opError("naming", "", err)
		}
		return prefix + hex.EncodeToString(b), nil
	}
	bad := name == "." || name == ".." || len(name) > maxName ||
		strings.ContainsAny(name, "/\x00\n")
	if bad {
		return "", &Error{Op: "naming", Path: fmt.Sprintf("%q", name), Kind: ErrInvalid,
			Err: fmt.Errorf("a name is 1 to %d bytes without '/', NUL or newline, and not . or ..", maxName)}
	}
	return prefix + name, nil
}

// cgroupsPath is NewAt's path, parsed: p is clean and has no "..".
type cgroupsPath struct {
	p   string
	abs bool // from the root of each hierarchy; else below the caller's cgroup (v1) or its parent (v2)
}

// parsePath checks an OCI linux.cgroupsPath. It refuses the systemd form
// "slice:prefix:name" (runc's --systemd-cgroup), a path that names a
// hierarchy's root or climbs out of the caller's cgroup, and "".
func parsePath(p string) (cgroupsPath, error) {
	bad := func(kind error, why string, hint string) (cgroupsPath, error) {
		return cgroupsPath{}, &Error{Op: "checking", Path: pathField + fmt.Sprintf(" %q", p), Kind: kind,
			Err: errors.New(why), Hint: hint}
	}
	if !strings.HasPrefix(p, "/") && strings.Count(p, ":") == 2 {
		return bad(ErrNotSupported, "systemd cgroup driver not supported; use cgroupfs",
			"give a path such as /machine/ID, and no --systemd-cgroup")
	}
	if p == "" || strings.ContainsAny(p, "\x00\n") {
		return bad(ErrInvalid, "a path is not empty and has no NUL or newline", "")
	}
	abs := strings.HasPrefix(p, "/")
	c := path.Clean(p)
	switch {
	case c == "/" || c == ".":
		return bad(ErrInvalid, "names the cgroup it is relative to, not a group of its own", "")
	case c == ".." || strings.HasPrefix(c, "../"):
		return bad(ErrInvalid, "climbs out of the caller's cgroup", "give an absolute path")
	}
	return cgroupsPath{p: c, abs: abs}, nil
}

// validate checks r before anything is created or changed: every field set
// must be one this package knows, with a value the kernel accepts. What a
// cgroup version cannot apply is refused later, by its plan.
func validate(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if f := unsupported(r); len(f) > 0 {
		return &Error{Op: "checking resources", Path: field + "." + f[0], Kind: ErrNotSupported,
			Err: errors.New("not known to sbx; remove it from the spec")}
	}
	if err := checkMemory(r.Memory); err != nil {
		return err
	}
	if err := checkPids(r.Pids); err != nil {
		return err
	}
	if err := checkCPU(r.CPU); err != nil {
		return err
	}
	if err := checkBlockIO(r.BlockIO); err != nil {
		return err
	}
	if err := checkDevices(r.Devices); err != nil {
		return err
	}
	return checkUnified(r.Unified)
}

// zeroUnset is r with the zero values runc takes for "not set" taken out
// (memory limit, reservation, swap and kernel limits; cpu shares, quota,
// period and realtime values; blkio weights): Docker sends every field,
// 0 where nothing was asked, to create and to update (where 0 leaves the
// value as it is). r is not changed.
func zeroUnset(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	out := *r
	if r.Memory != nil {
		m := *r.Memory
		unset(&m.Limit, &m.Reservation, &m.Swap, &m.Kernel, &m.KernelTCP) //nolint:staticcheck // kernel limits are deprecated, still read
		out.Memory = &m
	}
	if r.CPU != nil {
		c := *r.CPU
		unset(&c.Quota, &c.RealtimeRuntime)
		unset(&c.Shares, &c.Period, &c.RealtimePeriod)
		out.CPU = &c
	}
	if r.BlockIO != nil {
		b := *r.BlockIO
		unset(&b.Weight, &b.LeafWeight)
		b.WeightDevice = slices.Clone(r.BlockIO.WeightDevice)
		for i := range b.WeightDevice {
			unset(&b.WeightDevice[i].Weight, &b.WeightDevice[i].LeafWeight)
		}
		out.BlockIO = &b
	}
	return &out
}

// unset makes each of vs that points to its type's zero nil.
func unset[T comparable](vs ...**T) {
	var zero T
	for _, v := range vs {
		if *v != nil && **v == zero {
			*v = nil
		}
	}
}

// checkStart refuses a memory limit too small to start a process under
// (MinMemory); a group already running may be updated below it.
func checkStart(r *specs.LinuxResources) error {
	if r == nil || r.Memory == nil || r.Memory.Limit == nil {
		return nil
	}
	if l := *r.Memory.Limit; l > 0 && l < MinMemory {
		return invalid("memory.limit", "%d: must be at least %d (6 MiB): until it execs, the process shares sbx's memory, and an out-of-memory kill then ends sbx too", l, MinMemory)
	}
	return nil
}

// checkSandbox adds New's own rule: a group that cannot fork cannot run a
// sandbox, so pids.limit 0 is refused rather than skipped.
func checkSandbox(r *specs.LinuxResources) error {
	if r != nil && r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit == 0 {
		return invalid("pids.limit", "0: must be positive, or -1 for no limit")
	}
	return nil
}

// known are the resources this package handles, by OCI (JSON) path; a
// struct's name stands for all its fields.
var known = map[string]bool{
	"devices": true,
	"memory":  true, "memory.limit": true, "memory.reservation": true, "memory.swap": true,
	"memory.kernel": true, "memory.kernelTCP": true, "memory.swappiness": true,
	"memory.disableOOMKiller": true, "memory.useHierarchy": true, "memory.checkBeforeUpdate": true,
	"cpu": true, "cpu.shares": true, "cpu.quota": true, "cpu.burst": true, "cpu.period": true,
	"cpu.realtimeRuntime": true, "cpu.realtimePeriod": true, "cpu.cpus": true, "cpu.mems": true, "cpu.idle": true,
	"pids": true, "pids.limit": true,
	"blockIO": true, "blockIO.weight": true, "blockIO.leafWeight": true, "blockIO.weightDevice": true,
	"blockIO.throttleReadBpsDevice": true, "blockIO.throttleWriteBpsDevice": true,
	"blockIO.throttleReadIOPSDevice": true, "blockIO.throttleWriteIOPSDevice": true,
	"hugepageLimits": true,
	"network":        true, "network.classID": true, "network.priorities": true,
	"rdma": true, "unified": true,
}

// unsupported lists, by OCI path, the fields set in r that this package
// does not know. It walks the structs by reflection so that a field added
// by a newer runtime-spec is refused, never silently ignored. An empty
// slice or map counts as unset.
func unsupported(r *specs.LinuxResources) []string {
	return unknown(reflect.ValueOf(r).Elem(), "")
}

func unknown(v reflect.Value, parent string) []string {
	var f []string
	for i := range v.NumField() {
		val, name := v.Field(i), jsonName(v.Type().Field(i))
		if parent != "" {
			name = parent + "." + name
		}
		switch {
		case val.IsZero(), (val.Kind() == reflect.Slice || val.Kind() == reflect.Map) && val.Len() == 0:
		case !known[name]:
			f = append(f, name)
		case val.Kind() == reflect.Pointer && val.Elem().Kind() == reflect.Struct:
			f = append(f, unknown(val.Elem(), name)...)
		}
	}
	return f
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func invalid(name string, format string, a ...any) error {
	return &Error{Op: "checking resources", Path: field + "." + name, Kind: ErrInvalid,
		Err: fmt.Errorf(format, a...)}
}

// MinMemory is the least memory limit a group for a new process may have
// (Docker and podman refuse less too): the process shares its creator's
// memory until it execs (spawn), and the OOM killer kills every process
// that shares the memory of the one it picks.
const MinMemory = 6 << 20

// checkMemory: OCI's swap is memory plus swap, so it cannot be below the
// limit, and without a limit it has nothing to add to. -1 is unlimited.
func checkMemory(m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	if l := m.Limit; l != nil && *l <= 0 && *l != -1 {
		return invalid("memory.limit", "%d: must be positive, or -1 for no limit", *l)
	}
	if r := m.Reservation; r != nil && *r < 0 && *r != -1 {
		return invalid("memory.reservation", "%d: must be at least 0, or -1 for no limit", *r)
	}
	s := m.Swap
	switch {
	case s == nil || *s == -1:
		return nil
	case *s <= 0:
		return invalid("memory.swap", "%d: must be positive, or -1 for no limit", *s)
	case m.Limit == nil || *m.Limit == -1:
		return invalid("memory.swap", "memory plus swap is limited but memory is not: set memory.limit too")
	case *s < *m.Limit:
		return invalid("memory.swap", "%d is below memory.limit %d: it counts memory plus swap, so it must be at least the limit", *s, *m.Limit)
	}
	return nil
}

// checkPids: 0 is left for the caller (New refuses it, NewAt skips it).
func checkPids(p *specs.LinuxPids) error {
	if p == nil || p.Limit == nil || *p.Limit >= 0 || *p.Limit == -1 {
		return nil
	}
	return invalid("pids.limit", "%d: must be positive, or -1 for no limit", *p.Limit)
}

// CFS bandwidth bounds, in microseconds (Documentation/scheduler/
// sched-bwc.rst: quota and period are at least 1 ms, the period at most 1 s).
const (
	minCFS       = 1000
	maxCFSPeriod = 1000000
)

func checkCPU(c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	if q := c.Quota; q != nil && *q != -1 && *q < minCFS {
		return invalid("cpu.quota", "%d: must be at least %d µs, or -1 for no limit", *q, minCFS)
	}
	if p := c.Period; p != nil && (*p < minCFS || *p > maxCFSPeriod) {
		return invalid("cpu.period", "%d: must be between %d and %d µs", *p, minCFS, maxCFSPeriod)
	}
	if i := c.Idle; i != nil && *i != 0 && *i != 1 {
		return invalid("cpu.idle", "%d: must be 0 or 1", *i)
	}
	return nil
}

// checkBlockIO checks weights against OCI's range, 10 to 1000 (blkio's
// and BFQ's; v2's io.weight is converted from it).
func checkBlockIO(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	check := func(name string, w *uint16) error {
		if w != nil && (*w < 10 || *w > 1000) {
			return invalid("blockIO."+name, "%d: must be between 10 and 1000", *w)
		}
		return nil
	}
	err := errors.Join(check("weight", b.Weight), check("leafWeight", b.LeafWeight))
	for i, d := range b.WeightDevice {
		err = errors.Join(err, check(fmt.Sprintf("weightDevice[%d].weight", i), d.Weight),
			check(fmt.Sprintf("weightDevice[%d].leafWeight", i), d.LeafWeight))
	}
	return err
}

// checkDevices checks what the v1 devices files and the v2 eBPF filter
// both take: a type of a (all), b or c, and access made of r, w and m.
func checkDevices(ds []specs.LinuxDeviceCgroup) error {
	for i, d := range ds {
		if d.Type != "" && d.Type != "a" && d.Type != "b" && d.Type != "c" {
			return invalid(fmt.Sprintf("devices[%d].type", i), "%q: must be a, b or c", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return invalid(fmt.Sprintf("devices[%d].access", i), "%q: must be made of r, w and m", d.Access)
		}
	}
	return nil
}

// checkUnified refuses keys that are not a file of the group, and the
// files through which a process would leave, enter, stop or kill it
// behind the runtime's back.
func checkUnified(u map[string]string) error {
	for k := range u {
		switch {
		case k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00"):
			return invalid("unified", "%q: not a file name", k)
		case k == "cgroup.procs" || k == "cgroup.threads" || k == "cgroup.kill" || k == "cgroup.freeze":
			return invalid("unified", "%q: the runtime manages it", k)
		}
	}
	return nil
}

// limited returns v when it sets a limit, nil when it is unset or -1 (no
// limit, which is what a new cgroup starts with).
func limited(v *int64) *int64 {
	if v == nil || *v == -1 {
		return nil
	}
	return v
}
