package spawn

import (
	"os"
	"syscall"
)

// Linux is what a child can get on Linux only. It is plain data, defined on
// every platform so that code building a Cmd compiles everywhere.
type Linux struct {
	// Namespaces are the CLONE_NEW* flags of the namespaces to create; 0
	// means the child shares all of the parent's.
	Namespaces uintptr
	// UIDMappings and GIDMappings are written to the child's uid_map and
	// gid_map, by the parent, before the child does anything else. They
	// need CLONE_NEWUSER.
	UIDMappings, GIDMappings []IDMap
	// DenySetgroups writes "deny" to the child's setgroups file before its
	// gid_map, which an unprivileged parent must do (user_namespaces(7)).
	DenySetgroups bool
	// IDMapTools, when set, name the programs that write the maps instead
	// of the parent: shadow's setuid newuidmap and newgidmap, which let an
	// unprivileged caller map the ranges /etc/subuid and /etc/subgid give
	// it. With a NewGIDMap, DenySetgroups must be false: newgidmap decides
	// setgroups from those files.
	IDMapTools *IDMapTools
	// Credential is the identity to take before exec; nil keeps the
	// parent's (or, in a new user namespace, what the maps give).
	Credential *Credential
	// Cgroup is an open cgroup v2 directory the child starts in
	// (CLONE_INTO_CGROUP); nil means the parent's cgroup.
	Cgroup *os.File
	// Hostname is set in the child's new UTS namespace; "" leaves it.
	Hostname string
	// Domainname is the NIS domain name set there (setdomainname(2)); ""
	// leaves it.
	Domainname string
	// Setsid makes the child a session leader; with Setctty, fd Ctty of
	// the child (0, 1, 2 or an ExtraFiles index + 3) becomes its
	// controlling terminal.
	Setsid, Setctty bool
	Ctty            int
	// NoNewPrivs sets PR_SET_NO_NEW_PRIVS.
	NoNewPrivs bool
	// Pdeathsig is sent to the child when the parent dies; 0 means none.
	// spawn creates such children from one OS thread that never exits,
	// because the kernel ties the signal to the creating thread
	// (prctl(2)), not to the process.
	Pdeathsig syscall.Signal
	// Setup, when set, runs in the child after its fds are in place and
	// before the gate and the credential change, with all the privilege
	// the child has in its new namespaces: a sandbox's mounts and
	// pivot_root, a terminal (package namespaces builds it).
	Setup *Program
	// Rlimits are set in the child before the credential change.
	Rlimits []Rlimit
	// Capabilities, when set, are the child's capability sets at exec.
	// The bounding set is reduced before the credential change (which
	// needs CAP_SETPCAP), the others are set after it (PR_SET_KEEPCAPS
	// keeps them across a change to a non-zero uid). nil leaves what the
	// credential change leaves. execve(2) gives uid 0 its whole bounding
	// set back unless NoNewPrivs is set too (capabilities(7)).
	Capabilities *Capabilities
	// Seccomp is a classic BPF program (struct sock_filter array, as
	// seccomp(2) takes it) installed with SeccompFlags as the very last
	// step before exec, after NoNewPrivs; nil installs none. Without
	// NoNewPrivs, installing it needs CAP_SYS_ADMIN, so it comes right
	// after the gate instead, and must allow the credential and
	// capability changes that follow (setgroups, setresuid, capset,
	// prctl, chdir).
	//
	// With SECCOMP_FILTER_FLAG_NEW_LISTENER in SeccompFlags the filter
	// hands out a user-notification fd: the child then needs a Gate, loads
	// the filter just before it (while it still has CAP_SYS_ADMIN in its
	// namespaces; the filter then also sees the gate's read and the steps
	// after it), and Start takes the fd from the child (pidfd_getfd) for
	// Process.SeccompListener.
	Seccomp      []SockFilter
	SeccompFlags uint
	// Join are existing namespaces the child enters (setns(2)) before any
	// other setup. A new namespace in Namespaces is created by clone3 in
	// the parent's user namespace, unless Join enters a user namespace:
	// the others are then created after it (unshare(2)), so that it owns
	// them. A pid namespace is entered by the thread that calls clone3,
	// since setns only moves a process's future children into one. Time
	// namespaces cannot be entered from a multi-threaded program, nor a
	// new pid or time namespace created under a joined user namespace
	// without a second fork: Start refuses both.
	Join []Namespace
	// Root, when set, is a directory the child makes its root and working
	// directory (fchdir, chroot(".")) right after entering Join's
	// namespaces: for a process joining a container that runs in its
	// caller's mount namespace, whose root entering that namespace does
	// not give.
	Root *os.File
	// Prepare, when set, is called in the parent after the child exists
	// (and after its id maps are written) but before it does anything
	// else, with the child's pid: the place to attach it to cgroup v1
	// hierarchies or set up its network. An error kills the child and is
	// returned by Start.
	Prepare func(pid int) error
	// Paused is called in the parent, with the child's pid, each time the
	// child reaches a Pause of its Setup program; the child goes on when
	// it returns. An error kills the child and is returned by Start.
	Paused func(pid int) error
}

// IDMapTools are the paths of newuidmap(1) and newgidmap(1); "" writes
// that map directly.
type IDMapTools struct {
	NewUIDMap, NewGIDMap string
}

// The CLONE_NEW* flags for Linux.Namespaces, defined on every platform
// (their values are Linux's ABI).
const (
	NewUser   = 0x10000000
	NewPID    = 0x20000000
	NewMount  = 0x00020000
	NewNet    = 0x40000000
	NewIPC    = 0x08000000
	NewUTS    = 0x04000000
	NewCgroup = 0x02000000
	NewTime   = 0x00000080
	// AllNamespaces is every namespace Linux has: what a sandbox starts
	// from before sharing is added.
	AllNamespaces = NewUser | NewPID | NewMount | NewNet | NewIPC | NewUTS | NewCgroup | NewTime
)

// Namespace is an open namespace to enter: a /proc/PID/ns/* file, whose
// Type is its one CLONE_NEW* flag, or a pidfd, whose Type may name several
// of the process's namespaces at once (Linux 5.8).
type Namespace struct {
	File *os.File
	Type uintptr
}

// Rlimit is one resource limit (setrlimit(2)); Resource is an RLIMIT_*
// number.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Capabilities are capability sets as bit masks: bit n is capability n
// (CAP_CHOWN is 0), as capget(2) numbers them.
type Capabilities struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// SockFilter is one instruction of a classic BPF program (struct
// sock_filter).
type SockFilter struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}
