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
	// Credential is the identity to take before exec; nil keeps the
	// parent's (or, in a new user namespace, what the maps give).
	Credential *Credential
	// Cgroup is an open cgroup v2 directory the child starts in
	// (CLONE_INTO_CGROUP); nil means the parent's cgroup.
	Cgroup *os.File
	// Hostname is set in the child's new UTS namespace; "" leaves it.
	Hostname string
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
	// Prepare, when set, is called in the parent after the child exists
	// (and after its id maps are written) but before it does anything
	// else, with the child's pid: the place to attach it to cgroup v1
	// hierarchies or set up its network. An error kills the child and is
	// returned by Start.
	Prepare func(pid int) error
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
