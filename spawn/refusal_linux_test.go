package spawn

import (
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExplainClone: each refusal names what refused and how to lift it.
// The namespace limit and the seccomp filter are also met for real by
// tests/sandbox_linux_test.go (testHostRefuses); the sysctls that forbid
// unprivileged user namespaces are host-wide, so only here.
func TestExplainClone(t *testing.T) {
	all := uintptr(AllNamespaces)
	clean := hostState{seccomp: "0", euid: 1000, sysctl: map[string]string{
		"user/max_user_namespaces": "63000", "user/max_net_namespaces": "63000",
		unprivilegedUserns: "1", apparmorUserns: "0"}}
	with := func(edit func(*hostState)) hostState {
		h := clean
		h.sysctl = map[string]string{}
		for k, v := range clean.sysctl {
			h.sysctl[k] = v
		}
		edit(&h)
		return h
	}
	cases := []struct {
		name  string
		errno syscall.Errno
		ns    uintptr
		host  hostState
		want  string
	}{
		{"old kernel", syscall.ENOSYS, all, clean, "clone3 needs Linux 5.3"},
		{"filtered clone3", syscall.ENOSYS, all, with(func(h *hostState) { h.seccomp = "2" }), "a seccomp filter confines sbx itself"},
		{"user namespaces limit 0", syscall.ENOSPC, all, with(func(h *hostState) { h.sysctl["user/max_user_namespaces"] = "0" }), "sysctl -w user.max_user_namespaces="},
		{"net namespaces limit 0", syscall.ENOSPC, all, with(func(h *hostState) { h.sysctl["user/max_net_namespaces"] = "0" }), "/proc/sys/user/max_net_namespaces is 0"},
		{"limit 0 of a namespace not asked for", syscall.ENOSPC, unix.CLONE_NEWUSER, with(func(h *hostState) { h.sysctl["user/max_net_namespaces"] = "0" }), "a limit on namespaces is reached"},
		{"limit reached", syscall.ENOSPC, all, clean, "32 nested user or pid namespaces"},
		{"Debian's sysctl", syscall.EPERM, all, with(func(h *hostState) { h.sysctl[unprivilegedUserns] = "0" }), "sysctl -w kernel.unprivileged_userns_clone=1"},
		{"Debian's sysctl, as root", syscall.EPERM, all, with(func(h *hostState) { h.euid = 0; h.sysctl[unprivilegedUserns] = "0" }), "may run in a chroot"},
		{"AppArmor", syscall.EPERM, all, with(func(h *hostState) { h.sysctl[apparmorUserns] = "1" }), "AppArmor profile that allows `userns,`"},
		{"filtered user namespace", syscall.EPERM, all, with(func(h *hostState) { h.seccomp = "2" }), "refuses new user namespaces"},
		{"filtered namespaces as root", syscall.EPERM, unix.CLONE_NEWNET, with(func(h *hostState) { h.euid = 0; h.seccomp = "2" }), "refuses new namespaces"},
		{"no CAP_SYS_ADMIN", syscall.EPERM, unix.CLONE_NEWNET, clean, "needs CAP_SYS_ADMIN"},
		{"other", syscall.ENOMEM, all, clean, "cannot allocate memory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := explainClone(tc.errno, tc.ns, tc.host)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("explainClone(%v) = %q, want it to contain %q", tc.errno, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "spawn: clone3: ") {
				t.Errorf("explainClone(%v) = %q, want it to start \"spawn: clone3: \"", tc.errno, err)
			}
		})
	}
}

// TestReadHostState reads this process's own state: its Seccomp line and
// the limit of user namespaces, which every kernel with them has.
func TestReadHostState(t *testing.T) {
	h := readHostState()
	if h.seccomp == "" {
		t.Error("no Seccomp line read from /proc/self/status")
	}
	if h.sysctl["user/max_user_namespaces"] == "" {
		t.Error("/proc/sys/user/max_user_namespaces not read")
	}
}
