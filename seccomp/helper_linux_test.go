package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// helperEnv selects a helper mode: the test binary, re-executed with it
// set, installs a filter in itself, runs probes and prints
// {"probe": errno, ...} on stdout. 0 means success.
const helperEnv = "SBX_SECCOMP_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// probe is one system call made by the helper.
type probe struct {
	name string
	call func() error
}

type helperMode struct {
	filter func() (*Filter, error) // nil: run unconfined
	probes func() ([]probe, error)
}

var helperModes = map[string]helperMode{
	"unconfined":       {nil, defaultProbes},
	"default":          {DefaultFilter, defaultProbes},
	"compiled-default": {compiled(Default), defaultProbes},
	"custom":           {compiled(customProfile), customProbes},
	"actions":          {compiled(actionsProfile), actionsProbes},
	"kill":             {compiled(killProfile), killProbes},
}

func compiled(profile func() *specs.LinuxSeccomp) func() (*Filter, error) {
	return func() (*Filter, error) { return Compile(profile()) }
}

// helperArgsEnv holds, for mode "exec", the JSON array of the command the
// helper executes under DefaultFilter().
const helperArgsEnv = "SBX_SECCOMP_TEST_ARGS"

func helperMain(mode string) int {
	if mode == "exec" {
		return helperExec()
	}
	m, ok := helperModes[mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		return 2
	}
	probes, err := m.probes()
	if err == nil && m.filter != nil {
		var f *Filter
		if f, err = m.filter(); err == nil {
			err = install(f)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		return 2
	}
	results := map[string]int{}
	for _, p := range probes {
		results[p.name] = errnoOf(p.call())
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		return 2
	}
	return 0
}

// helperExec replaces the helper with a command confined by
// DefaultFilter().
func helperExec() int {
	var args []string
	err := json.Unmarshal([]byte(os.Getenv(helperArgsEnv)), &args)
	var f *Filter
	if err == nil {
		f, err = DefaultFilter()
	}
	if err == nil {
		err = install(f)
	}
	if err == nil {
		err = syscall.Exec(args[0], args, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "helper exec %q: %v\n", args, err)
	return 2
}

// install confines every thread of the helper process with f.
//
// Preconditions: only ever called in a helper process, never in the test
// process itself.
func install(f *Filter) error {
	runtime.LockOSThread() // prctl and seccomp must run on one thread
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: &f.Program[0]}
	flags := f.Flags | unix.SECCOMP_FILTER_FLAG_TSYNC
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): thread %d could not be synchronised", r)
	}
	return nil
}

// errnoOf turns a probe result into an errno, -1 for non-errno errors.
func errnoOf(err error) int {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return int(errno)
	}
	fmt.Fprintf(os.Stderr, "probe error: %v\n", err)
	return -1
}

// sys makes a raw system call with up to six arguments.
func sys(nr uintptr, args ...uintptr) error {
	var a [6]uintptr
	copy(a[:], args)
	_, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if errno != 0 {
		return errno
	}
	return nil
}

// sysFD makes a system call that returns an fd, and closes it.
func sysFD(nr uintptr, args ...uintptr) error {
	var a [6]uintptr
	copy(a[:], args)
	fd, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if errno != 0 {
		return errno
	}
	return unix.Close(int(fd))
}

func ptr(s string) uintptr {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(p))
}

// defaultProbes are the syscalls the default profile must deny or allow.
// Every denied probe is harmless without the filter too, even as root: its
// arguments are invalid or name nothing, so the unconfined run fails with
// another errno (or does nothing).
func defaultProbes() ([]probe, error) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	null := devNull.Fd()
	var c byte
	cp := uintptr(unsafe.Pointer(&c))
	const nonexistentPid = 0x3ffffff0
	const afPacket = unix.AF_PACKET
	return []probe{
		// Denied: EPERM.
		{"keyctl", func() error { return sys(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, 0x7ffffff0, 0) }},
		{"add_key", func() error { return sys(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0) }},
		{"request_key", func() error { return sys(unix.SYS_REQUEST_KEY, 0, 0, 0, 0) }},
		{"bpf", func() error { return sys(unix.SYS_BPF, 0xffff, 0, 0) }},
		{"perf_event_open", func() error { return sys(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0) }},
		{"userfaultfd", func() error { return sys(unix.SYS_USERFAULTFD, 0xffff) }},
		{"io_uring_setup", func() error { return sys(unix.SYS_IO_URING_SETUP, 0, 0) }},
		{"kexec_load", func() error { return sys(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0xffffffff) }},
		{"init_module", func() error { return sys(unix.SYS_INIT_MODULE, 0, 0, 0) }},
		{"finit_module", func() error { return sys(unix.SYS_FINIT_MODULE, ^uintptr(0), 0, 0) }},
		{"mount", func() error { return sys(unix.SYS_MOUNT, 0, 0, 0, 0, 0) }},
		{"umount2", func() error { return sys(unix.SYS_UMOUNT2, ptr("/nonexistent/sbx"), 0) }},
		{"pivot_root", func() error { return sys(unix.SYS_PIVOT_ROOT, ptr("/nonexistent/sbx"), ptr("/nonexistent/sbx")) }},
		{"fsopen", func() error { return sys(unix.SYS_FSOPEN, 0, 0) }},
		{"open_tree", func() error { return sys(unix.SYS_OPEN_TREE, ^uintptr(0), 0, 0) }},
		{"swapon", func() error { return sys(unix.SYS_SWAPON, 0, 0) }},
		{"reboot", func() error { return sys(unix.SYS_REBOOT, 0, 0, 0, 0) }}, // bad magic: EINVAL
		{"acct", func() error { return sys(unix.SYS_ACCT, ptr("/nonexistent/sbx")) }},
		{"clock_settime", func() error { return sys(unix.SYS_CLOCK_SETTIME, 0x7fff, 0) }},
		{"adjtimex", func() error { return sys(unix.SYS_ADJTIMEX, 0) }},
		{"ptrace", func() error { return sys(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, nonexistentPid, 0, 0) }},
		{"process_vm_readv", func() error { return sys(unix.SYS_PROCESS_VM_READV, nonexistentPid, 0, 0, 0, 0, 0) }},
		// A Go process has several threads, so without the filter
		// unshare(CLONE_NEWUSER) fails with EINVAL (unshare(2)).
		{"unshare(CLONE_NEWUSER)", func() error { return sys(unix.SYS_UNSHARE, unix.CLONE_NEWUSER) }},
		{"setns", func() error { return sys(unix.SYS_SETNS, ^uintptr(0), 0) }},
		{"clone(CLONE_NEWUSER)", func() error { return runTrue(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}) }},
		{"ioctl(TIOCSTI)", func() error { return sys(unix.SYS_IOCTL, null, unix.TIOCSTI, cp) }},
		{"ioctl(TIOCSTI|1<<32)", func() error { return sys(unix.SYS_IOCTL, null, unix.TIOCSTI|1<<32, cp) }},
		{"ioctl(TIOCLINUX)", func() error { return sys(unix.SYS_IOCTL, null, unix.TIOCLINUX, cp) }},
		{"socket(AF_PACKET)", func() error { return sysFD(unix.SYS_SOCKET, afPacket, unix.SOCK_DGRAM, 0) }},
		{"personality(ADDR_NO_RANDOMIZE)", func() error { return sys(unix.SYS_PERSONALITY, 0x0040000) }},
		// Denied with ENOSYS.
		{"clone3", func() error { return sys(unix.SYS_CLONE3, 0, 0) }},
		// Allowed.
		{"getpid", func() error { return sys(unix.SYS_GETPID) }},
		{"unshare(0)", func() error { return sys(unix.SYS_UNSHARE, 0) }},
		{"personality(query)", func() error { return sys(unix.SYS_PERSONALITY, 0xffffffff) }},
		{"ioctl(TIOCGWINSZ)", func() error { return sys(unix.SYS_IOCTL, null, unix.TIOCGWINSZ, cp) }},
		{"socket(AF_UNIX)", func() error { return sysFD(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0) }},
		{"socket(AF_INET)", func() error { return sysFD(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, 0) }},
		{"socket(AF_INET6)", func() error { return sysFD(unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM, 0) }},
		{"socket(AF_NETLINK)", func() error {
			return sysFD(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		}},
		{"exec /bin/true", func() error { return runTrue(nil) }},
		{"exec /bin/sh", func() error {
			return exec.Command("/bin/sh", "-c", "ls / >/dev/null && cat /proc/self/status | grep -q Seccomp").Run()
		}},
	}, nil
}

func runTrue(attr *syscall.SysProcAttr) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = attr
	err := cmd.Run()
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err // fork/exec errors carry the clone errno
	}
	return err
}

// customProfile exercises errnoRet, ANDed conditions on different
// arguments, ORed conditions on one argument and SCMP_CMP_MASKED_EQ.
func customProfile() *specs.LinuxSeccomp {
	exdev, edom, enotty := uint(unix.EXDEV), uint(unix.EDOM), uint(unix.ENOTTY)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"fchmod"}, Action: specs.ActErrno, ErrnoRet: &exdev,
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpMaskedEqual, Value: unix.S_ISUID, ValueTwo: unix.S_ISUID}}},
			{Names: []string{"fchown"}, Action: specs.ActErrno, ErrnoRet: &edom,
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: 4242}, {Index: 1, Op: specs.OpEqualTo, Value: 4343}}},
			{Names: []string{"getpriority"}, Action: specs.ActErrno, ErrnoRet: &enotty,
				Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: unix.PRIO_PROCESS}, {Index: 1, Op: specs.OpEqualTo, Value: 0x3ffffff0}}},
		},
	}
}

func customProbes() ([]probe, error) {
	f, err := os.CreateTemp("", "sbx-seccomp-test")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // the open fd is enough
	fd := f.Fd()
	const nonexistentPid = 0x3ffffff0
	return []probe{
		{"fchmod(04755)", func() error { return sys(unix.SYS_FCHMOD, fd, 0o4755) }},
		{"fchmod(0644)", func() error { return sys(unix.SYS_FCHMOD, fd, 0o644) }},
		{"fchown(4242)", func() error { return sys(unix.SYS_FCHOWN, fd, 4242, ^uintptr(0)) }},
		{"fchown(4343)", func() error { return sys(unix.SYS_FCHOWN, fd, 4343, ^uintptr(0)) }},
		{"fchown(-1)", func() error { return sys(unix.SYS_FCHOWN, fd, ^uintptr(0), ^uintptr(0)) }},
		{"getpriority(PRIO_PROCESS, nonexistent)", func() error {
			return sys(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, nonexistentPid)
		}},
		{"getpriority(PRIO_PGRP, nonexistent)", func() error { return sys(unix.SYS_GETPRIORITY, unix.PRIO_PGRP, nonexistentPid) }},
		{"getpriority(PRIO_PROCESS, self)", func() error { return sys(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 0) }},
	}, nil
}

// actionsProfile exercises the actions and the filter flags that the
// other profiles do not, errnoRet at its limits and a rule naming a
// system call libseccomp does not know.
func actionsProfile() *specs.LinuxSeccomp {
	zero, maxErr, exdev := uint(0), uint(maxErrno), uint(unix.EXDEV)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
			"SECCOMP_FILTER_FLAG_TSYNC"},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActTrace},
			{Names: []string{"getpgid"}, Action: specs.ActLog},
			{Names: []string{"getsid"}, Action: specs.ActErrno, ErrnoRet: &zero},
			{Names: []string{"fchdir"}, Action: specs.ActErrno, ErrnoRet: &maxErr},
			{Names: []string{"no_such_syscall", "sched_yield"}, Action: specs.ActErrno, ErrnoRet: &exdev},
		},
	}
}

func actionsProbes() ([]probe, error) {
	const nonexistentPid = 0x3ffffff0
	return []probe{
		{"getppid", func() error { return sys(unix.SYS_GETPPID) }},
		{"getpgid(0)", func() error { return sys(unix.SYS_GETPGID, 0) }},
		{"getsid(nonexistent)", func() error { return sys(unix.SYS_GETSID, nonexistentPid) }},
		{"fchdir(-1)", func() error { return sys(unix.SYS_FCHDIR, ^uintptr(0)) }},
		{"sched_yield", func() error { return sys(unix.SYS_SCHED_YIELD) }},
	}, nil
}

// killProfile kills the process on getppid.
func killProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActKillProcess}},
	}
}

func killProbes() ([]probe, error) {
	return []probe{{"getppid", func() error { return sys(unix.SYS_GETPPID) }}}, nil
}
