package spec

import (
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Policy is what the engine needs besides the OCI spec: what OCI cannot
// say, or says only for runtimes that share by omission.
type Policy struct {
	// Timeout is limits.timeout: when it expires the engine kills the
	// whole tree and `sbx run` exits 124. Zero means no time limit.
	Timeout time.Duration
	// Seccomp is "default" (sbx's built-in allowlist), "unconfined" (no
	// filter), or "" when the spec named a profile file, which the OCI
	// spec then carries in Linux.Seccomp.
	Seccomp string
}

// CPU bandwidth period: 100ms, the kernel default (cpu.max).
const cpuPeriod = 100000

// MaskedPaths and ReadonlyPaths are those of runc's default config.json
// (`runc spec`, libcontainer/specconv/example.go): every sandbox gets
// them, and `sbx spec` writes them. Callers must not change them.
var (
	MaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
		"/sys/devices/virtual/tpm",
	}
	ReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// OCI validates s again (it may have been built in Go, or changed since
// Load; relative paths then resolve against the working directory) and
// converts it into an OCI spec and a Policy. host holds the caller's ids,
// to which the sandbox user maps when s has no id mappings. s is not
// changed.
func (s *Sandbox) OCI(host HostIDs) (*specs.Spec, *Policy, error) {
	seccomp, err := s.validate()
	if err != nil {
		return nil, nil, err
	}
	spec := &specs.Spec{
		Version:  specs.Version,
		Process:  s.ociProcess(),
		Root:     s.ociRoot(),
		Hostname: s.hostname(),
		Mounts:   s.ociMounts(),
		Linux: &specs.Linux{
			UIDMappings:   s.idMappings(s.UIDMappings, s.Process.User.UID, host.UID),
			GIDMappings:   s.idMappings(s.GIDMappings, s.Process.User.GID, host.GID),
			Resources:     s.Limits.resources(),
			Namespaces:    s.Share.namespaces(),
			Seccomp:       seccomp,
			MaskedPaths:   slices.Clone(MaskedPaths),
			ReadonlyPaths: slices.Clone(ReadonlyPaths),
		},
	}
	return spec, s.policy(), nil
}

func (s *Sandbox) policy() *Policy {
	p := &Policy{Timeout: time.Duration(s.Limits.Timeout), Seccomp: s.Seccomp}
	switch {
	case p.Seccomp == "":
		p.Seccomp = "default"
	case s.seccompFile():
		p.Seccomp = ""
	}
	return p
}

// ociProcess runs as process.user with no_new_privs and only the listed
// capabilities. A uid other than 0 loses its permitted and effective
// capabilities at execve(2) unless they are also inheritable and ambient
// (capabilities(7)), so for it all five sets are the list; uid 0 regains
// the bounding set at execve anyway, and leaving its ambient and
// inheritable sets empty keeps the capabilities from its non-root children.
func (s *Sandbox) ociProcess() *specs.Process {
	p := s.Process
	caps := make([]string, len(s.Capabilities))
	for i, c := range s.Capabilities {
		caps[i] = canonicalCapability(c)
	}
	proc := &specs.Process{
		Terminal:        p.Terminal,
		User:            specs.User{UID: p.User.UID, GID: p.User.GID},
		Args:            slices.Clone(p.Args),
		Env:             append([]string{}, p.Env...),
		Cwd:             p.Cwd,
		NoNewPrivileges: true,
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: slices.Clone(caps),
			Permitted: slices.Clone(caps),
		},
	}
	if proc.Cwd == "" {
		proc.Cwd = "/"
	}
	if p.User.UID != 0 {
		proc.Capabilities.Inheritable = slices.Clone(caps)
		proc.Capabilities.Ambient = slices.Clone(caps)
	}
	if n := s.Limits.OpenFiles; n != nil {
		proc.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: *n, Soft: *n}}
	}
	return proc
}

// ociRoot is the root directory, or Path "" for an empty tmpfs root,
// which is read-only too.
func (s *Sandbox) ociRoot() *specs.Root {
	if s.Root == nil {
		return &specs.Root{Path: "", Readonly: true}
	}
	return &specs.Root{Path: s.resolve(s.Root.Path), Readonly: !s.Root.Writable}
}

// hostname is "" when the UTS namespace is shared: the host's name stays.
func (s *Sandbox) hostname() string {
	switch {
	case s.Share.UTS:
		return ""
	case s.Hostname != nil:
		return *s.Hostname
	}
	return "sbx"
}

// ociMounts are /proc (the host's, bound, when the pid namespace is
// shared), a minimal /dev as runc's default config.json has
// it (without devpts's gid=5, which a user namespace may not map), a
// private writable /tmp for a read-only root that declares none, then the
// declared mounts.
func (s *Sandbox) ociMounts() []specs.Mount {
	proc := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "nodev", "noexec"}}
	if s.Share.PID {
		// A fresh procfs for a pid namespace needs CAP_SYS_ADMIN in the
		// user namespace that owns it, the host's: bind the host's.
		proc = specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind", "rnosuid", "rnodev", "rnoexec"}}
	}
	mounts := []specs.Mount{
		proc,
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=65536k"}},
	}
	if (s.Root == nil || !s.Root.Writable) && !s.declares("/tmp") {
		mounts = append(mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "mode=1777"}})
	}
	mounts = append(mounts, s.hostCovers()...)
	for _, m := range s.Mounts {
		mounts = append(mounts, s.ociMount(m))
	}
	return mounts
}

// hostCovers hide a writable root's /sys and /run under empty read-only
// tmpfs mounts: the host's sysfs would be writable to a sandbox root
// that maps to the host's, and /run holds the host's service sockets. (A
// read-only root leaves them out altogether.)
func (s *Sandbox) hostCovers() []specs.Mount {
	if s.Root == nil || !s.Root.Writable {
		return nil
	}
	var out []specs.Mount
	for _, dir := range []string{"/sys", "/run"} {
		if st, err := os.Stat(filepath.Join(s.resolve(s.Root.Path), dir)); err != nil || !st.IsDir() || s.declares(dir) {
			continue
		}
		out = append(out, specs.Mount{Destination: dir, Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "nodev", "noexec", "ro", "mode=755"}})
	}
	return out
}

func (s *Sandbox) declares(dst string) bool {
	for _, m := range s.Mounts {
		if path.Clean(m.Destination) == dst {
			return true
		}
	}
	return false
}

// ociMount converts a declared mount; it is read-only unless writable,
// tmpfs included.
func (s *Sandbox) ociMount(m Mount) specs.Mount {
	if m.kind() == "bind" {
		return specs.Mount{
			Destination: path.Clean(m.Destination), Type: "bind", Source: s.resolve(m.Source),
			Options: []string{"rbind", rw(m.Writable), "rnosuid", "rnodev"},
		}
	}
	opts := []string{"nosuid", "nodev"}
	if m.Size > 0 {
		opts = append(opts, "size="+strconv.FormatInt(int64(m.Size), 10))
	}
	if m.Mode != "" {
		opts = append(opts, "mode="+m.Mode)
	}
	if !m.Writable {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: path.Clean(m.Destination), Type: "tmpfs", Source: "tmpfs", Options: opts}
}

// rw is the read-only option of a recursive bind: "rro" makes every mount
// under it read-only too (mount_setattr AT_RECURSIVE), as a sandbox needs.
func rw(writable bool) string {
	if writable {
		return "rw"
	}
	return "rro"
}

// namespaces lists every namespace the spec does not share. OCI shares
// what it omits, so isolation by default means listing them all.
func (sh Share) namespaces() []specs.LinuxNamespace {
	all := []struct {
		typ    specs.LinuxNamespaceType
		shared bool
	}{
		{specs.UserNamespace, sh.User}, {specs.PIDNamespace, sh.PID},
		{specs.MountNamespace, false}, {specs.NetworkNamespace, sh.Network},
		{specs.IPCNamespace, sh.IPC}, {specs.UTSNamespace, sh.UTS},
		{specs.CgroupNamespace, sh.Cgroup}, {specs.TimeNamespace, sh.Time},
	}
	var ns []specs.LinuxNamespace
	for _, n := range all {
		if !n.shared {
			ns = append(ns, specs.LinuxNamespace{Type: n.typ})
		}
	}
	return ns
}

// idMappings are ms, or the sandbox id mapped to the caller's; none when
// the user namespace is shared.
func (s *Sandbox) idMappings(ms []IDMapping, sandboxID, hostID uint32) []specs.LinuxIDMapping {
	if s.Share.User {
		return nil
	}
	if len(ms) == 0 {
		return []specs.LinuxIDMapping{{ContainerID: sandboxID, HostID: hostID, Size: 1}}
	}
	out := make([]specs.LinuxIDMapping, len(ms))
	for i, m := range ms {
		out[i] = specs.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size}
	}
	return out
}

// resources are the cgroup limits, nil when there are none. Memory swap
// (memory plus swap, in OCI) equals the limit: no swap beyond it.
func (l Limits) resources() *specs.LinuxResources {
	if l.Memory == 0 && l.Pids == nil && l.CPUs == nil {
		return nil
	}
	r := &specs.LinuxResources{}
	if l.Memory > 0 {
		limit, swap := int64(l.Memory), int64(l.Memory)
		r.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
	}
	if l.Pids != nil {
		limit := *l.Pids
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if l.CPUs != nil {
		quota, period := int64(math.Round(*l.CPUs*cpuPeriod)), uint64(cpuPeriod)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	return r
}
