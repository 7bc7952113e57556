package seccomp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func uintp(v uint) *uint { return &v }

// profile builds a profile allowing everything but the given rules.
func profile(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
}

func TestCompileErrors(t *testing.T) {
	errnoRule := func(args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"fchmod"}, Action: specs.ActErrno, Args: args}
	}
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		want    string
	}{
		{"nil", nil, "no profile"},
		{"missing default", &specs.LinuxSeccomp{}, "defaultAction: missing"},
		{"unknown default", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_DENY"}, `defaultAction: unknown action "SCMP_ACT_DENY"`},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
		{"default errno on allow", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uintp(1)},
			"defaultErrnoRet: not allowed with SCMP_ACT_ALLOW"},
		{"default errno too large", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(4095)},
			"defaultErrnoRet: 4095 out of range 0-4094"},
		{"errno too large", profile(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: uintp(4095)}),
			"syscalls[0].errnoRet: 4095 out of range 0-4094"},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_VAX"}},
			`architectures[1]: unknown architecture "SCMP_ARCH_VAX"`},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}},
			`flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{"wait killable without notify", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
			"flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a SCMP_ACT_NOTIFY rule"},
		{"metadata without listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"},
			"listenerMetadata: set without listenerPath"},
		{"no names", profile(errnoRule(), specs.LinuxSyscall{Action: specs.ActErrno}), "syscalls[1].names: empty"},
		{"empty name", profile(specs.LinuxSyscall{Names: []string{"read", ""}, Action: specs.ActErrno}), "syscalls[0].names[1]: empty name"},
		{"missing action", profile(specs.LinuxSyscall{Names: []string{"read"}}), "syscalls[0].action: missing"},
		{"unknown action", profile(errnoRule(), errnoRule(), errnoRule(), specs.LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_FOO"}),
			`syscalls[3].action: unknown action "SCMP_ACT_FOO"`},
		{"errno on kill", profile(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActKillProcess, ErrnoRet: uintp(1)}),
			"syscalls[0].errnoRet: not allowed with SCMP_ACT_KILL_PROCESS"},
		{"trace message too large", profile(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActTrace, ErrnoRet: uintp(65536)}),
			"syscalls[0].errnoRet: 65536 out of range 0-65535"},
		{"index too large", profile(errnoRule(specs.LinuxSeccompArg{Index: 6, Op: specs.OpEqualTo})),
			"syscalls[0].args[0].index: 6 out of range 0-5"},
		{"missing op", profile(errnoRule(specs.LinuxSeccompArg{Index: 1})), "syscalls[0].args[0].op: missing"},
		{"unknown op", profile(errnoRule(specs.LinuxSeccompArg{Index: 0, Op: specs.OpEqualTo}, specs.LinuxSeccompArg{Index: 1, Op: "SCMP_CMP_MASKED_NE"})),
			`syscalls[0].args[1].op: unknown operator "SCMP_CMP_MASKED_NE"`},
		{"valueTwo without mask", profile(errnoRule(specs.LinuxSeccompArg{Index: 1, Op: specs.OpEqualTo, Value: 1, ValueTwo: 2})),
			"syscalls[0].args[0].valueTwo: only used with SCMP_CMP_MASKED_EQ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.profile)
			if err == nil {
				t.Fatalf("Compile(%s) = %d instructions, want error %q", tt.name, len(f.Program), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile(%s) error = %q, want %q", tt.name, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidProfile) {
				t.Errorf("errors.Is(Compile(%s) error, ErrInvalidProfile) = false, want true", tt.name)
			}
		})
	}
}

func TestCompileDefault(t *testing.T) {
	f, err := Compile(Default())
	if err != nil {
		t.Fatalf("Compile(Default()) error = %v", err)
	}
	if n := len(f.Program); n == 0 || n > maxInstructions {
		t.Errorf("Compile(Default()) = %d instructions, want 1-%d", n, maxInstructions)
	}
	if f.Flags != 0 || f.ListenerPath != "" {
		t.Errorf("Compile(Default()) flags, listener = %#x, %q, want 0, \"\"", f.Flags, f.ListenerPath)
	}
	// The program ends in a return, as every classic-BPF program must.
	if last := f.Program[len(f.Program)-1]; last.Code&0x07 != unix.BPF_RET {
		t.Errorf("last instruction = %+v, want a BPF_RET", last)
	}
}

func TestCompileFlags(t *testing.T) {
	notify := specs.LinuxSyscall{Names: []string{"fchmod"}, Action: specs.ActNotify}
	flags := func(fs ...specs.LinuxSeccompFlag) []specs.LinuxSeccompFlag { return fs }
	tests := []struct {
		name     string
		profile  *specs.LinuxSeccomp
		flags    uint
		listener string
	}{
		{"none", profile(), 0, ""},
		{"log", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: flags(specs.LinuxSeccompFlagLog)},
			unix.SECCOMP_FILTER_FLAG_LOG, ""},
		{"spec allow and tsync", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: flags(specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC")},
			unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_TSYNC, ""},
		{"listener ignored without notify", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"}, 0, ""},
		{"notify", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{notify}},
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "/run/agent.sock"},
		{"notify with tsync", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: flags("SECCOMP_FILTER_FLAG_TSYNC"), Syscalls: []specs.LinuxSyscall{notify}},
			unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, ""},
		{"notify wait killable", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: flags(specs.LinuxSeccompFlagWaitKillableRecv), Syscalls: []specs.LinuxSyscall{notify}},
			unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.profile)
			if err != nil {
				t.Fatalf("Compile(%s) error = %v", tt.name, err)
			}
			if f.Flags != tt.flags || f.ListenerPath != tt.listener {
				t.Errorf("Compile(%s) flags, listener = %#x, %q, want %#x, %q", tt.name, f.Flags, f.ListenerPath, tt.flags, tt.listener)
			}
		})
	}
}

// TestCompileAccepts covers profiles that are valid although libseccomp
// would refuse them as they are.
func TestCompileAccepts(t *testing.T) {
	errno := func(names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActErrno}
	}
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
	}{
		{"unknown syscall names", profile(errno("no_such_syscall", "fchmod"))},
		{"syscalls of other arches", profile(errno("socketcall", "stat64", "arm_fadvise64_64"))},
		{"rule repeating the default", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{errno("fchmod"), {Names: []string{"read"}, Action: specs.ActAllow}}}},
		{"kill alias of default", &specs.LinuxSeccomp{DefaultAction: specs.ActKill,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"fchmod"}, Action: specs.ActKillThread}, {Names: []string{"read"}, Action: specs.ActAllow}}}},
		{"two conditions on one argument", profile(specs.LinuxSyscall{Names: []string{"fchown"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: 1}, {Index: 1, Op: specs.OpEqualTo, Value: 2}}})},
		{"every action", profile(
			specs.LinuxSyscall{Names: []string{"getpid"}, Action: specs.ActKill},
			specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.ActKillProcess},
			specs.LinuxSyscall{Names: []string{"gettid"}, Action: specs.ActKillThread},
			specs.LinuxSyscall{Names: []string{"getuid"}, Action: specs.ActTrap},
			specs.LinuxSyscall{Names: []string{"getgid"}, Action: specs.ActErrno, ErrnoRet: uintp(0)},
			specs.LinuxSyscall{Names: []string{"geteuid"}, Action: specs.ActTrace, ErrnoRet: uintp(7)},
			specs.LinuxSyscall{Names: []string{"getegid"}, Action: specs.ActLog},
			specs.LinuxSyscall{Names: []string{"getsid"}, Action: specs.ActNotify})},
		{"every operator", profile(specs.LinuxSyscall{Names: []string{"mmap"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
			{Index: 0, Op: specs.OpNotEqual, Value: 1}, {Index: 1, Op: specs.OpLessThan, Value: 2},
			{Index: 2, Op: specs.OpLessEqual, Value: 3}, {Index: 3, Op: specs.OpEqualTo, Value: 4},
			{Index: 4, Op: specs.OpGreaterEqual, Value: 5}, {Index: 5, Op: specs.OpGreaterThan, Value: 6},
		}}, specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
			{Index: 1, Op: specs.OpMaskedEqual, Value: 0xff, ValueTwo: 0x12}}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compile(tt.profile); err != nil {
				t.Errorf("Compile(%s) error = %v, want nil", tt.name, err)
			}
		})
	}
}

func TestCompileArches(t *testing.T) {
	for arch := range knownArches {
		t.Run(string(arch), func(t *testing.T) {
			if _, err := scmpArch(arch); err != nil {
				t.Errorf("scmpArch(%s) error = %v", arch, err)
			}
		})
	}
	// Names libseccomp also accepts must not slip through validation.
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"amd64"}})
	if want := `architectures[0]: unknown architecture "amd64"`; err == nil || err.Error() != want {
		t.Errorf("Compile(arch amd64) error = %v, want %q", err, want)
	}
}

// TestTablesAgree checks that validation and libseccomp know the same names.
func TestTablesAgree(t *testing.T) {
	if got, want := slices.Sorted(maps.Keys(scmpActions)), slices.Sorted(maps.Keys(actionData)); !slices.Equal(got, want) {
		t.Errorf("scmpActions = %v, actionData = %v, want the same actions", got, want)
	}
	if got, want := slices.Sorted(maps.Keys(scmpOps)), slices.Sorted(maps.Keys(knownOps)); !slices.Equal(got, want) {
		t.Errorf("scmpOps = %v, knownOps = %v, want the same operators", got, want)
	}
	want := map[specs.LinuxSeccompFlag]uint{
		"SECCOMP_FILTER_FLAG_TSYNC":            unix.SECCOMP_FILTER_FLAG_TSYNC,
		specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
		specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
		specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
	}
	if !maps.Equal(filterFlags, want) {
		t.Errorf("filterFlags = %v, want %v", filterFlags, want)
	}
	if flagNewListener != unix.SECCOMP_FILTER_FLAG_NEW_LISTENER || flagTSYNCESRCH != unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH {
		t.Errorf("flagNewListener, flagTSYNCESRCH = %#x, %#x, want the kernel's", flagNewListener, flagTSYNCESRCH)
	}
}

func TestDecode(t *testing.T) {
	// BPF_RET|BPF_K, jt, jf, SECCOMP_RET_ALLOW
	ret := append(binary.NativeEndian.AppendUint16(nil, unix.BPF_RET|unix.BPF_K), 0, 0)
	ret = binary.NativeEndian.AppendUint32(ret, unix.SECCOMP_RET_ALLOW)
	tests := []struct {
		name string
		raw  []byte
		want string // error; "" for success
	}{
		{"one instruction", ret, ""},
		{"empty", nil, "decoding seccomp filter: empty program"},
		{"partial", ret[:5], "decoding seccomp filter: 5 bytes is not a whole number of instructions"},
		{"too long", make([]byte, 8*(maxInstructions+1)), "program has 4097 instructions, the kernel allows 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := decode(tt.raw)
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Errorf("decode(%s) error = %v, want %q", tt.name, err, tt.want)
				}
				return
			}
			if err != nil || len(prog) != 1 || prog[0].Code != unix.BPF_RET|unix.BPF_K {
				t.Errorf("decode(%s) = %+v, %v, want one BPF_RET|BPF_K", tt.name, prog, err)
			}
		})
	}
}

// TestLibseccompRefusals documents the libseccomp behaviour the plan works
// around; if it changes, the workarounds may go.
func TestLibseccompRefusals(t *testing.T) {
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	call, _ := libseccomp.GetSyscallFromName("fchown")
	err = f.AddRule(call, libseccomp.ActErrno.SetReturnCode(1))
	if err == nil || !strings.Contains(err.Error(), "default action") {
		t.Errorf("AddRule(action = default) error = %v, want a refusal", err)
	}
	c1, _ := libseccomp.MakeCondition(1, libseccomp.CompareEqual, 1)
	c2, _ := libseccomp.MakeCondition(1, libseccomp.CompareEqual, 2)
	if err := f.AddRuleConditional(call, libseccomp.ActAllow, []libseccomp.ScmpCondition{c1, c2}); err == nil {
		t.Errorf("AddRuleConditional(two conditions on one argument) error = nil, want a refusal")
	}
}

// x86_64 numbers of the system calls the verdict tests use
// (x/sys/unix zsysnum_linux_amd64.go).
const (
	nrRead    = 0
	nrFchmod  = 91
	nrFchown  = 93
	nrGetpid  = 39
	nrGetuid  = 102
	nrGetgid  = 104
	nrGeteuid = 107
	nrGetegid = 108
	nrGetppid = 110
	nrGetsid  = 124
	nrGettid  = 186
)

func x86_64Call(nr int32, args ...uint64) call {
	c := call{arch: unix.AUDIT_ARCH_X86_64, nr: nr}
	copy(c.args[:], args)
	return c
}

// compileX86_64 compiles s as Compile does on an x86_64 machine, whatever
// this one is, so that the verdict tests can use x86_64 numbers.
func compileX86_64(t *testing.T, s *specs.LinuxSeccomp) *Filter {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("libseccomp builds filters only for architectures of this machine's byte order; the verdict tests use x86_64")
	}
	f, err := compile(s, libseccomp.ArchAMD64)
	if err != nil {
		t.Fatalf("compile(%+v) error = %v", s, err)
	}
	return f
}

func checkVerdicts(t *testing.T, f *Filter, tests []verdictTest) {
	t.Helper()
	for _, tt := range tests {
		got, err := runFilter(f.Program, tt.call)
		if err != nil {
			t.Fatalf("running the filter on %s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("filter on %s (nr %#x, args %#x) = %s, want %s", tt.name, tt.call.nr, tt.call.args, verdictName(got), verdictName(tt.want))
		}
	}
}

func errnoVerdict(errno uint32) uint32 { return unix.SECCOMP_RET_ERRNO | errno }

// TestCompileVerdicts runs compiled programs, checking the OCI semantics
// of actions, errnoRet, conditions and architectures.
func TestCompileVerdicts(t *testing.T) {
	exdev, edom := uint32(unix.EXDEV), uint32(unix.EDOM)
	eperm := errnoVerdict(uint32(unix.EPERM))
	rule := func(name string, act specs.LinuxSeccompAction, errnoRet *uint, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{name}, Action: act, ErrnoRet: errnoRet, Args: args}
	}
	eq := func(index uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: index, Op: specs.OpEqualTo, Value: v}
	}
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		calls   []verdictTest
	}{
		{"every action", profile(
			rule("getpid", specs.ActKill, nil),
			rule("getppid", specs.ActKillProcess, nil),
			rule("gettid", specs.ActKillThread, nil),
			rule("getuid", specs.ActTrap, nil),
			rule("getgid", specs.ActErrno, nil),
			rule("geteuid", specs.ActTrace, uintp(7)),
			rule("getegid", specs.ActLog, nil),
			rule("getsid", specs.ActNotify, nil)), []verdictTest{
			{"SCMP_ACT_KILL", x86_64Call(nrGetpid), unix.SECCOMP_RET_KILL_THREAD},
			{"SCMP_ACT_KILL_PROCESS", x86_64Call(nrGetppid), unix.SECCOMP_RET_KILL_PROCESS},
			{"SCMP_ACT_KILL_THREAD", x86_64Call(nrGettid), unix.SECCOMP_RET_KILL_THREAD},
			{"SCMP_ACT_TRAP", x86_64Call(nrGetuid), unix.SECCOMP_RET_TRAP},
			{"SCMP_ACT_ERRNO", x86_64Call(nrGetgid), eperm},
			{"SCMP_ACT_TRACE", x86_64Call(nrGeteuid), unix.SECCOMP_RET_TRACE | 7},
			{"SCMP_ACT_LOG", x86_64Call(nrGetegid), unix.SECCOMP_RET_LOG},
			{"SCMP_ACT_NOTIFY", x86_64Call(nrGetsid), unix.SECCOMP_RET_USER_NOTIF},
			{"default SCMP_ACT_ALLOW", x86_64Call(nrRead), unix.SECCOMP_RET_ALLOW},
		}},
		{"errnoRet", profile(
			rule("fchmod", specs.ActErrno, uintp(uint(exdev))),
			rule("fchown", specs.ActErrno, uintp(0)),
			rule("getpid", specs.ActErrno, uintp(maxErrno)),
			rule("getppid", specs.ActTrace, nil),
			rule("gettid", specs.ActTrace, uintp(0xffff))), []verdictTest{
			{"errnoRet EXDEV", x86_64Call(nrFchmod), errnoVerdict(exdev)},
			{"errnoRet 0", x86_64Call(nrFchown), errnoVerdict(0)},
			{"errnoRet 4094", x86_64Call(nrGetpid), errnoVerdict(maxErrno)},
			{"SCMP_ACT_TRACE without errnoRet", x86_64Call(nrGetppid), unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
			{"SCMP_ACT_TRACE errnoRet 0xffff", x86_64Call(nrGettid), unix.SECCOMP_RET_TRACE | 0xffff},
		}},
		{"defaultErrnoRet", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(uint(edom)),
			Syscalls: []specs.LinuxSyscall{rule("read", specs.ActAllow, nil), rule("fchmod", specs.ActErrno, nil)}}, []verdictTest{
			{"listed", x86_64Call(nrRead), unix.SECCOMP_RET_ALLOW},
			{"unlisted", x86_64Call(nrGetpid), errnoVerdict(edom)},
			{"rule without errnoRet", x86_64Call(nrFchmod), eperm},
		}},
		{"default SCMP_ACT_ERRNO without defaultErrnoRet", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{rule("read", specs.ActAllow, nil), rule("fchmod", specs.ActErrno, uintp(1))}}, []verdictTest{
			{"unlisted", x86_64Call(nrGetpid), eperm},
			{"rule repeating the default", x86_64Call(nrFchmod), eperm},
		}},
		{"SCMP_ACT_KILL default", &specs.LinuxSeccomp{DefaultAction: specs.ActKill,
			Syscalls: []specs.LinuxSyscall{rule("read", specs.ActAllow, nil), rule("fchmod", specs.ActKillThread, nil)}}, []verdictTest{
			{"unlisted", x86_64Call(nrGetpid), unix.SECCOMP_RET_KILL_THREAD},
			{"rule repeating the default", x86_64Call(nrFchmod), unix.SECCOMP_RET_KILL_THREAD},
			{"listed", x86_64Call(nrRead), unix.SECCOMP_RET_ALLOW},
		}},
		{"unknown names", profile(specs.LinuxSyscall{Names: []string{"no_such_syscall", "fchmod", "socketcall"}, Action: specs.ActErrno}), []verdictTest{
			{"known name of the same rule", x86_64Call(nrFchmod), eperm},
			{"other", x86_64Call(nrRead), unix.SECCOMP_RET_ALLOW},
		}},
		{"conditions on several arguments are ANDed", profile(rule("fchown", specs.ActErrno, uintp(uint(exdev)), eq(1, 4242), eq(2, 4343))), []verdictTest{
			{"both", x86_64Call(nrFchown, 3, 4242, 4343), errnoVerdict(exdev)},
			{"first", x86_64Call(nrFchown, 3, 4242, 1), unix.SECCOMP_RET_ALLOW},
			{"second", x86_64Call(nrFchown, 3, 1, 4343), unix.SECCOMP_RET_ALLOW},
			{"high bits", x86_64Call(nrFchown, 3, 4242|1<<32, 4343), unix.SECCOMP_RET_ALLOW},
		}},
		{"conditions on one argument are ORed", profile(rule("fchown", specs.ActErrno, nil, eq(1, 4242), eq(1, 4343), eq(2, 7))), []verdictTest{
			{"first", x86_64Call(nrFchown, 3, 4242), eperm},
			{"second", x86_64Call(nrFchown, 3, 4343), eperm},
			{"third", x86_64Call(nrFchown, 3, 1, 7), eperm},
			{"none", x86_64Call(nrFchown, 3, 1, 1), unix.SECCOMP_RET_ALLOW},
		}},
		{"several rules for one syscall", profile(rule("fchmod", specs.ActErrno, uintp(uint(exdev)), eq(1, 0o4755)),
			rule("fchmod", specs.ActErrno, uintp(uint(edom)), eq(1, 0o2755))), []verdictTest{
			{"first", x86_64Call(nrFchmod, 3, 0o4755), errnoVerdict(exdev)},
			{"second", x86_64Call(nrFchmod, 3, 0o2755), errnoVerdict(edom)},
			{"neither", x86_64Call(nrFchmod, 3, 0o755), unix.SECCOMP_RET_ALLOW},
		}},
		{"native architecture only", profile(rule("read", specs.ActErrno, nil)), []verdictTest{
			{"x86_64", x86_64Call(nrRead), eperm},
			{"x32", x86_64Call(x32SyscallBit + nrRead), unix.SECCOMP_RET_KILL_THREAD},
			{"i386", call{arch: unix.AUDIT_ARCH_I386, nr: 3}, unix.SECCOMP_RET_KILL_THREAD},
		}},
		{"architectures", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{rule("read", specs.ActErrno, nil), rule("socketcall", specs.ActErrno, uintp(uint(exdev)))}}, []verdictTest{
			{"x86_64", x86_64Call(nrRead), eperm},
			{"x32", x86_64Call(x32SyscallBit + nrRead), eperm},
			{"i386", call{arch: unix.AUDIT_ARCH_I386, nr: 3}, eperm},
			{"i386 socketcall", call{arch: unix.AUDIT_ARCH_I386, nr: 102}, errnoVerdict(exdev)},
			{"i386 other", call{arch: unix.AUDIT_ARCH_I386, nr: 20}, unix.SECCOMP_RET_ALLOW},
			{"aarch64", call{arch: unix.AUDIT_ARCH_AARCH64, nr: 63}, unix.SECCOMP_RET_KILL_THREAD},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkVerdicts(t, compileX86_64(t, tt.profile), tt.calls)
		})
	}
}

// TestCompileOperators checks every operator on 64-bit values whose
// halves decide differently.
func TestCompileOperators(t *testing.T) {
	const v = 0x1_0000_0005
	const mask, masked = 0xff00_0000_0000_ff00, 0x1200_0000_0000_3400
	ops := []struct {
		op              specs.LinuxSeccompOperator
		value, valueTwo uint64
		holds           func(arg uint64) bool
	}{
		{specs.OpNotEqual, v, 0, func(a uint64) bool { return a != v }},
		{specs.OpLessThan, v, 0, func(a uint64) bool { return a < v }},
		{specs.OpLessEqual, v, 0, func(a uint64) bool { return a <= v }},
		{specs.OpEqualTo, v, 0, func(a uint64) bool { return a == v }},
		{specs.OpGreaterEqual, v, 0, func(a uint64) bool { return a >= v }},
		{specs.OpGreaterThan, v, 0, func(a uint64) bool { return a > v }},
		{specs.OpMaskedEqual, mask, masked, func(a uint64) bool { return a&mask == masked }},
	}
	args := []uint64{0, 4, 5, 6, 0xffff_ffff, v - 1, v, v + 1, 0x2_0000_0004, 0x2_0000_0005, 0x2_0000_0006,
		^uint64(0), masked, masked | 0x00ab_cdef_1234_00ff, masked ^ 1<<56, masked ^ 1<<8, masked ^ 1<<15}
	for _, o := range ops {
		t.Run(string(o.op), func(t *testing.T) {
			f := compileX86_64(t, profile(specs.LinuxSyscall{Names: []string{"fchown"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 2, Op: o.op, Value: o.value, ValueTwo: o.valueTwo}}}))
			var tests []verdictTest
			for _, a := range args {
				want := uint32(unix.SECCOMP_RET_ALLOW)
				if o.holds(a) {
					want = errnoVerdict(uint32(unix.EPERM))
				}
				tests = append(tests, verdictTest{fmt.Sprintf("fchown(3, 0, %#x)", a), x86_64Call(nrFchown, 3, 0, a), want})
			}
			checkVerdicts(t, f, tests)
		})
	}
}

// TestCompileWarnsUnknownRestricted: a name libseccomp does not know is
// skipped, as runc skips it, but a rule that restricts (a deny in an
// allow-by-default profile) is weakened by that, so it is warned of; an
// allow rule for it is not.
func TestCompileWarnsUnknownRestricted(t *testing.T) {
	var log bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	if _, err := Compile(profile(specs.LinuxSyscall{Names: []string{"no_such_syscall", "fchmod"}, Action: specs.ActErrno})); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `syscalls[0]: \"no_such_syscall\" is unknown to libseccomp`) {
		t.Errorf("log after a deny rule naming an unknown syscall = %q, want a warning naming it", log.String())
	}
	// An allow rule, or a rule as restrictive in effect as a denying
	// default (podman's errno 1 under errno 38), loses nothing.
	for _, p := range []*specs.LinuxSeccomp{
		{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_syscall", "read"}, Action: specs.ActAllow}}},
		{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_syscall", "read"}, Action: specs.ActErrno, ErrnoRet: uintp(1)}}},
	} {
		log.Reset()
		if _, err := Compile(p); err != nil {
			t.Fatal(err)
		}
		if log.Len() != 0 {
			t.Errorf("log after %+v = %q, want nothing", p.Syscalls[0], log.String())
		}
	}
}
