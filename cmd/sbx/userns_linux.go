package main

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"sbx.dev/sbx/runtime"
)

// An unprivileged `sbx exec` into a container with a user and a pid
// namespace of its own (or `sbx start` running startContainer hooks in one)
// cannot enter the pid namespace from its own user
// namespace, where it lacks CAP_SYS_ADMIN; from the container's it can. A
// user namespace is entered only by a single-threaded process, and a Go
// program never is one, so sbx executes itself again with the namespace's
// fd named in the environment, and the C constructor in seal_linux.c
// enters it before the Go runtime starts (runc's nsexec enters it at the
// same point). From there everything is as for root.
const usernsFDEnv = "_SBX_USERNS_FD"

// The C constructor took usernsFDEnv out of the C environment; Go's copy,
// made from the process's initial one, still has it, and must not pass it
// on (to hooks, which get sbx's environment).
func init() { os.Unsetenv(usernsFDEnv) }

// execInUserNamespace re-executes sbx, with its arguments, in the user
// namespace of ns. root is the state root this sbx resolved: in the
// container's user namespace sbx is uid 0, and would take root's default
// (/run/sbx) instead of the user's. It returns only on failure.
func execInUserNamespace(ns *os.File, root string) error {
	if _, err := unix.FcntlInt(ns.Fd(), unix.F_SETFD, 0); err != nil {
		return err
	}
	env := append(os.Environ(), usernsFDEnv+"="+strconv.Itoa(int(ns.Fd())))
	args := append([]string{os.Args[0], "--root", root}, os.Args[1:]...)
	return os.NewSyscallError("execve /proc/self/exe", syscall.Exec("/proc/self/exe", args, env))
}

// enterUserNamespaceFirst is execInUserNamespace when ctr needs it.
func enterUserNamespaceFirst(ctr *runtime.Container, root string) error {
	ns, err := ctr.UserNamespaceFirst()
	if err != nil || ns == nil {
		return err
	}
	defer ns.Close()
	ctr.Close()
	return execInUserNamespace(ns, root)
}
