package seccomp

import (
	"encoding/binary"
	"fmt"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// A classic-BPF interpreter and disassembler for seccomp programs, so that
// tests can run a filter on any system call of any architecture without
// loading it, and generated files and failures can show what an
// instruction does.

// call is a struct seccomp_data (linux/seccomp.h): the filter's input.
type call struct {
	arch uint32 // AUDIT_ARCH_*
	nr   int32
	args [6]uint64
}

// bytes lays c out as a little-endian kernel does (every architecture
// tested here is little-endian); ip stays zero.
func (c call) bytes() []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(c.nr))
	b = binary.LittleEndian.AppendUint32(b, c.arch)
	b = binary.LittleEndian.AppendUint64(b, 0) // instruction_pointer
	for _, a := range c.args {
		b = binary.LittleEndian.AppendUint64(b, a)
	}
	return b
}

// runFilter runs prog on c and returns its verdict (SECCOMP_RET_*). It
// knows the instructions kernel/seccomp.c (seccomp_check_filter) accepts,
// except the length loads, and fails on anything a kernel would reject at
// load or run time.
func runFilter(prog []unix.SockFilter, c call) (uint32, error) {
	data := c.bytes()
	var a, x uint32
	var mem [16]uint32 // BPF_MEMWORDS
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		k := in.K
		src := k
		if in.Code&unix.BPF_X != 0 {
			src = x
		}
		switch class := in.Code & 0x07; {
		case in.Code == unix.BPF_LD|unix.BPF_W|unix.BPF_ABS:
			if k%4 != 0 || int(k)+4 > len(data) {
				return 0, fmt.Errorf("%d: load of seccomp_data[%d]", pc, k)
			}
			a = binary.LittleEndian.Uint32(data[k:])
		case in.Code == unix.BPF_LD|unix.BPF_IMM:
			a = k
		case in.Code == unix.BPF_LDX|unix.BPF_IMM:
			x = k
		case in.Code == unix.BPF_LD|unix.BPF_MEM && k < 16:
			a = mem[k]
		case in.Code == unix.BPF_LDX|unix.BPF_MEM && k < 16:
			x = mem[k]
		case in.Code == unix.BPF_ST && k < 16:
			mem[k] = a
		case in.Code == unix.BPF_STX && k < 16:
			mem[k] = x
		case in.Code == unix.BPF_MISC|unix.BPF_TAX:
			x = a
		case in.Code == unix.BPF_MISC|unix.BPF_TXA:
			a = x
		case in.Code == unix.BPF_RET|unix.BPF_K:
			return k, nil
		case in.Code == unix.BPF_RET|unix.BPF_A:
			return a, nil
		case class == unix.BPF_ALU:
			var err error
			if a, err = alu(in.Code&0xf0, a, src); err != nil {
				return 0, fmt.Errorf("%d: %w", pc, err)
			}
		case in.Code == unix.BPF_JMP|unix.BPF_JA:
			pc += int(k)
		case class == unix.BPF_JMP:
			taken, err := jump(in.Code&0xf0, a, src)
			if err != nil {
				return 0, fmt.Errorf("%d: %w", pc, err)
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			return 0, fmt.Errorf("%d: unknown instruction %+v", pc, in)
		}
	}
	return 0, fmt.Errorf("program of %d instructions ends without a return", len(prog))
}

func alu(op uint16, a, src uint32) (uint32, error) {
	switch op {
	case unix.BPF_ADD:
		return a + src, nil
	case unix.BPF_SUB:
		return a - src, nil
	case unix.BPF_MUL:
		return a * src, nil
	case unix.BPF_AND:
		return a & src, nil
	case unix.BPF_OR:
		return a | src, nil
	case unix.BPF_XOR:
		return a ^ src, nil
	case unix.BPF_LSH:
		return a << (src & 31), nil
	case unix.BPF_RSH:
		return a >> (src & 31), nil
	case unix.BPF_NEG:
		return -a, nil
	}
	return 0, fmt.Errorf("unknown ALU operation %#x", op)
}

func jump(op uint16, a, src uint32) (bool, error) {
	switch op {
	case unix.BPF_JEQ:
		return a == src, nil
	case unix.BPF_JGT:
		return a > src, nil
	case unix.BPF_JGE:
		return a >= src, nil
	case unix.BPF_JSET:
		return a&src != 0, nil
	}
	return false, fmt.Errorf("unknown jump %#x", op)
}

// verdictName spells a SECCOMP_RET_* value the way profiles do.
func verdictName(v uint32) string {
	data := v & unix.SECCOMP_RET_DATA
	switch v &^ unix.SECCOMP_RET_DATA {
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("ERRNO(%d)", data)
	case unix.SECCOMP_RET_USER_NOTIF:
		return "NOTIFY"
	case unix.SECCOMP_RET_TRACE:
		return fmt.Sprintf("TRACE(%d)", data)
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	}
	return fmt.Sprintf("%#x", v)
}

// auditArch is an AUDIT_ARCH_* value the disassembler knows.
type auditArch struct {
	name string
	arch libseccomp.ScmpArch
}

// auditArches are the architectures of the precompiled default filters.
var auditArches = map[uint32]auditArch{
	unix.AUDIT_ARCH_X86_64:  {"AUDIT_ARCH_X86_64", libseccomp.ArchAMD64},
	unix.AUDIT_ARCH_I386:    {"AUDIT_ARCH_I386", libseccomp.ArchX86},
	unix.AUDIT_ARCH_AARCH64: {"AUDIT_ARCH_AARCH64", libseccomp.ArchARM64},
	unix.AUDIT_ARCH_ARM:     {"AUDIT_ARCH_ARM", libseccomp.ArchARM},
}

// x32SyscallBit marks the system calls of the x32 ABI, which share
// AUDIT_ARCH_X86_64 with x86_64 (asm/unistd.h, __X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// disassemble describes every instruction of prog, in the style of
// "if nr == 63 (read) goto 80 else 5". To name fields and system calls
// it follows, along every path, which seccomp_data field A holds and which
// architecture's check led there; what differs between paths is left out.
func disassemble(prog []unix.SockFilter) []string {
	lines := make([]string, len(prog))
	states := make([]bpfState, len(prog)+1)
	states[0] = bpfState{field: "A", reached: true}
	for pc, in := range prog {
		s := states[pc]
		if !s.reached {
			s = bpfState{field: "A"}
		}
		var taken, notTaken bpfState
		lines[pc], taken, notTaken = describe(in, pc, s)
		switch {
		case in.Code == unix.BPF_JMP|unix.BPF_JA:
			states[min(pc+1+int(in.K), len(prog))].merge(taken)
		case in.Code&0x07 == unix.BPF_JMP:
			states[min(pc+1+int(in.Jt), len(prog))].merge(taken)
			states[min(pc+1+int(in.Jf), len(prog))].merge(notTaken)
		case in.Code&0x07 != unix.BPF_RET:
			states[pc+1].merge(taken)
		}
	}
	return lines
}

// bpfState is what the disassembler knows before an instruction: the
// seccomp_data field in A ("A" if unknown) and the AUDIT_ARCH_* value the
// arch check matched (0 if none or unknown).
type bpfState struct {
	field   string
	arch    uint32
	reached bool
}

func (s *bpfState) merge(from bpfState) {
	if !s.reached {
		*s = from
		s.reached = true
		return
	}
	if s.field != from.field {
		s.field = "A"
	}
	if s.arch != from.arch {
		s.arch = 0
	}
}

// describe returns the text of instruction in at pc and the state after
// it: after the jump is taken and after it is not (or after in, if it is
// no conditional jump).
func describe(in unix.SockFilter, pc int, s bpfState) (string, bpfState, bpfState) {
	after := s
	after.field = "A"
	switch {
	case in.Code == unix.BPF_LD|unix.BPF_W|unix.BPF_ABS:
		after.field = fieldName(in.K)
		return "A = " + after.field, after, after
	case in.Code == unix.BPF_RET|unix.BPF_K:
		return "return " + verdictName(in.K), s, s
	case in.Code == unix.BPF_JMP|unix.BPF_JA:
		return fmt.Sprintf("goto %d", pc+1+int(in.K)), s, s
	case in.Code&0x07 == unix.BPF_JMP && in.Code&unix.BPF_X == 0:
		op := map[uint16]string{unix.BPF_JEQ: "==", unix.BPF_JGT: ">", unix.BPF_JGE: ">=", unix.BPF_JSET: "&"}[in.Code&0xf0]
		if op == "" {
			break
		}
		value, taken := fmt.Sprintf("%#x", in.K), s
		switch {
		case s.field == "arch" && op == "==":
			if a, ok := auditArches[in.K]; ok {
				value, taken.arch = a.name, in.K
			}
		case s.field == "nr" && op == "==":
			value = fmt.Sprint(in.K) + syscallName(s.arch, in.K)
		}
		return fmt.Sprintf("if %s %s %s goto %d else %d", s.field, op, value, pc+1+int(in.Jt), pc+1+int(in.Jf)), taken, s
	case in.Code == unix.BPF_ALU|unix.BPF_AND|unix.BPF_K:
		return fmt.Sprintf("A &= %#x", in.K), after, after
	case in.Code == unix.BPF_ST:
		return fmt.Sprintf("M[%d] = A", in.K), s, s
	case in.Code == unix.BPF_LD|unix.BPF_MEM:
		return fmt.Sprintf("A = M[%d]", in.K), after, after
	}
	return fmt.Sprintf("code %#x jt %d jf %d k %#x", in.Code, in.Jt, in.Jf, in.K), after, after
}

// fieldName names the 32-bit word of a little-endian seccomp_data at off.
func fieldName(off uint32) string {
	switch {
	case off == 0:
		return "nr"
	case off == 4:
		return "arch"
	case off == 8 || off == 12:
		return [2]string{"ip.lo", "ip.hi"}[(off-8)/4]
	case off >= 16 && off < 64 && off%4 == 0:
		return fmt.Sprintf("args[%d].%s", (off-16)/8, [2]string{"lo", "hi"}[(off/4)%2])
	}
	return fmt.Sprintf("data[%d]", off)
}

// syscallName returns " (name)" for system call nr of the architecture
// whose AUDIT_ARCH_* value is arch, or "" when libseccomp does not know it.
func syscallName(arch uint32, nr uint32) string {
	aa, ok := auditArches[arch]
	if !ok {
		return ""
	}
	a := aa.arch
	if a == libseccomp.ArchAMD64 && nr&x32SyscallBit != 0 {
		a = libseccomp.ArchX32
	}
	name, err := libseccomp.ScmpSyscall(int32(nr)).GetNameByArch(a)
	if err != nil {
		return ""
	}
	return " (" + name + ")"
}
