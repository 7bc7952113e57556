package spawn

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// When clone3 refuses to create the namespaces, its errno alone ("no space
// left on device", "function not implemented") names neither the limit,
// the sysctl nor the filter that refused, so cloneError looks at the host
// and says which, and how to lift it.

// hostState is what cloneError reads to explain a refusal.
type hostState struct {
	// seccomp is the Seccomp line of /proc/self/status: 2 when a
	// seccomp filter confines sbx (it runs in a container or sandbox).
	seccomp string
	// euid is sbx's effective uid.
	euid int
	// sysctl maps a /proc/sys path to its value; absent when the file
	// does not exist (the knob is not in this kernel).
	sysctl map[string]string
}

// nsLimits are the per-namespace-type limits, each a file under
// /proc/sys/user (namespaces(7)).
var nsLimits = []struct {
	flag uintptr
	file string
}{
	{unix.CLONE_NEWUSER, "user/max_user_namespaces"},
	{unix.CLONE_NEWPID, "user/max_pid_namespaces"},
	{unix.CLONE_NEWNS, "user/max_mnt_namespaces"},
	{unix.CLONE_NEWNET, "user/max_net_namespaces"},
	{unix.CLONE_NEWIPC, "user/max_ipc_namespaces"},
	{unix.CLONE_NEWUTS, "user/max_uts_namespaces"},
	{unix.CLONE_NEWCGROUP, "user/max_cgroup_namespaces"},
	{unix.CLONE_NEWTIME, "user/max_time_namespaces"},
}

// Knobs that forbid unprivileged user namespaces: Debian's and Ubuntu's.
const (
	unprivilegedUserns = "kernel/unprivileged_userns_clone"
	apparmorUserns     = "kernel/apparmor_restrict_unprivileged_userns"
)

func readHostState() hostState {
	h := hostState{euid: os.Geteuid(), sysctl: map[string]string{}}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range bytes.Lines(b) {
			if v, ok := bytes.CutPrefix(line, []byte("Seccomp:")); ok {
				h.seccomp = string(bytes.TrimSpace(v))
			}
		}
	}
	files := []string{unprivilegedUserns, apparmorUserns}
	for _, l := range nsLimits {
		files = append(files, l.file)
	}
	for _, f := range files {
		if b, err := os.ReadFile("/proc/sys/" + f); err == nil {
			h.sysctl[f] = strings.TrimSpace(string(b))
		}
	}
	return h
}

func cloneError(errno syscall.Errno, ns uintptr) error {
	return explainClone(errno, ns, readHostState())
}

// explainClone is the error for clone3's errno when it was asked to create
// the namespaces ns, on a host in state h.
func explainClone(errno syscall.Errno, ns uintptr, h hostState) error {
	filtered := h.seccomp == "2"
	const inContainer = "a seccomp filter confines sbx itself (Seccomp: 2 in /proc/self/status: it runs in a container or sandbox whose profile"
	switch {
	case errno == syscall.ENOSYS && filtered:
		return &Error{Op: "clone3", Err: fmt.Errorf("%w: %s refuses clone3, as container runtimes' default profiles do); run sbx outside it, or give that container a seccomp profile that allows clone3 and unshare", errno, inContainer)}
	case errno == syscall.ENOSYS:
		return &Error{Op: "clone3", Err: fmt.Errorf("%w: clone3 needs Linux 5.3", ErrNotSupported)}
	case errno == syscall.ENOSPC || errno == syscall.EUSERS:
		for _, l := range nsLimits {
			if ns&l.flag != 0 && h.sysctl[l.file] == "0" {
				name := strings.ReplaceAll(l.file, "/", ".")
				return &Error{Op: "clone3", Err: fmt.Errorf("%w: /proc/sys/%s is 0, which forbids creating that namespace; raise it (sysctl -w %s=15000; in a user namespace, its owner sets it)", errno, l.file, name)}
			}
		}
		return &Error{Op: "clone3", Err: fmt.Errorf("%w: a limit on namespaces is reached: one of /proc/sys/user/max_*_namespaces, or 32 nested user or pid namespaces", errno)}
	case errno == syscall.EPERM && ns&unix.CLONE_NEWUSER != 0:
		return &Error{Op: "clone3", Err: fmt.Errorf("%w: %s", errno, usernsRefusal(h, filtered, inContainer))}
	case errno == syscall.EPERM && ns != 0 && filtered:
		return &Error{Op: "clone3", Err: fmt.Errorf("%w: %s refuses new namespaces); run sbx outside it", errno, inContainer)}
	case errno == syscall.EPERM && ns != 0:
		return &Error{Op: "clone3", Err: fmt.Errorf("%w (creating namespaces without a new user namespace needs CAP_SYS_ADMIN)", errno)}
	}
	return &Error{Op: "clone3", Err: errno}
}

// usernsRefusal says why the host refuses a new user namespace with EPERM.
func usernsRefusal(h hostState, filtered bool, inContainer string) string {
	switch {
	case h.euid != 0 && h.sysctl[unprivilegedUserns] == "0":
		return "unprivileged user namespaces are disabled: /proc/sys/" + unprivilegedUserns + " is 0; enable them (sysctl -w kernel.unprivileged_userns_clone=1) or run sbx as root"
	case h.euid != 0 && h.sysctl[apparmorUserns] == "1":
		return "AppArmor restricts unprivileged user namespaces (/proc/sys/" + apparmorUserns + " is 1); give sbx an AppArmor profile that allows `userns,` or set the sysctl to 0"
	case filtered:
		return inContainer + " refuses new user namespaces); run sbx outside it, or give that container a seccomp profile that allows clone3 and unshare with namespace flags"
	}
	return "the host refuses a new user namespace: sbx may run in a chroot, or an LSM forbids it; check kernel.unprivileged_userns_clone, user.max_user_namespaces and AppArmor's kernel.apparmor_restrict_unprivileged_userns"
}
