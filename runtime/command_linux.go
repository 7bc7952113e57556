package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/namespaces"
	"sbx.dev/sbx/runtime/cgroup"
	"sbx.dev/sbx/seccomp"
	"sbx.dev/sbx/spawn"
	"sbx.dev/sbx/spec"
)

// cmdOptions are what turning an OCI spec into a spawn.Cmd needs besides
// the spec.
type cmdOptions struct {
	// skeletonRoot: see namespaces.Options.SkeletonRoot.
	skeletonRoot bool
	// seccomp is the compiled filter (compileSeccomp), nil for none.
	seccomp *seccomp.Filter
	// console is the child's end of the terminal socket; nil for none.
	console *os.File
	// cgroup is the sandbox's cgroup, nil for none.
	cgroup *cgroup.Group
	// container: OCI semantics, for a container that outlives sbx (no
	// parent-death signal, device nodes created with mknod outside a user
	// namespace).
	container bool
	// extraFiles become fds 3, 4, … before the console (--preserve-fds).
	extraFiles []*os.File
	// paused, when set, runs while the child waits before its pivot_root
	// with its mounts made (namespaces.Options.Pause): the creation hooks.
	paused func(pid int) error
}

var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.UserNamespace: spawn.NewUser, specs.PIDNamespace: spawn.NewPID,
	specs.MountNamespace: spawn.NewMount, specs.NetworkNamespace: spawn.NewNet,
	specs.IPCNamespace: spawn.NewIPC, specs.UTSNamespace: spawn.NewUTS,
	specs.CgroupNamespace: spawn.NewCgroup, specs.TimeNamespace: spawn.NewTime,
}

// command builds the child of an OCI spec: namespaces, id maps,
// credentials, the filesystem plan, capabilities, rlimits, no_new_privs
// and seccomp. Cgroups and stdio are the caller's. release closes the
// files command opened for the child (namespaces to join, id-mapped
// mounts): the caller calls it once the child has started or failed to.
func command(s *specs.Spec, o cmdOptions) (cmd *spawn.Cmd, release func(), err error) {
	if s.Process == nil || len(s.Process.Args) == 0 || s.Process.Args[0] == "" {
		return nil, nil, errors.New("process.args: the program (args[0]) is empty")
	}
	if s.Linux == nil {
		return nil, nil, errors.New("spec has no linux section")
	}
	if err := unsupported(s); err != nil {
		return nil, nil, err
	}
	// A session of its own: the process must not signal sbx's process
	// group with kill(0, …), nor open sbx's controlling terminal.
	lx := &spawn.Linux{NoNewPrivs: s.Process.NoNewPrivileges, Hostname: s.Hostname, Domainname: s.Domainname, Setsid: true}
	if !o.container {
		lx.Pdeathsig = syscall.SIGKILL
	}
	var idmapped map[int]*os.File // closed by release, with the namespaces in lx.Join
	closeOpened := func() {
		for _, j := range lx.Join {
			j.File.Close()
		}
		lx.Join = nil
		for _, f := range idmapped {
			f.Close()
		}
	}
	defer func() {
		if err != nil {
			closeOpened()
		}
	}()
	var listed uintptr
	for i, ns := range s.Linux.Namespaces {
		f, ok := nsFlags[ns.Type]
		if !ok {
			return nil, nil, fmt.Errorf("linux.namespaces[%d].type: unknown type %q", i, ns.Type)
		}
		if listed&f != 0 {
			return nil, nil, fmt.Errorf("linux.namespaces[%d]: %s listed twice", i, ns.Type)
		}
		listed |= f
		if ns.Path == "" {
			lx.Namespaces |= f
			continue
		}
		file, err := openNamespace(ns.Path, f)
		if err != nil {
			return nil, nil, fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
		}
		lx.Join = append(lx.Join, spawn.Namespace{File: file, Type: f})
	}
	// A joined mount namespace is set up as the container's (runc does
	// the same). Without one listed the container stays in sbx's: its
	// root is then a detached mount tree it chroots into, so that none of
	// its mounts lands in the caller's tree (runc mounts them there and
	// leaves them behind).
	detached := listed&spawn.NewMount == 0
	if detached {
		if err := checkDetached(listed); err != nil {
			return nil, nil, err
		}
	}
	if err := checkTimeOffsets(s.Linux); err != nil {
		return nil, nil, err
	}
	unshareTime := len(s.Linux.TimeOffsets) > 0
	if unshareTime {
		lx.Namespaces &^= spawn.NewTime // made by the child's setup (timens_linux.go)
	}
	if s.Hostname != "" && listed&spawn.NewUTS == 0 {
		return nil, nil, errors.New("hostname: setting it needs a uts namespace of the container's own (linux.namespaces)")
	}
	if s.Domainname != "" && listed&spawn.NewUTS == 0 {
		return nil, nil, errors.New("domainname: setting it needs a uts namespace of the container's own (linux.namespaces)")
	}
	if err := checkSysctl(s.Linux.Sysctl, listed); err != nil {
		return nil, nil, err
	}
	for field, paths := range map[string][]string{"maskedPaths": s.Linux.MaskedPaths, "readonlyPaths": s.Linux.ReadonlyPaths} {
		for i, p := range paths {
			if !path.IsAbs(p) {
				return nil, nil, fmt.Errorf("linux.%s[%d]: %q is not an absolute path", field, i, p)
			}
		}
	}
	if err := setIDs(lx, s); err != nil {
		return nil, nil, err
	}
	cmd = &spawn.Cmd{
		Path: s.Process.Args[0], Args: s.Process.Args, Env: ociEnv(o.container, s),
		Dir: s.Process.Cwd, Linux: lx, ExtraFiles: o.extraFiles,
	}
	userns := listed&spawn.NewUser != 0
	setup := namespaces.Options{
		SkeletonRoot: o.skeletonRoot,
		ImageRoot:    o.container,
		Cwd:          cwdFor(o.container, s.Process),
		Loopback:     lx.Namespaces&spawn.NewNet != 0,
		Mknod:        o.container && !userns,
		AppArmor:     s.Process.ApparmorProfile,
		UnshareTime:  unshareTime,
		Pause:        o.paused != nil,
		Detached:     detached,
	}
	lx.Paused = o.paused
	// A rootless container without a group (containerCgroup) in the host's
	// cgroup namespace can mount no cgroup2: it sees the host's tree.
	setup.CgroupsHost = o.container && o.cgroup == nil && lx.Namespaces&spawn.NewCgroup == 0
	if cg := o.cgroup; cg != nil {
		setup.Cgroups = cg.MountDirs()
		if dir := cg.Dir(); dir != nil {
			lx.Cgroup = dir
		} else {
			// cgroup v1: the child joins by writing to each
			// hierarchy's tasks file, then starts its cgroup
			// namespace, whose root is the group it is in by then.
			tasks, err := cg.TaskFiles()
			if err != nil {
				return nil, nil, err
			}
			setup.CgroupTasks = tasks
			cmd.ExtraFiles = append(cmd.ExtraFiles, tasks...)
			setup.UnshareCgroup = lx.Namespaces&spawn.NewCgroup != 0
			lx.Namespaces &^= spawn.NewCgroup
		}
	}
	if idmapped, err = namespaces.IDMapped(s); err != nil {
		return nil, nil, err
	}
	setup.IDMapped = idmapped
	for _, f := range idmapped {
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	if o.console != nil {
		setup.Console, setup.ConsoleSize = o.console, s.Process.ConsoleSize
		cmd.ExtraFiles = append(cmd.ExtraFiles, o.console)
		lx.Setctty, lx.Ctty = true, 0
	}
	prog, err := namespaces.Setup(s, setup)
	if err != nil {
		return nil, nil, err
	}
	newUserNS := lx.Namespaces&spawn.NewUser != 0
	if err := processSetup(prog, s, newUserNS); err != nil {
		return nil, nil, err
	}
	if adj := s.Process.OOMScoreAdj; adj != nil && newUserNS {
		// In a new user namespace the child cannot write the file: it
		// shares sbx's memory, so its /proc files belong to the host's
		// root, which the namespace does not map (docker --userns-remap).
		// sbx writes it while the child waits for its id maps.
		lx.Prepare = func(pid int) error { return writeOOMScoreAdj(pid, *adj) }
	}
	lx.Setup = prog
	if lx.Capabilities, err = capabilities(s.Process.Capabilities, !o.container); err != nil {
		return nil, nil, err
	}
	if lx.Rlimits, err = rlimits(s.Process.Rlimits); err != nil {
		return nil, nil, err
	}
	setSeccomp(lx, o.seccomp)
	return cmd, closeOpened, nil
}

// checkDetached refuses a container without a mount namespace of its own
// where sbx cannot assemble its root off to the side (namespaces.Options
// Detached), naming what is missing.
func checkDetached(listed uintptr) error {
	const none = "linux.namespaces: no mount namespace listed, so the container shares sbx's"
	if listed&spawn.NewUser != 0 {
		return errors.New(none + `, and a new user namespace has no privilege over it to mount the container's root: list {"type": "mount"}`)
	}
	if !namespaces.DetachedRoots() {
		return errors.New(none + `; sbx then assembles the container's root as a detached mount tree, which needs Linux 6.15 or later and CAP_SYS_ADMIN: list {"type": "mount"}, or upgrade the kernel`)
	}
	return nil
}

// nsGetNSType is NS_GET_NSTYPE, _IO(0xb7, 0x3) of linux/nsfs.h: the
// CLONE_NEW* flag of a namespace file.
const nsGetNSType = 0xb703

// openNamespace opens a namespace file to join, refusing anything else: a
// FIFO there would block the open, any other file fail only in the child.
func openNamespace(path string, want uintptr) (*os.File, error) {
	file, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(file.Fd()), &st); err != nil {
		file.Close()
		return nil, err
	}
	if st.Type != unix.NSFS_MAGIC {
		file.Close()
		return nil, fmt.Errorf("%s is not a namespace file (such as /proc/PID/ns/net)", path)
	}
	got, err := unix.IoctlRetInt(int(file.Fd()), nsGetNSType)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("%s: NS_GET_NSTYPE: %w", path, err)
	}
	if uintptr(got) != want {
		file.Close()
		return nil, fmt.Errorf("%s is a namespace of another type", path)
	}
	return file, nil
}

// setSeccomp gives the child filter f (nil: none).
func setSeccomp(lx *spawn.Linux, f *seccomp.Filter) {
	if f == nil {
		return
	}
	lx.Seccomp = make([]spawn.SockFilter, len(f.Program))
	for i, in := range f.Program {
		lx.Seccomp[i] = spawn.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	lx.SeccompFlags = f.Flags
}

// unsupported names the first field of s that sbx cannot honour: it is
// refused, never ignored.
func unsupported(s *specs.Spec) error {
	p, lx := s.Process, s.Linux
	for _, f := range []struct {
		set   bool
		field string
	}{
		{p.SelinuxLabel != "", "process.selinuxLabel (SELinux is not supported)"},
		{lx.MountLabel != "", "linux.mountLabel (SELinux is not supported)"},
		{lx.IntelRdt != nil, "linux.intelRdt"},
		{len(lx.NetDevices) > 0, "linux.netDevices"},
		{p.ApparmorProfile != "" && !AppArmorEnabled(), "process.apparmorProfile (AppArmor is not enabled on this host)"},
	} {
		if f.set {
			return fmt.Errorf("%s: not supported", f.field)
		}
	}
	return nil
}

// AppArmorEnabled reports whether the host enforces AppArmor profiles,
// without which process.apparmorProfile is refused.
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// writeOOMScoreAdj writes process.oomScoreAdj for the process pid.
func writeOOMScoreAdj(pid, adj int) error {
	path := "/proc/" + strconv.Itoa(pid) + "/oom_score_adj"
	if err := os.WriteFile(path, []byte(strconv.Itoa(adj)), 0); err != nil {
		return fmt.Errorf("process.oomScoreAdj: %w", err)
	}
	return nil
}

// processSetup adds what the process section asks of the child after its
// filesystem: personality, umask, oom_score_adj (unless the caller writes
// it: parentOOM), I/O priority.
func processSetup(prog *spawn.Program, s *specs.Spec, parentOOM bool) error {
	if pe := s.Linux.Personality; pe != nil {
		dom := map[specs.LinuxPersonalityDomain]int{specs.PerLinux: 0, specs.PerLinux32: 8}
		d, ok := dom[pe.Domain]
		if !ok || len(pe.Flags) > 0 {
			return fmt.Errorf("linux.personality: only domain LINUX or LINUX32 without flags is supported, not %q %v", pe.Domain, pe.Flags)
		}
		prog.Step("personality", string(pe.Domain))
		prog.CallNonneg(unix.SYS_PERSONALITY, spawn.Int(d))
	}
	if u := s.Process.User.Umask; u != nil {
		prog.Step("umask", "")
		prog.Try(unix.SYS_UMASK, spawn.Int(*u))
	}
	if adj := s.Process.OOMScoreAdj; adj != nil && !parentOOM {
		prog.Step("write", "/proc/self/oom_score_adj")
		f := prog.Open(unix.SYS_OPENAT, spawn.Int(unix.AT_FDCWD), spawn.Str("/proc/self/oom_score_adj"), spawn.Int(unix.O_WRONLY|unix.O_CLOEXEC), spawn.Int(0))
		v := strconv.Itoa(*adj)
		prog.CallNonneg(unix.SYS_WRITE, f.Arg(), spawn.Str(v), spawn.Int(len(v)))
		prog.Close(f)
	}
	if io := s.Process.IOPriority; io != nil {
		classes := map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}
		c, ok := classes[io.Class]
		if !ok {
			return fmt.Errorf("process.ioPriority.class: unknown class %q", io.Class)
		}
		prog.Step("ioprio_set", string(io.Class))
		prog.Call(unix.SYS_IOPRIO_SET, spawn.Int(1), spawn.Int(0), spawn.Int(c<<13|io.Priority))
	}
	if mp := s.Linux.MemoryPolicy; mp != nil {
		if err := memoryPolicy(prog, mp); err != nil {
			return err
		}
	}
	if sc := s.Process.Scheduler; sc != nil {
		attr, err := schedAttr(sc)
		if err != nil {
			return err
		}
		prog.Step("sched_setattr", string(sc.Policy))
		prog.Call(unix.SYS_SCHED_SETATTR, spawn.Int(0), spawn.Bytes(attr), spawn.Int(0))
	}
	return nil
}

// mpolModes and mpolFlags are the values of linux/mempolicy.h.
var (
	mpolModes = map[specs.MemoryPolicyModeType]int{
		specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
		specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
	}
	mpolFlags = map[specs.MemoryPolicyFlagType]int{
		specs.MpolFStaticNodes: 1 << 15, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFNumaBalancing: 1 << 13,
	}
)

// MemoryPolicies are the linux.memoryPolicy modes and flags sbx takes
// (features.json's memoryPolicy), sorted.
func MemoryPolicies() (modes, flags []string) {
	return sortedNames(mpolModes), sortedNames(mpolFlags)
}

func sortedNames[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

// memoryPolicy plans linux.memoryPolicy: set_mempolicy(2), which the
// process keeps across execve and its children inherit.
func memoryPolicy(prog *spawn.Program, mp *specs.LinuxMemoryPolicy) error {
	mode, ok := mpolModes[mp.Mode]
	if !ok {
		return fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", mp.Mode)
	}
	flags, err := orFlags("linux.memoryPolicy.flags", mp.Flags, mpolFlags)
	if err != nil {
		return err
	}
	mode |= flags
	prog.Step("set_mempolicy", string(mp.Mode))
	if mp.Nodes == "" {
		prog.Call(unix.SYS_SET_MEMPOLICY, spawn.Int(mode), spawn.Int(0), spawn.Int(0))
		return nil
	}
	mask, err := listMask(mp.Nodes)
	if err != nil {
		return fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
	}
	// The kernel reads maxnode-1 bits of the mask (get_nodes in
	// mm/mempolicy.c), so maxnode is one more than its bits.
	prog.Call(unix.SYS_SET_MEMPOLICY, spawn.Int(mode), spawn.Bytes(mask), spawn.Int(len(mask)*8+1))
	return nil
}

// schedPolicies and schedFlags are the values of linux/sched.h.
var (
	schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
		specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
		specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
	}
	schedFlags = map[specs.LinuxSchedulerFlag]uint64{
		specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
		specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
		specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
	}
)

// schedAttr is process.scheduler as a struct sched_attr (sched_setattr(2),
// SCHED_ATTR_SIZE_VER1: the utilization clamps the spec has no values for
// are 0).
func schedAttr(sc *specs.Scheduler) ([]byte, error) {
	policy, ok := schedPolicies[sc.Policy]
	if !ok {
		return nil, fmt.Errorf("process.scheduler.policy: unknown policy %q", sc.Policy)
	}
	flags, err := orFlags("process.scheduler.flags", sc.Flags, schedFlags)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	b := make([]byte, 56)
	le.PutUint32(b, uint32(len(b)))
	le.PutUint32(b[4:], policy)
	le.PutUint64(b[8:], flags)
	le.PutUint32(b[16:], uint32(sc.Nice))
	le.PutUint32(b[20:], uint32(sc.Priority))
	le.PutUint64(b[24:], sc.Runtime)
	le.PutUint64(b[32:], sc.Deadline)
	le.PutUint64(b[40:], sc.Period)
	return b, nil
}

// orFlags ORs the values table gives the names of flags; an unknown
// name is an error naming it as field[i].
func orFlags[K ~string, V int | uint64](field string, names []K, table map[K]V) (V, error) {
	var flags V
	for i, n := range names {
		v, ok := table[n]
		if !ok {
			return 0, fmt.Errorf("%s[%d]: unknown flag %q", field, i, n)
		}
		flags |= v
	}
	return flags, nil
}

// listMask parses a CPU or memory node list ("0-3,7") into a bit mask for
// sched_setaffinity(2) or set_mempolicy(2), a whole number of 64-bit
// words long.
func listMask(list string) ([]byte, error) {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		last := first
		if err == nil && isRange {
			last, err = strconv.ParseUint(hi, 10, 16)
		}
		if err != nil || last < first {
			return nil, fmt.Errorf("%q is not a list such as 0-3,7", list)
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, int(c))
		}
	}
	b := make([]byte, (slices.Max(cpus)/64+1)*8)
	for _, c := range cpus {
		b[c/8] |= 1 << (c % 8)
	}
	return b, nil
}

// sysctlNamespace is the namespace a kernel parameter belongs to; a
// container may set only those of namespaces of its own.
func sysctlNamespace(key string) (uintptr, bool) {
	switch {
	case strings.HasPrefix(key, "net."):
		return spawn.NewNet, true
	case strings.HasPrefix(key, "fs.mqueue."):
		return spawn.NewIPC, true
	case key == "kernel.hostname" || key == "kernel.domainname":
		return spawn.NewUTS, true
	}
	switch key {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
		"kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return spawn.NewIPC, true
	}
	return 0, false
}

func checkSysctl(params map[string]string, listed uintptr) error {
	for k := range params {
		ns, ok := sysctlNamespace(k)
		if !ok {
			return fmt.Errorf("linux.sysctl: %q is not namespaced: a container cannot set it", k)
		}
		if listed&ns == 0 {
			return fmt.Errorf("linux.sysctl: %q needs a namespace of the container's own, and linux.namespaces shares the host's", k)
		}
	}
	return nil
}

// setIDs sets the id maps and the credential. Without privilege over the
// parent namespace, sbx can write only a map of its own id, and setgroups
// must be denied before such a gid_map (user_namespaces(7)); the process
// then keeps no supplementary groups. Any other map is written by shadow's
// setuid newuidmap or newgidmap, from the ranges /etc/subuid and
// /etc/subgid give the caller, as runc and podman do.
func setIDs(lx *spawn.Linux, s *specs.Spec) error {
	for _, m := range s.Linux.UIDMappings {
		lx.UIDMappings = append(lx.UIDMappings, spawn.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	for _, m := range s.Linux.GIDMappings {
		lx.GIDMappings = append(lx.GIDMappings, spawn.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	u := s.Process.User
	if err := checkUser(u); err != nil {
		return err
	}
	lx.Credential = &spawn.Credential{UID: u.UID, GID: u.GID, Groups: append([]uint32{}, u.AdditionalGids...)}
	if lx.Namespaces&spawn.NewUser == 0 {
		return nil
	}
	if os.Geteuid() == 0 {
		// uid 0 of a user namespace that denies setgroups (`unshare -r`
		// makes one): its children's deny it too.
		lx.DenySetgroups = setgroupsDenied(os.Getpid())
		return groupsSettable(lx, u)
	}
	var tools spawn.IDMapTools
	var err error
	if !ownID(lx.UIDMappings, os.Geteuid()) {
		if tools.NewUIDMap, err = idMapTool("newuidmap", "linux.uidMappings", "uid", os.Geteuid(), "/etc/subuid"); err != nil {
			return err
		}
	}
	if !ownID(lx.GIDMappings, os.Getegid()) {
		if tools.NewGIDMap, err = idMapTool("newgidmap", "linux.gidMappings", "gid", os.Getegid(), "/etc/subgid"); err != nil {
			return err
		}
	}
	lx.DenySetgroups = tools.NewGIDMap == ""
	if tools != (spawn.IDMapTools{}) {
		lx.IDMapTools = &tools
	}
	return groupsSettable(lx, u)
}

// noID is (uid_t)-1, which setresuid(2) and setresgid(2) take for
// "unchanged": asked for as an id, it would leave the process as sbx's own
// (root).
const noID = ^uint32(0)

// checkUser refuses ids that are not ids.
func checkUser(u specs.User) error {
	switch {
	case u.UID == noID:
		return fmt.Errorf("process.user.uid: %d is not a valid id (to setresuid(2) it means \"unchanged\")", u.UID)
	case u.GID == noID:
		return fmt.Errorf("process.user.gid: %d is not a valid id (to setresgid(2) it means \"unchanged\")", u.GID)
	}
	for i, g := range u.AdditionalGids {
		if g == noID {
			return fmt.Errorf("process.user.additionalGids[%d]: %d is not a valid id", i, g)
		}
	}
	return nil
}

// groupsSettable refuses supplementary groups a user namespace that denies
// setgroups(2) would leave unset.
func groupsSettable(lx *spawn.Linux, u specs.User) error {
	if lx.DenySetgroups && len(u.AdditionalGids) > 0 {
		return errors.New("process.user.additionalGids: the container's user namespace denies setgroups(2), so they cannot be set: " +
			"map gids through newgidmap (Debian's package uidmap, a range in /etc/subgid), or leave them out")
	}
	return nil
}

// ownID reports whether m maps nothing but the caller's own id, which the
// caller may write itself.
func ownID(m []spawn.IDMap, id int) bool {
	return len(m) == 0 || len(m) == 1 && m[0].Size == 1 && int(m[0].HostID) == id
}

// idMapTool finds newuidmap or newgidmap for a map the caller cannot write.
func idMapTool(name, field, kind string, own int, file string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: mapping %ss other than your own (%d) without privilege needs %s (Debian's package uidmap) and a range for you in %s: %w", field, kind, own, name, file, err)
	}
	return p, nil
}

// capabilities converts the process's capability sets. A name the kernel
// does not know, or a capability outside sbx's own bounding set, which no
// process it starts can have, is left out with a warning, as the
// runtime-spec asks of a runtime ("SHOULD NOT fail" for capabilities that
// cannot be granted; runc does the same); strict (the sandbox, whose spec
// names were checked already) refuses the latter instead, since its
// program asked for what it would not get.
func capabilities(c *specs.LinuxCapabilities, strict bool) (*spawn.Capabilities, error) {
	if c == nil {
		return &spawn.Capabilities{}, nil
	}
	out := &spawn.Capabilities{}
	var ignored []string
	for _, set := range []struct {
		field string
		names []string
		mask  *uint64
	}{
		{"bounding", c.Bounding, &out.Bounding}, {"effective", c.Effective, &out.Effective},
		{"permitted", c.Permitted, &out.Permitted}, {"inheritable", c.Inheritable, &out.Inheritable},
		{"ambient", c.Ambient, &out.Ambient},
	} {
		for _, name := range set.names {
			n, ok := spec.CapabilityNumber(name)
			switch {
			case ok && haveCap(n):
				*set.mask |= 1 << n
			case strict && !ok:
				return nil, fmt.Errorf("process.capabilities.%s: unknown capability %q", set.field, name)
			case strict:
				return nil, fmt.Errorf("process.capabilities.%s: %s is not in the bounding set sbx runs with, so no process it starts can have it (run sbx with it, or remove it)", set.field, name)
			case !slices.Contains(ignored, name):
				ignored = append(ignored, name)
			}
		}
	}
	if len(ignored) > 0 {
		slog.Warn(fmt.Sprintf("process.capabilities: ignoring unknown or unavailable capabilities: %v (not in the bounding set sbx runs with)", ignored))
	}
	// The kernel raises an ambient capability only if it is permitted and
	// inheritable; runc warns and goes on without the others, and so
	// does sbx (the process gets less, never more, than asked).
	if lost := out.Ambient &^ (out.Permitted & out.Inheritable); lost != 0 {
		slog.Warn(fmt.Sprintf("process.capabilities.ambient: %s not both permitted and inheritable: not raised",
			strings.Join(spec.CapabilitiesIn(lost), ", ")))
		out.Ambient &^= lost
	}
	return out, nil
}

// haveCap reports whether capability n is in this process's bounding
// set; one the kernel does not know is not.
func haveCap(n int) bool {
	in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
	return err == nil && in == 1
}

var rlimitNumbers = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// rlimits converts the spec's limits, refusing a hard limit above the
// caller's own: raising one needs CAP_SYS_RESOURCE in the initial user
// namespace, which the child no longer has, and some hosts refuse it even
// to root; the error says so before anything starts.
func rlimits(rs []specs.POSIXRlimit) ([]spawn.Rlimit, error) {
	var out []spawn.Rlimit
	for i, r := range rs {
		n, ok := rlimitNumbers[strings.ToUpper(r.Type)]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d].type: unknown limit %q", i, r.Type)
		}
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("process.rlimits[%d]: soft limit %d is above hard limit %d", i, r.Soft, r.Hard)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(n, &cur); err == nil && r.Hard > cur.Max {
			return nil, fmt.Errorf("process.rlimits[%d]: %s hard limit %d is above this process's hard limit %d, which a sandbox cannot raise (lower it, or raise sbx's own limit with ulimit -H)", i, r.Type, r.Hard, cur.Max)
		}
		out = append(out, spawn.Rlimit{Resource: n, Cur: r.Soft, Max: r.Hard})
	}
	return out, nil
}

// compileSeccomp compiles the filter: sbx's default profile, none
// ("unconfined": nil), or the spec's (policy "").
func compileSeccomp(profile *specs.LinuxSeccomp, policy string) (*seccomp.Filter, error) {
	switch policy {
	case "unconfined":
		return nil, nil
	case "default":
		return seccomp.DefaultFilter() // compiled at build time
	case "":
		if profile == nil {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("seccomp: unknown policy %q", policy)
	}
	f, err := seccomp.Compile(profile)
	if err != nil {
		return nil, err
	}
	if f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 && f.ListenerPath == "" {
		return nil, errors.New("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY is used, but no listener is named to send the notification fd to")
	}
	return f, nil
}

// sendListener hands the seccomp listener of proc (a filter with
// SCMP_ACT_NOTIFY) to the agent listening at path, as the runtime-spec
// says: one connection carrying one ContainerProcessState and the fd
// (SCM_RIGHTS), then closed. Nothing happens without a listener.
func sendListener(path, metadata string, proc *spawn.Process, state specs.State) error {
	l := proc.SeccompListener()
	if l == nil {
		return nil
	}
	defer l.Close()
	msg, err := json.Marshal(specs.ContainerProcessState{Version: specs.Version, Fds: []string{specs.SeccompFdName},
		Pid: proc.Pid(), Metadata: metadata, State: state})
	if err != nil {
		return err
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(int(l.Fd())), nil); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: sending the notification fd to %s: %w", path, err)
	}
	return nil
}

// cwdFor is the working directory an OCI container's set-up creates when
// its root lacks it (namespaces.Options.Cwd), as runc does; a sandbox's
// must exist.
func cwdFor(container bool, p *specs.Process) string {
	if !container || p == nil {
		return ""
	}
	return p.Cwd
}

// ociEnv is the process's environment: an OCI container's gets HOME as
// runc gives it (withHome); a sandbox's is the spec's own.
func ociEnv(container bool, s *specs.Spec) []string {
	if !container {
		return s.Process.Env
	}
	root := ""
	if s.Root != nil {
		root = s.Root.Path
	}
	return withHome(s.Process.Env, root, s.Process.User.UID)
}
