package runtime

import (
	"errors"
	"fmt"
	"os"
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
}

var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.UserNamespace: spawn.NewUser, specs.PIDNamespace: spawn.NewPID,
	specs.MountNamespace: spawn.NewMount, specs.NetworkNamespace: spawn.NewNet,
	specs.IPCNamespace: spawn.NewIPC, specs.UTSNamespace: spawn.NewUTS,
	specs.CgroupNamespace: spawn.NewCgroup, specs.TimeNamespace: spawn.NewTime,
}

// command builds the child of an OCI spec: namespaces, id maps,
// credentials, the filesystem plan, capabilities, rlimits, no_new_privs
// and seccomp. Cgroups and stdio are the caller's.
func command(s *specs.Spec, o cmdOptions) (*spawn.Cmd, error) {
	if s.Process == nil || len(s.Process.Args) == 0 {
		return nil, errors.New("process.args is empty")
	}
	if s.Linux == nil {
		return nil, errors.New("spec has no linux section")
	}
	// A session of its own: the process must not signal sbx's process
	// group with kill(0, …), nor open sbx's controlling terminal.
	lx := &spawn.Linux{NoNewPrivs: s.Process.NoNewPrivileges, Hostname: s.Hostname, Pdeathsig: syscall.SIGKILL, Setsid: true}
	for _, ns := range s.Linux.Namespaces {
		f, ok := nsFlags[ns.Type]
		if !ok {
			return nil, fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		if ns.Path != "" {
			return nil, fmt.Errorf("linux.namespaces: joining %s namespace %s is not supported", ns.Type, ns.Path)
		}
		lx.Namespaces |= f
	}
	if lx.Namespaces&spawn.NewMount == 0 {
		return nil, errors.New("linux.namespaces: a mount namespace is required")
	}
	setIDs(lx, s)
	cmd := &spawn.Cmd{
		Path: s.Process.Args[0], Args: s.Process.Args, Env: s.Process.Env,
		Dir: s.Process.Cwd, Linux: lx,
	}
	setup := namespaces.Options{
		SkeletonRoot: o.skeletonRoot,
		Loopback:     lx.Namespaces&spawn.NewNet != 0,
		ConsoleFD:    -1,
	}
	if cg := o.cgroup; cg != nil {
		if dir := cg.Dir(); dir != nil {
			lx.Cgroup = dir
		} else {
			// Moved by the parent while it waits; its cgroup
			// namespace must start after that.
			lx.Prepare = cg.Add
			setup.UnshareCgroup = lx.Namespaces&spawn.NewCgroup != 0
			lx.Namespaces &^= spawn.NewCgroup
		}
	}
	if o.console != nil {
		cmd.ExtraFiles = []*os.File{o.console}
		setup.ConsoleFD = 3
		lx.Setctty, lx.Ctty = true, 0
	}
	prog, err := namespaces.Setup(s, setup)
	if err != nil {
		return nil, err
	}
	lx.Setup = prog
	if lx.Capabilities, err = capabilities(s.Process.Capabilities); err != nil {
		return nil, err
	}
	if lx.Rlimits, err = rlimits(s.Process.Rlimits); err != nil {
		return nil, err
	}
	if f := o.seccomp; f != nil {
		lx.Seccomp = make([]spawn.SockFilter, len(f.Program))
		for i, in := range f.Program {
			lx.Seccomp[i] = spawn.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
		lx.SeccompFlags = f.Flags
	}
	return cmd, nil
}

// setIDs sets the id maps and the credential. Without privilege over the
// parent namespace, setgroups must be denied before gid_map is written
// (user_namespaces(7)); the process then keeps no supplementary groups.
func setIDs(lx *spawn.Linux, s *specs.Spec) {
	for _, m := range s.Linux.UIDMappings {
		lx.UIDMappings = append(lx.UIDMappings, spawn.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	for _, m := range s.Linux.GIDMappings {
		lx.GIDMappings = append(lx.GIDMappings, spawn.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	lx.DenySetgroups = lx.Namespaces&spawn.NewUser != 0 && os.Geteuid() != 0
	u := s.Process.User
	lx.Credential = &spawn.Credential{UID: u.UID, GID: u.GID, Groups: append([]uint32{}, u.AdditionalGids...)}
}

func capabilities(c *specs.LinuxCapabilities) (*spawn.Capabilities, error) {
	if c == nil {
		return &spawn.Capabilities{}, nil
	}
	out := &spawn.Capabilities{}
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
			if !ok {
				return nil, fmt.Errorf("process.capabilities.%s: unknown capability %q", set.field, name)
			}
			*set.mask |= 1 << n
		}
	}
	return out, nil
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
		profile = seccomp.Default()
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
	if f.ListenerPath != "" || f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return nil, errors.New("seccomp: SCMP_ACT_NOTIFY (a user-space listener) is not supported yet")
	}
	return f, nil
}
