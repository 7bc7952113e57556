package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDefaultFilter proves that the precompiled filter is the default
// profile: it must be what libseccomp on this machine compiles from
// Default(), instruction for instruction.
func TestDefaultFilter(t *testing.T) {
	if defaultProgram == nil {
		t.Logf("no precompiled filter for %s: DefaultFilter compiles Default()", runtime.GOARCH)
	}
	got, err := DefaultFilter()
	if err != nil {
		t.Fatalf("DefaultFilter() error = %v", err)
	}
	want, err := Compile(Default())
	if err != nil {
		t.Fatalf("Compile(Default()) error = %v", err)
	}
	const regenerate = "the profile, the compiler or libseccomp (%s here) changed since default_linux_%s.go was generated: run go generate ./seccomp"
	if pc, diff := programDifference(got.Program, want.Program); diff != "" {
		t.Errorf("DefaultFilter() differs from Compile(Default()) at instruction %d: %s;\n"+regenerate,
			pc, diff, libseccompVersion(), runtime.GOARCH)
	}
	if got.Flags != want.Flags || got.ListenerPath != want.ListenerPath {
		t.Errorf("DefaultFilter() flags, listener = %#x, %q, want %#x, %q;\n"+regenerate,
			got.Flags, got.ListenerPath, want.Flags, want.ListenerPath, libseccompVersion(), runtime.GOARCH)
	}
}

// programDifference returns the first instruction at which got and want
// differ and how, or "" if they are equal.
func programDifference(got, want []unix.SockFilter) (int, string) {
	gl, wl := disassemble(got), disassemble(want)
	for pc := range min(len(got), len(want)) {
		if got[pc] != want[pc] {
			return pc, fmt.Sprintf("%+v (%s), want %+v (%s)", got[pc], gl[pc], want[pc], wl[pc])
		}
	}
	if len(got) != len(want) {
		return min(len(got), len(want)), fmt.Sprintf("%d instructions, want %d", len(got), len(want))
	}
	return 0, ""
}

func TestDefaultFilterIsFresh(t *testing.T) {
	a, err := DefaultFilter()
	if err != nil {
		t.Fatal(err)
	}
	first := a.Program[0]
	a.Program[0] = unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}
	b, err := DefaultFilter()
	if err != nil {
		t.Fatal(err)
	}
	if b.Program[0] != first {
		t.Errorf("DefaultFilter().Program[0] = %+v after a caller changed it, want %+v", b.Program[0], first)
	}
}

// verdictTest is one system call and the verdict the default filter must
// return for it. Numbers are the kernel's (x/sys/unix zsysnum_linux_*.go,
// arch/x86/entry/syscalls/syscall_64.tbl for x32), not libseccomp's.
type verdictTest struct {
	name string
	call call
	want uint32
}

var (
	allowed = uint32(unix.SECCOMP_RET_ALLOW)
	eperm   = uint32(unix.SECCOMP_RET_ERRNO | unix.EPERM)
	enosys  = uint32(unix.SECCOMP_RET_ERRNO | unix.ENOSYS)
	killed  = uint32(unix.SECCOMP_RET_KILL_THREAD) // libseccomp's action for other ABIs
)

// systemCalls are the numbers of the system calls the verdict tests make.
type systemCalls struct {
	read, getpid, keyctl, bpf, ptrace, mount, unshare, clone, clone3,
	ioctl, socket, personality int32
}

// defaultVerdicts returns what the default filter must decide on arch,
// whose system calls are nr, and whether arguments have 64 bits.
func defaultVerdicts(arch uint32, nr systemCalls, wide bool) []verdictTest {
	c := func(n int32, args ...uint64) call {
		var a [6]uint64
		copy(a[:], args)
		return call{arch: arch, nr: n, args: a}
	}
	newUser := uint64(unix.CLONE_NEWUSER)
	tests := []verdictTest{
		{"read", c(nr.read, 0, 0, 1), allowed},
		{"getpid", c(nr.getpid), allowed},
		{"keyctl", c(nr.keyctl), eperm},
		{"bpf", c(nr.bpf), eperm},
		{"ptrace", c(nr.ptrace), eperm},
		{"mount", c(nr.mount), eperm},
		{"unshare(0)", c(nr.unshare, 0), allowed},
		{"unshare(CLONE_FS)", c(nr.unshare, unix.CLONE_FS), allowed},
		{"unshare(CLONE_NEWUSER)", c(nr.unshare, newUser), eperm},
		{"unshare(CLONE_NEWUSER|CLONE_NEWNS)", c(nr.unshare, newUser|unix.CLONE_NEWNS), eperm},
		{"clone(SIGCHLD)", c(nr.clone, uint64(unix.SIGCHLD)), allowed},
		{"clone(CLONE_NEWUSER)", c(nr.clone, newUser|uint64(unix.SIGCHLD)), eperm},
		{"clone3", c(nr.clone3), enosys},
		{"ioctl(TIOCGWINSZ)", c(nr.ioctl, 1, unix.TIOCGWINSZ), allowed},
		{"ioctl(TIOCSTI)", c(nr.ioctl, 1, unix.TIOCSTI), eperm},
		{"ioctl(TIOCLINUX)", c(nr.ioctl, 1, unix.TIOCLINUX), eperm},
		{"socket(AF_UNIX)", c(nr.socket, unix.AF_UNIX), allowed},
		{"socket(AF_INET6)", c(nr.socket, unix.AF_INET6), allowed},
		{"socket(AF_PACKET)", c(nr.socket, unix.AF_PACKET), eperm},
		{"personality(0xffffffff)", c(nr.personality, 0xffffffff), allowed},
		{"personality(ADDR_NO_RANDOMIZE)", c(nr.personality, 0x0040000), eperm},
	}
	if wide {
		tests = append(tests,
			verdictTest{"ioctl(TIOCSTI|1<<32)", c(nr.ioctl, 1, unix.TIOCSTI|1<<32), eperm},
			verdictTest{"ioctl(TIOCGWINSZ|1<<32)", c(nr.ioctl, 1, unix.TIOCGWINSZ|1<<32), allowed},
			verdictTest{"socket(AF_UNIX|1<<32)", c(nr.socket, unix.AF_UNIX|1<<32), allowed})
	}
	return tests
}

var (
	x86_64Calls = systemCalls{read: 0, getpid: 39, keyctl: 250, bpf: 321, ptrace: 101, mount: 165,
		unshare: 272, clone: 56, clone3: 435, ioctl: 16, socket: 41, personality: 135}
	// x32 numbers are x86_64's plus the x32 bit, except for the calls
	// whose arguments differ: ioctl and ptrace among those tested.
	x32Calls = systemCalls{read: x32SyscallBit + 0, getpid: x32SyscallBit + 39, keyctl: x32SyscallBit + 250,
		bpf: x32SyscallBit + 321, ptrace: x32SyscallBit + 521, mount: x32SyscallBit + 165,
		unshare: x32SyscallBit + 272, clone: x32SyscallBit + 56, clone3: x32SyscallBit + 435,
		ioctl: x32SyscallBit + 514, socket: x32SyscallBit + 41, personality: x32SyscallBit + 135}
	i386Calls = systemCalls{read: 3, getpid: 20, keyctl: 288, bpf: 357, ptrace: 26, mount: 21,
		unshare: 310, clone: 120, clone3: 435, ioctl: 54, socket: 359, personality: 136}
	aarch64Calls = systemCalls{read: 63, getpid: 172, keyctl: 219, bpf: 280, ptrace: 117, mount: 40,
		unshare: 97, clone: 220, clone3: 435, ioctl: 29, socket: 198, personality: 92}
	armCalls = systemCalls{read: 3, getpid: 20, keyctl: 311, bpf: 386, ptrace: 26, mount: 21,
		unshare: 337, clone: 120, clone3: 435, ioctl: 54, socket: 281, personality: 136}
)

// precompiledVerdicts are the verdict tests of each precompiled filter.
var precompiledVerdicts = map[string]func() []verdictTest{
	"amd64": func() []verdictTest {
		tests := defaultVerdicts(unix.AUDIT_ARCH_X86_64, x86_64Calls, true)
		tests = append(tests, defaultVerdicts(unix.AUDIT_ARCH_X86_64, x32Calls, true)...)
		tests = append(tests, defaultVerdicts(unix.AUDIT_ARCH_I386, i386Calls, false)...)
		return append(tests,
			verdictTest{"i386 socketcall", call{arch: unix.AUDIT_ARCH_I386, nr: 102}, eperm},
			verdictTest{"i386 mmap2", call{arch: unix.AUDIT_ARCH_I386, nr: 192}, allowed},
			verdictTest{"aarch64 read", call{arch: unix.AUDIT_ARCH_AARCH64, nr: 63}, killed})
	},
	"arm64": func() []verdictTest {
		tests := defaultVerdicts(unix.AUDIT_ARCH_AARCH64, aarch64Calls, true)
		tests = append(tests, defaultVerdicts(unix.AUDIT_ARCH_ARM, armCalls, false)...)
		return append(tests,
			verdictTest{"arm mmap2", call{arch: unix.AUDIT_ARCH_ARM, nr: 192}, allowed},
			verdictTest{"x86_64 read", call{arch: unix.AUDIT_ARCH_X86_64, nr: 0}, killed})
	},
}

// TestDefaultFilterVerdicts runs every precompiled filter, as the
// generator builds it here (TestGeneratedFiles checks that this is the
// committed program), on system calls of each of its architectures.
func TestDefaultFilterVerdicts(t *testing.T) {
	if !slices.Contains(precompiled, runtime.GOARCH) {
		t.Skipf("the generator runs only on %v", precompiled)
	}
	for _, goarch := range precompiled {
		t.Run(goarch, func(t *testing.T) {
			f, err := precompiledFilter(goarch)
			if err != nil {
				t.Fatal(err)
			}
			if goarch == runtime.GOARCH {
				if f, err = DefaultFilter(); err != nil {
					t.Fatal(err)
				}
			}
			tests := precompiledVerdicts[goarch]()
			for _, tt := range tests {
				got, err := runFilter(f.Program, tt.call)
				if err != nil {
					t.Fatalf("running the %s default filter on %s: %v", goarch, tt.name, err)
				}
				if got != tt.want {
					t.Errorf("%s default filter: %s %s (nr %d) = %s, want %s", goarch, auditArches[tt.call.arch].name, tt.name,
						tt.call.nr, verdictName(got), verdictName(tt.want))
				}
			}
		})
	}
}

func BenchmarkDefaultFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DefaultFilter(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(Default()); err != nil {
			b.Fatal(err)
		}
	}
}
