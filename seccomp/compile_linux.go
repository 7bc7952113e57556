package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// maxInstructions is BPF_MAXINSNS, the kernel's limit on a classic-BPF
// program (include/uapi/linux/bpf_common.h).
const maxInstructions = 4096

// Filter is a compiled classic-BPF program ready for
// seccomp(SECCOMP_SET_MODE_FILTER, Flags, &unix.SockFprog{...}).
type Filter struct {
	// Program is the filter, never empty and at most 4096 instructions.
	Program []unix.SockFilter
	// Flags are the SECCOMP_FILTER_FLAG_* bits for seccomp(2): those the
	// profile names, plus NEW_LISTENER (and TSYNC_ESRCH with TSYNC) when a
	// rule uses SCMP_ACT_NOTIFY. Zero means none; TSYNC is never implied.
	Flags uint
	// ListenerPath is the profile's listenerPath when a rule uses
	// SCMP_ACT_NOTIFY; "" when there is no listener to send the fd to.
	ListenerPath string
}

// Compile turns s into BPF for the native architecture plus the
// architectures s lists. It only builds the program: nothing is loaded into
// the calling process. Errors caused by s wrap ErrInvalidProfile.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	return compile(s, libseccomp.ArchNative)
}

// compile is Compile for the machine whose architecture is native
// (libseccomp.ArchNative: this one). The generator of the precompiled
// default filters uses it to build those of other machines.
func compile(s *specs.LinuxSeccomp, native libseccomp.ScmpArch) (*Filter, error) {
	p, err := newPlan(s)
	if err != nil {
		return nil, err
	}
	prog, err := build(p, native)
	if err != nil {
		return nil, err
	}
	return &Filter{Program: prog, Flags: p.flags, ListenerPath: p.listenerPath}, nil
}

// build runs the plan through libseccomp and returns the exported program.
func build(p *plan, native libseccomp.ScmpArch) ([]unix.SockFilter, error) {
	def := scmpAction(p.defaultAction)
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("creating seccomp filter: %w", err)
	}
	defer f.Release()
	// NNP is the installer's decision (prctl before seccomp), and only
	// matters to seccomp_load, which is never called here.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("clearing no_new_privs attribute: %w", err)
	}
	// A binary search on the syscall number (libseccomp 2.5) instead of a
	// chain of comparisons: the default filter's ~1,100 instructions took
	// 1.6 ms to load and run through in the child, 0.7 ms as a tree.
	if err := f.SetOptimize(2); err != nil {
		return nil, fmt.Errorf("setting the filter's optimisation level: %w", err)
	}
	if err := setNative(f, native); err != nil {
		return nil, err
	}
	if err := addArches(f, p.arches); err != nil {
		return nil, err
	}
	for _, r := range p.rules {
		if err := addRule(f, r, def); err != nil {
			return nil, err
		}
	}
	return export(f)
}

// setNative puts arch in the place of this machine's architecture, which
// libseccomp makes the first of every filter. The program is then the one
// libseccomp builds on arch: the per-architecture blocks come in the same
// order, and libseccomp translates syscall numbers from its own
// architecture to each filter architecture by name either way (arch.c,
// arch_syscall_translate).
func setNative(f *libseccomp.ScmpFilter, arch libseccomp.ScmpArch) error {
	if arch == libseccomp.ArchNative {
		return nil
	}
	own, err := libseccomp.GetNativeArch()
	if err != nil {
		return fmt.Errorf("reading native architecture: %w", err)
	}
	if arch == own {
		return nil
	}
	if err := f.AddArch(arch); err != nil {
		return fmt.Errorf("adding architecture %s: %w", arch, err)
	}
	if err := f.RemoveArch(own); err != nil {
		return fmt.Errorf("removing architecture %s: %w", own, err)
	}
	return nil
}

func addArches(f *libseccomp.ScmpFilter, arches []specs.Arch) error {
	for i, a := range arches {
		field := fmt.Sprintf("architectures[%d]", i)
		arch, err := scmpArch(a)
		if err != nil {
			return invalid(field, err)
		}
		if err := f.AddArch(arch); err != nil {
			return invalid(field, fmt.Errorf("adding %s: %w", a, err))
		}
	}
	return nil
}

// scmpArch maps "SCMP_ARCH_X86_64" to libseccomp's token for "x86_64".
func scmpArch(a specs.Arch) (libseccomp.ScmpArch, error) {
	name := strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
	arch, err := libseccomp.GetArchFromString(name)
	if err != nil {
		return 0, fmt.Errorf("architecture %s not supported by libseccomp: %w", a, err)
	}
	return arch, nil
}

// addRule adds r for every name libseccomp knows. Rules that repeat the
// default action are skipped: libseccomp rejects them ("requested action
// matches default action of filter") and runc skips them too.
func addRule(f *libseccomp.ScmpFilter, r rule, def libseccomp.ScmpAction) error {
	act := scmpAction(r.action)
	if act == def {
		return nil
	}
	conds, err := scmpConds(r)
	if err != nil {
		return err
	}
	for _, name := range r.names {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			// Unknown to libseccomp on every architecture: a syscall of a
			// newer kernel or another platform. Profiles list those freely,
			// and runc skips them; where the rule restricts what the
			// default lets through, skipping it lets the syscall through,
			// so that is said.
			lets := func(a libseccomp.ScmpAction) bool { return a == libseccomp.ActAllow || a == libseccomp.ActLog }
			if lets(def) && !lets(act) {
				slog.Warn(fmt.Sprintf("seccomp: %s: %q is unknown to libseccomp, so this rule does not apply to it and the default action lets it through", r.field, name))
			}
			continue
		}
		if err := f.AddRuleConditional(call, act, conds); err != nil {
			return invalid(r.field, fmt.Errorf("adding rule for %q: %w", name, err))
		}
	}
	return nil
}

func scmpConds(r rule) ([]libseccomp.ScmpCondition, error) {
	conds := make([]libseccomp.ScmpCondition, 0, len(r.conds))
	for _, c := range r.conds {
		sc, err := libseccomp.MakeCondition(c.index, scmpOps[c.op], c.value, c.valueTwo)
		if err != nil {
			return nil, invalid(r.field+".args", err)
		}
		conds = append(conds, sc)
	}
	return conds, nil
}

var scmpActions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread, // SCMP_ACT_KILL is the old name
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
	specs.ActNotify:      libseccomp.ActNotify,
}

// scmpAction maps a validated action; SetReturnCode ignores the data for
// actions other than ERRNO and TRACE, where it is 0 anyway.
func scmpAction(a action) libseccomp.ScmpAction {
	return scmpActions[a.name].SetReturnCode(int16(a.data))
}

var scmpOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// export writes the program through a memfd (seccomp_export_bpf_mem needs
// libseccomp 2.6; Debian bookworm ships 2.5) and decodes it.
func export(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("sbx-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: memfd_create: %w", err)
	}
	file := os.NewFile(uintptr(fd), "memfd:sbx-seccomp-bpf")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	raw, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	return decode(raw)
}

// decode splits raw into struct sock_filter records: u16 code, u8 jt,
// u8 jf, u32 k, in native byte order (linux/filter.h).
func decode(raw []byte) ([]unix.SockFilter, error) {
	const size = 8
	n := len(raw) / size
	switch {
	case len(raw)%size != 0:
		return nil, fmt.Errorf("decoding seccomp filter: %d bytes is not a whole number of instructions", len(raw))
	case n == 0:
		return nil, errors.New("decoding seccomp filter: empty program")
	case n > maxInstructions:
		return nil, invalid("", fmt.Errorf("program has %d instructions, the kernel allows %d", n, maxInstructions))
	}
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		rec := raw[i*size : (i+1)*size]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(rec[0:2]),
			Jt:   rec[2],
			Jf:   rec[3],
			K:    binary.NativeEndian.Uint32(rec[4:8]),
		}
	}
	return prog, nil
}
