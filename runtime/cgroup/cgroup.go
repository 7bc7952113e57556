// Package cgroup gives one sandbox a cgroup of its own: it creates the
// group, applies the sandbox's OCI resource limits to it, attaches the
// sandbox's first process, reports what the group used, kills everything in
// it and removes it. Limits are written through github.com/containerd/cgroups
// (its cgroup1 and cgroup2 packages); the few files that library does not
// handle (cgroup.kill, a bounded v1 freeze) are written directly.
//
// # Where the group lives
//
// On a pure cgroup v2 host (/sys/fs/cgroup is cgroup2) the group is
// <parent of the caller's cgroup>/sbx-<name>: a sibling of the caller's own
// cgroup. It cannot be a child of the caller's cgroup, because that cgroup
// holds the caller and the v2 "no internal processes" rule forbids
// controllers below a cgroup with processes; the parent (a systemd slice,
// say) holds none, and its limits still bound the sandbox. A caller in the
// root cgroup gets /sbx-<name>, the root being exempt from the rule. New
// enables the controllers the limits need, and memory for Stats when it
// can, in cgroup.subtree_control along the path (and never disables them),
// which takes root or a delegated subtree (systemd-run --user --scope -p
// Delegate=yes).
//
// On a cgroup v1 or hybrid host the group is <caller's cgroup>/sbx-<name>
// in each of the freezer, pids, cpu, cpuacct and memory hierarchies that
// the host mounts, so limits already set on the caller (a CI job, an outer
// container) still bound the sandbox; v1 allows processes beside child
// groups. The cgroup2 hierarchy of a hybrid host is not used.
//
// # What it refuses
//
// Only memory (limit and memory+swap), pids and CPU bandwidth (quota and
// period) are applied today. Values mean what OCI says: -1 is no limit, and
// memory.swap counts memory plus swap, so swap equal to the limit means no
// swap (on a host that does not account swap and has none on, the memory
// limit alone already ensures that). Any other resource that is set is refused with
// ErrNotSupported and an error naming the OCI field: nothing is silently
// ignored. A name already in use fails with ErrExist; a host that cannot
// give what is asked (no writable cgroup, a missing controller, swap that
// the kernel does not account) fails with ErrUnavailable and a hint on how
// to fix it. New never leaves a half-made group behind.
//
// Only Linux has cgroups; elsewhere New returns ErrNotSupported.
package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
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
	// ErrInvalid means a resource value is out of range, as checked here
	// or as refused by the kernel.
	ErrInvalid = errors.New("invalid cgroup resources")
	// ErrNotSupported means a resource that this package does not apply
	// is set, or the platform has no cgroups.
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
	// UserTime and SystemTime are the CPU time used by every process that
	// ran in the group, alive or dead; 0 when the kernel does not say.
	UserTime, SystemTime time.Duration
}

const (
	// prefix starts every group's directory name, so that a sandbox
	// cgroup is recognisable next to systemd's and other tools'.
	prefix = "sbx-"
	// maxName keeps prefix+name within NAME_MAX (255).
	maxName = 200
	// field is the OCI path of the resources, for error messages.
	field = "linux.resources"
)

// dirName turns a sandbox name into its cgroup directory name; "" picks a
// unique one.
func dirName(name string) (string, error) {
	if name == "" {
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

// validate checks r before anything is created: every field set must be
// one this package applies, with a value the kernel accepts.
func validate(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if f := unsupported(r); len(f) > 0 {
		return &Error{Op: "checking resources", Path: field + "." + f[0], Kind: ErrNotSupported,
			Err: errors.New("not supported by sbx yet; remove it from the spec")}
	}
	if err := checkMemory(r.Memory); err != nil {
		return err
	}
	if err := checkPids(r.Pids); err != nil {
		return err
	}
	return checkCPU(r.CPU)
}

// applied are the resources New applies, by OCI (JSON) path.
var applied = map[string]bool{
	"memory": true, "memory.limit": true, "memory.swap": true,
	"pids": true, "pids.limit": true,
	"cpu": true, "cpu.quota": true, "cpu.period": true,
}

// unsupported lists, by OCI path, the fields set in r that New does not
// apply. It walks the structs by reflection so that a field added by a
// newer runtime-spec is refused too, never silently ignored. An empty
// slice or map counts as unset.
func unsupported(r *specs.LinuxResources) []string {
	return unapplied(reflect.ValueOf(r).Elem(), "")
}

func unapplied(v reflect.Value, parent string) []string {
	var f []string
	for i := range v.NumField() {
		val, name := v.Field(i), jsonName(v.Type().Field(i))
		if parent != "" {
			name = parent + "." + name
		}
		switch {
		case val.IsZero(), (val.Kind() == reflect.Slice || val.Kind() == reflect.Map) && val.Len() == 0:
		case !applied[name]:
			f = append(f, name)
		case val.Kind() == reflect.Pointer && val.Elem().Kind() == reflect.Struct:
			f = append(f, unapplied(val.Elem(), name)...)
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

// checkMemory: OCI's swap is memory plus swap, so it cannot be below the
// limit, and without a limit it has nothing to add to. -1 is unlimited.
func checkMemory(m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	if l := m.Limit; l != nil && *l <= 0 && *l != -1 {
		return invalid("memory.limit", "%d: must be positive, or -1 for no limit", *l)
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

// checkPids refuses 0: a group that cannot fork cannot run a sandbox.
func checkPids(p *specs.LinuxPids) error {
	if p == nil || p.Limit == nil || *p.Limit > 0 || *p.Limit == -1 {
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

// needs says which controllers the limits in r need. r is valid.
type needs struct{ memory, swap, pids, cpu bool }

func needsOf(r *specs.LinuxResources) needs {
	var n needs
	if r == nil {
		return n
	}
	if m := r.Memory; m != nil {
		n.swap = limited(m.Swap) != nil
		n.memory = n.swap || limited(m.Limit) != nil
	}
	n.pids = r.Pids != nil && limited(r.Pids.Limit) != nil
	n.cpu = r.CPU != nil && (limited(r.CPU.Quota) != nil || r.CPU.Period != nil)
	return n
}
