package seccomp

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// matches evaluates the rules for one syscall the way the kernel filter
// does: a rule matches when all its conditions hold (the rules here never
// test one argument twice), and the syscall is allowed when any rule does.
func matches(t *testing.T, rules []specs.LinuxSyscall, args [6]uint64) bool {
	t.Helper()
	for _, r := range rules {
		ok := true
		for _, a := range r.Args {
			if a.Op != specs.OpMaskedEqual {
				t.Fatalf("rule %+v: only %s is evaluated here", r, specs.OpMaskedEqual)
			}
			ok = ok && args[a.Index]&a.Value == a.ValueTwo
		}
		if ok {
			return true
		}
	}
	return false
}

func TestAllowIoctlExcept(t *testing.T) {
	tests := []struct {
		name string
		deny []uint32
	}{
		{"TIOCSTI and TIOCLINUX", []uint32{unix.TIOCSTI, unix.TIOCLINUX}},
		{"one request", []uint32{0x5412}},
		{"high bit requests", []uint32{0x80045430, 0xc0045430}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := allowIoctlExcept(tt.deny...)
			requests := []uint64{0, 1, 0xffffffff, 0x80086601, unix.TIOCGWINSZ, unix.TCGETS}
			for _, d := range tt.deny {
				for delta := range uint64(64) {
					requests = append(requests, uint64(d)^delta, uint64(d)^(delta<<8), uint64(d)^(1<<(delta%32)))
				}
			}
			r := rand.New(rand.NewPCG(1, 2))
			for range 2000 {
				requests = append(requests, uint64(r.Uint32()))
			}
			for _, req := range requests {
				// The kernel truncates the request to 32 bits, so high
				// bits must not change the verdict.
				for _, high := range []uint64{0, 1 << 32, 0xffffffff << 32} {
					denied := slices.Contains(tt.deny, uint32(req))
					if got := matches(t, rules, [6]uint64{1: req | high}); got == denied {
						t.Errorf("ioctl(fd, %#x) allowed = %v, want %v", req|high, got, !denied)
					}
				}
			}
		})
	}
}

func TestDefaultDenies(t *testing.T) {
	mustDeny := []string{
		"keyctl", "add_key", "request_key", "bpf", "perf_event_open",
		"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
		"kexec_load", "kexec_file_load", "init_module", "finit_module",
		"delete_module", "mount", "umount", "umount2", "pivot_root", "chroot",
		"fsopen", "fsconfig", "fsmount", "move_mount", "open_tree", "fspick",
		"mount_setattr", "swapon", "swapoff", "reboot", "acct",
		"settimeofday", "stime", "clock_settime", "clock_settime64",
		"adjtimex", "clock_adjtime", "clock_adjtime64", "ptrace",
		"process_vm_readv", "process_vm_writev", "setns", "open_by_handle_at",
		"socketcall", "modify_ldt", "iopl", "ioperm", "syslog", "kcmp",
		"pidfd_getfd", "sethostname", "setdomainname", "quotactl",
	}
	for _, sc := range Default().Syscalls {
		for _, name := range sc.Names {
			if slices.Contains(mustDeny, name) {
				t.Errorf("Default() has rule %+v for %s, want none", sc, name)
			}
		}
	}
}

func TestDefaultFilteredSyscalls(t *testing.T) {
	newUser := uint64(unix.CLONE_NEWUSER)
	const addrNoRandomize, readImpliesExec = 0x0040000, 0x0400000 // linux/personality.h
	tests := []struct {
		name    string
		args    [6]uint64
		allowed bool
	}{
		{"clone", [6]uint64{unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)}, true},
		{"clone", [6]uint64{newUser | uint64(unix.SIGCHLD)}, false},
		{"unshare", [6]uint64{0}, true},
		{"unshare", [6]uint64{unix.CLONE_FS | unix.CLONE_FILES}, true},
		{"unshare", [6]uint64{newUser}, false},
		{"unshare", [6]uint64{newUser | unix.CLONE_NEWNS}, false},
		{"socket", [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}, true},
		{"socket", [6]uint64{unix.AF_INET6, unix.SOCK_DGRAM}, true},
		{"socket", [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW}, true},
		{"socket", [6]uint64{unix.AF_PACKET, unix.SOCK_RAW}, false},
		{"socket", [6]uint64{unix.AF_VSOCK, unix.SOCK_STREAM}, false},
		{"socket", [6]uint64{unix.AF_ALG, unix.SOCK_SEQPACKET}, false},
		{"personality", [6]uint64{0xffffffff}, true},
		{"personality", [6]uint64{addrNoRandomize}, false},
		{"personality", [6]uint64{readImpliesExec}, false},
	}
	rules := map[string][]specs.LinuxSyscall{}
	for _, sc := range Default().Syscalls {
		if len(sc.Args) > 0 && sc.Action == specs.ActAllow {
			rules[sc.Names[0]] = append(rules[sc.Names[0]], sc)
		}
	}
	for _, tt := range tests {
		if got := matches(t, rules[tt.name], tt.args); got != tt.allowed {
			t.Errorf("%s(%#x) allowed = %v, want %v", tt.name, tt.args[:2], got, tt.allowed)
		}
	}
}

func TestDefaultRoundTrip(t *testing.T) {
	data, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "default.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(Default() as JSON) error = %v", err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Load(Default() as JSON) differs from Default()")
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Syscalls[0].Names[0] = "changed"
	*a.DefaultErrnoRet = 99
	if b := Default(); b.Syscalls[0].Names[0] == "changed" || *b.DefaultErrnoRet != uint(unix.EPERM) {
		t.Errorf("Default() shares state with an earlier result")
	}
}
