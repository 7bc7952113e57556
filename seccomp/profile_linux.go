package seccomp

import (
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The default profile is an allowlist in the spirit of Docker's
// (moby profiles/seccomp/default.json) for a process without capabilities:
// everything not listed here fails with EPERM. It differs from Docker's in
// that it never depends on capabilities, denies ptrace, process_vm_*,
// io_uring, adjtimex and modify_ldt outright, filters socket families and
// ioctl requests, and allows unshare and clone without CLONE_NEWUSER.
//
// Names of other architectures and of syscalls this libseccomp does not know
// are listed on purpose: Compile skips what it cannot resolve, and a newer
// libseccomp picks them up.

// Process and thread lifetime, scheduling, limits and identity.
var processSyscalls = []string{
	"arch_prctl", "brk", "capget", "capset", "execve", "execveat", "exit",
	"exit_group", "fork", "vfork", "get_robust_list", "set_robust_list",
	"get_thread_area", "set_thread_area", "set_tid_address", "getcpu",
	"gettid", "getpid", "getppid", "getpgid", "setpgid", "getpgrp",
	"getsid", "setsid", "prctl", "rseq", "membarrier", "restart_syscall",
	"wait4", "waitid", "waitpid", "pidfd_open", "pidfd_send_signal",
	"process_mrelease", "getpriority", "setpriority", "ioprio_get",
	"ioprio_set", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
	"sched_setattr", "sched_getparam", "sched_setparam",
	"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_yield", "getrlimit",
	"setrlimit", "ugetrlimit", "prlimit64", "getrusage", "times", "sysinfo",
	"uname", "umask", "getrandom",
	// Further self-confinement is always allowed.
	"seccomp", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self",
}

// Credentials: the kernel checks the capabilities these need.
var credentialSyscalls = []string{
	"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32",
	"getegid", "getegid32", "getgroups", "getgroups32", "setgroups",
	"setgroups32", "getresuid", "getresuid32", "getresgid", "getresgid32",
	"setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
	"setregid", "setregid32", "setresuid", "setresuid32", "setresgid",
	"setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
}

// Signals and timers.
var signalSyscalls = []string{
	"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "sigaltstack", "sigreturn", "sigprocmask",
	"signalfd", "signalfd4", "pause", "alarm", "getitimer", "setitimer",
	"clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
	"gettimeofday", "nanosleep", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime",
	"timerfd_gettime64", "timerfd_settime", "timerfd_settime64",
}

// Memory.
var memorySyscalls = []string{
	"mmap", "mmap2", "munmap", "mprotect", "mremap", "madvise", "mincore",
	"msync", "mlock", "mlock2", "mlockall", "munlock", "munlockall",
	"memfd_create", "memfd_secret", "pkey_alloc", "pkey_free",
	"pkey_mprotect", "remap_file_pages", "map_shadow_stack", "mseal",
}

// File descriptors and I/O on them (ioctl is filtered separately).
var fdSyscalls = []string{
	"open", "openat", "openat2", "creat", "close", "close_range", "dup",
	"dup2", "dup3", "read", "readv", "pread64", "preadv", "preadv2", "write",
	"writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek",
	"sendfile", "sendfile64", "splice", "tee", "vmsplice",
	"copy_file_range", "fcntl", "fcntl64", "flock", "fsync", "fdatasync",
	"sync", "syncfs", "sync_file_range", "fallocate", "fadvise64",
	"fadvise64_64", "readahead", "ftruncate", "ftruncate64", "truncate",
	"truncate64", "pipe", "pipe2", "cachestat",
}

// Paths, metadata and extended attributes.
var pathSyscalls = []string{
	"access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd",
	"mkdir", "mkdirat", "mknod", "mknodat", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "unlink",
	"unlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat",
	"fchmodat2", "chown", "chown32", "fchown", "fchown32", "lchown",
	"lchown32", "fchownat", "stat", "stat64", "lstat", "lstat64", "fstat",
	"fstat64", "fstatat64", "newfstatat", "statx", "statfs", "statfs64",
	"fstatfs", "fstatfs64", "getdents", "getdents64", "utime", "utimes",
	"utimensat", "utimensat_time64", "futimesat", "name_to_handle_at",
	"inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch", "fanotify_mark",
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr",
	"fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
	"lremovexattr", "fremovexattr",
}

// Waiting: polling, futexes, eventfd and POSIX AIO (not io_uring).
var waitSyscalls = []string{
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
	"epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
	"eventfd", "eventfd2", "poll", "ppoll", "ppoll_time64", "select",
	"_newselect", "pselect6", "pselect6_time64", "futex", "futex_time64",
	"futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "io_setup",
	"io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"io_submit", "io_cancel",
}

// Sockets once created (socket itself is filtered by family). socketcall,
// the i386 multiplexer, is left out: its arguments cannot be filtered.
var socketSyscalls = []string{
	"socketpair", "bind", "connect", "listen", "accept", "accept4",
	"getsockname", "getpeername", "getsockopt", "setsockopt", "sendto",
	"send", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg",
	"recvmmsg_time64", "shutdown",
}

// System V and POSIX IPC; the IPC namespace bounds them.
var ipcSyscalls = []string{
	"ipc", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget",
	"semop", "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt",
	"shmget", "mq_open", "mq_unlink", "mq_getsetattr", "mq_notify",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64",
}

// Not listed, so denied with EPERM, among others: keyctl, add_key,
// request_key (the keyring is not namespaced); bpf, perf_event_open,
// userfaultfd, io_uring_* (large kernel attack surface, frequent CVEs);
// kexec_*, init_module, finit_module, delete_module, reboot, swapon,
// swapoff, acct, syslog, settimeofday, clock_settime, adjtimex,
// clock_adjtime (host-wide state); mount, umount, umount2, pivot_root,
// chroot, fsopen, fsconfig, fsmount, fspick, move_mount, open_tree,
// mount_setattr, setns, sethostname (namespace and mount setup is sbx's
// job, done before exec); ptrace, process_vm_readv, process_vm_writev,
// kcmp, pidfd_getfd (reading other processes); open_by_handle_at
// (CVE-2014-3519 "shocker"); modify_ldt, iopl, ioperm; mbind and the
// other NUMA policy calls; socketcall.

// Default returns sbx's default profile for the native architecture (and
// its 32-bit companions), as a fresh profile the caller may modify.
// DefaultFilter returns it compiled.
func Default() *specs.LinuxSeccomp {
	return defaultFor(runtime.GOARCH)
}

// defaultFor returns the default profile for goarch. Only the architecture
// list and the clone rule depend on goarch; the errno and ioctl numbers are
// this machine's, the same on amd64 and arm64 (asm-generic), so a profile
// for another architecture is right only between those two.
func defaultFor(goarch string) *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   nativeArches(goarch),
	}
	for _, group := range [][]string{
		processSyscalls, credentialSyscalls, signalSyscalls, memorySyscalls,
		fdSyscalls, pathSyscalls, waitSyscalls, socketSyscalls, ipcSyscalls,
	} {
		s.Syscalls = append(s.Syscalls, allow(group...))
	}
	s.Syscalls = append(s.Syscalls, namespaceRules(goarch)...)
	s.Syscalls = append(s.Syscalls, socketRules()...)
	s.Syscalls = append(s.Syscalls, personalityRules()...)
	s.Syscalls = append(s.Syscalls, allowIoctlExcept(unix.TIOCSTI, unix.TIOCLINUX)...)
	return s
}

// nativeArches lists the native architecture and the ones its kernel also
// runs (the archMap of Docker's profile).
func nativeArches(goarch string) []specs.Arch {
	switch goarch {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "386":
		return []specs.Arch{specs.ArchX86}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "arm":
		return []specs.Arch{specs.ArchARM}
	case "s390x":
		return []specs.Arch{specs.ArchS390X, specs.ArchS390}
	case "ppc64le":
		return []specs.Arch{specs.ArchPPC64LE}
	case "ppc64":
		return []specs.Arch{specs.ArchPPC64}
	case "riscv64":
		return []specs.Arch{specs.ArchRISCV64}
	case "loong64":
		return []specs.Arch{specs.ArchLOONGARCH64}
	case "mips64":
		return []specs.Arch{specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPS}
	case "mips64le":
		return []specs.Arch{specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchMIPSEL}
	case "mips":
		return []specs.Arch{specs.ArchMIPS}
	case "mipsle":
		return []specs.Arch{specs.ArchMIPSEL}
	}
	return nil // native only
}

// namespaceRules allows clone and unshare unless they create a user
// namespace: a user namespace gives an unprivileged process capabilities
// over new namespaces and with them a large kernel attack surface. Other
// namespace flags need capabilities the sandbox does not have. clone3 gets
// ENOSYS, as in Docker: its flags are behind a pointer seccomp cannot read,
// and ENOSYS makes glibc (2.34+) fall back to clone.
func namespaceRules(goarch string) []specs.LinuxSyscall {
	cloneFlags := uint(0)
	if goarch == "s390x" {
		cloneFlags = 1 // s390 passes the new stack first (clone(2), NOTES)
	}
	enosys := uint(unix.ENOSYS)
	return []specs.LinuxSyscall{
		allowIf("clone", masked(cloneFlags, unix.CLONE_NEWUSER, 0)),
		allowIf("unshare", masked(0, unix.CLONE_NEWUSER, 0)),
		{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
	}
}

// socketRules allows the address families ordinary programs use; raw
// packet, vsock, crypto (AF_ALG), Bluetooth and the rest are denied.
func socketRules() []specs.LinuxSyscall {
	var rules []specs.LinuxSyscall
	for _, family := range []uint32{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK} {
		rules = append(rules, allowIf("socket", eq32(0, family)))
	}
	return rules
}

// personalityRules allows the values Docker allows: PER_LINUX, PER_LINUX32,
// UNAME26, both, and 0xffffffff which only queries. Others, such as
// READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE, weaken exploit mitigations.
func personalityRules() []specs.LinuxSyscall {
	const perLinux32, uname26, query = 0x0008, 0x0020000, 0xffffffff
	var rules []specs.LinuxSyscall
	for _, p := range []uint32{0, perLinux32, uname26, perLinux32 | uname26, query} {
		rules = append(rules, allowIf("personality", eq32(0, p)))
	}
	return rules
}

// allowIoctlExcept returns ALLOW rules for ioctl that together match every
// request except those in deny (at least one). The kernel reads the request
// as a 32-bit unsigned int, so only the low 32 bits are compared: a filter
// comparing all 64 bits was bypassed by setting high bits (CVE-2019-7303,
// snapd's TIOCSTI filter). libseccomp has neither a masked not-equal nor
// ERRNO exceptions to ALLOW rules when ERRNO is the default action, so the
// allowed set is a union of masked-equal tests:
//   - for each bit on which all denied requests agree, the requests that
//     have the other value of that bit;
//   - for requests that agree with them on all those bits, each pattern of
//     the remaining bits that is not itself denied.
//
// Denied requests should differ in few bits (TIOCSTI and TIOCLINUX differ in
// three), since the second part has 2^bits members.
func allowIoctlExcept(deny ...uint32) []specs.LinuxSyscall {
	common := ^uint32(0)
	for _, d := range deny[1:] {
		common &^= d ^ deny[0]
	}
	base := deny[0] & common
	var rules []specs.LinuxSyscall
	for b := range 32 {
		if bit := uint32(1) << b; common&bit != 0 {
			rules = append(rules, allowIf("ioctl", masked(1, uint64(bit), uint64(^base&bit))))
		}
	}
	free := ^common
	for v := free; ; v = (v - 1) & free { // every subset of free
		if req := base | v; !slices.Contains(deny, req) {
			rules = append(rules, allowIf("ioctl", eq32(1, req)))
		}
		if v == 0 {
			return rules
		}
	}
}

func allow(names ...string) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: slices.Clone(names), Action: specs.ActAllow}
}

func allowIf(name string, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow, Args: args}
}

// masked matches when (argument & mask) == value.
func masked(index uint, mask, value uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: index, Op: specs.OpMaskedEqual, Value: mask, ValueTwo: value}
}

// eq32 matches when the low 32 bits of the argument equal value, for
// arguments the kernel declares as int: their high register bits are not
// defined by the C ABI and must not decide.
func eq32(index uint, value uint32) specs.LinuxSeccompArg {
	return masked(index, 0xffffffff, uint64(value))
}
