package spawn

import (
	"encoding/binary"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A plan is the flat list of system calls the child makes between clone and
// exec, built here in pure Go and executed by clone_linux.c, which decides
// nothing (STYLE.md rule 8). Strings and structs the calls point to live in
// an arena laid out after the ops; encode turns arena offsets into addresses
// once the plan's final (C) memory is known.
type plan struct {
	ops    []op
	arena  []byte
	relocs []int  // arena offsets holding arena offsets to relocate (argv, envp)
	steps  []step // steps[op.step] describes the op for error messages
	errfd  int

	// Set by told: the arena offsets of the message tables (see struct
	// sbx_plan).
	told          bool
	msgs, errmsgs int
}

// arg is one system call argument: a literal, an arena offset or a slot.
type arg struct {
	v    uint64
	kind uint8
}

const (
	argLit  = iota
	argPtr  // v is an arena offset
	argSlot // v is the slot holding the result of an earlier op (a Program's FD)
)

// op mirrors struct sbx_op. ptrMask marks args that are arena offsets.
type op struct {
	nr        int64
	args      [6]uint64
	wantValue int64
	slotIn    uint32
	step      int32
	kind      uint8
	want      uint8
	slotOut   uint8
	ptrMask   uint8
	skip      uint32
}

// The values of clone_linux.h's enums.
const (
	opCall  = 0
	opSoft  = 1
	opFail  = 2
	opErrfd = 3
	opIf    = 4
	opStore = 5
	opJump  = 6

	wantZero   = 0
	wantNonneg = 1
	wantEq     = 2
	wantAny    = 3

	msgError = 1
	msgReady = 2
	msgPause = 3 // the child waits at a Program's Pause (Go only: C just writes it)
)

func lit[T ~int | ~int32 | ~uint | ~uint32 | ~uint64 | ~uintptr](v T) arg { return arg{v: uint64(v)} }

// newStep records a description and returns its index for the next ops.
func (p *plan) newStep(opName, path string) int32 {
	p.steps = append(p.steps, step{opName, path})
	return int32(len(p.steps) - 1)
}

// call appends a system call that must return 0.
func (p *plan) call(st int32, nr uintptr, args ...arg) *op {
	o := op{nr: int64(nr), step: st, kind: opCall, want: wantZero}
	for i, a := range args {
		switch a.kind {
		case argPtr:
			o.ptrMask |= 1 << i
			o.args[i] = a.v
		case argSlot:
			o.slotIn |= uint32(a.v+1) << (4 * i)
		default:
			o.args[i] = a.v
		}
	}
	p.ops = append(p.ops, o)
	return &p.ops[len(p.ops)-1]
}

// callEq appends a system call that must return exactly v.
func (p *plan) callEq(st int32, v int64, nr uintptr, args ...arg) {
	o := p.call(st, nr, args...)
	o.want, o.wantValue = wantEq, v
}

// bytes copies b into the arena, 8-byte aligned.
func (p *plan) bytes(b []byte) arg {
	for len(p.arena)%8 != 0 {
		p.arena = append(p.arena, 0)
	}
	off := len(p.arena)
	p.arena = append(p.arena, b...)
	return arg{v: uint64(off), kind: argPtr}
}

// str copies s into the arena as a NUL-terminated C string.
func (p *plan) str(s string) arg { return p.bytes(append([]byte(s), 0)) }

// strv builds a NULL-terminated array of C strings (argv, envp).
func (p *plan) strv(ss []string) arg {
	ptrs := make([]arg, len(ss))
	for i, s := range ss {
		ptrs[i] = p.str(s)
	}
	arr := p.bytes(make([]byte, 8*(len(ss)+1)))
	for i, a := range ptrs {
		off := int(arr.v) + 8*i
		binary.LittleEndian.PutUint64(p.arena[off:], a.v)
		p.relocs = append(p.relocs, off)
	}
	return arr
}

// tell makes every step from the first on tell its failure on the child's
// fd 2 too, as "spawn: capset: operation not permitted": for the steps
// after a gate, whose failures nobody reads from the error pipe.
func (p *plan) tell(first int32) {
	msgs := make([]arg, len(p.steps))
	for i := first; int(i) < len(p.steps); i++ {
		msgs[i] = p.str(errorPrefix(p.steps[i].op, p.steps[i].path))
	}
	errs := make([]arg, maxErrno)
	for e := 1; e < maxErrno; e++ {
		errs[e] = p.str(unix.Errno(e).Error())
	}
	p.msgs, p.errmsgs, p.told = p.ptrArray(msgs, first), p.ptrArray(errs, 1), true
}

// ptrArray lays out an array of pointers to the arena strings ss, NULL
// below index from.
func (p *plan) ptrArray(ss []arg, from int32) int {
	arr := p.bytes(make([]byte, 8*len(ss)))
	for i := from; int(i) < len(ss); i++ {
		off := int(arr.v) + 8*int(i)
		binary.LittleEndian.PutUint64(p.arena[off:], ss[i].v)
		p.relocs = append(p.relocs, off)
	}
	return int(arr.v)
}

// maxErrno bounds the errno texts a plan carries (Linux's highest is 133).
const maxErrno = 134

// Wire layout: sbx_plan header, then the ops, then the arena.
const (
	headerSize = 48
	opSize     = 80
)

func (p *plan) size() int { return headerSize + opSize*len(p.ops) + len(p.arena) }

// encode lays the plan out for execution at address base.
func (p *plan) encode(base uintptr, failcode int) []byte {
	buf := make([]byte, p.size())
	le := binary.LittleEndian
	arenaBase := uint64(base) + uint64(headerSize+opSize*len(p.ops))
	le.PutUint32(buf[0:], uint32(int32(p.errfd)))
	le.PutUint32(buf[4:], uint32(int32(failcode)))
	le.PutUint32(buf[8:], uint32(len(p.ops)))
	le.PutUint64(buf[16:], uint64(base)+headerSize)
	if p.told {
		le.PutUint32(buf[12:], uint32(len(p.steps)))
		le.PutUint64(buf[24:], arenaBase+uint64(p.msgs))
		le.PutUint64(buf[32:], arenaBase+uint64(p.errmsgs))
		le.PutUint32(buf[40:], maxErrno)
	}
	for i, o := range p.ops {
		b := buf[headerSize+opSize*i:]
		le.PutUint64(b[0:], uint64(o.nr))
		for j, a := range o.args {
			if o.ptrMask&(1<<j) != 0 {
				a += arenaBase
			}
			le.PutUint64(b[8+8*j:], a)
		}
		le.PutUint64(b[56:], uint64(o.wantValue))
		le.PutUint32(b[64:], o.slotIn)
		le.PutUint32(b[68:], uint32(o.step))
		b[72], b[73], b[74] = o.kind, o.want, o.slotOut
		le.PutUint32(b[76:], o.skip)
	}
	arena := buf[headerSize+opSize*len(p.ops):]
	copy(arena, p.arena)
	for _, off := range p.relocs {
		le.PutUint64(arena[off:], le.Uint64(arena[off:])+arenaBase)
	}
	return buf
}

// program appends a Program's calls. Its FDs are the plan's slots; its
// Bytes go to the arena.
func (p *plan) program(prog *Program, pause func(st int32), fdOf map[*os.File]int) {
	named := map[step]int32{}
	placed := map[*blob]arg{}
	var place func(b *blob) arg
	place = func(b *blob) arg {
		if a, ok := placed[b]; ok {
			return a
		}
		a := p.bytes(b.b)
		placed[b] = a
		for _, ptr := range b.ptrs {
			to := place(ptr.to)
			off := int(a.v) + ptr.off
			binary.LittleEndian.PutUint64(p.arena[off:], to.v)
			p.relocs = append(p.relocs, off)
		}
		return a
	}
	// A call may become several ops (a Pause), so the skips of if blocks,
	// counted in calls, are turned into ops once all are placed.
	first := make([]int, len(prog.calls)+1) // the op index of each call
	base := len(p.ops)
	for ci, c := range prog.calls {
		first[ci] = len(p.ops) - base
		st, ok := named[c.step]
		if !ok {
			st = p.newStep(c.step.op, c.step.path)
			named[c.step] = st
		}
		args := make([]arg, len(c.args))
		for i, a := range c.args {
			switch a.kind {
			case argData:
				args[i] = place(a.data)
			case argFD:
				args[i] = arg{v: uint64(a.fd.slot), kind: argSlot}
			case argFile:
				args[i] = lit(fdOf[a.file]) // checkLinux made sure it is there
			default:
				args[i] = lit(a.v)
			}
		}
		if c.mode == modeJump {
			p.ops = append(p.ops, op{kind: opJump, step: st, skip: uint32(c.skip)})
			continue
		}
		if c.mode == modePause {
			pause(st)
			continue
		}
		if c.mode == modeStore {
			o := op{kind: opStore, step: st, ptrMask: 2}
			o.args[0], o.args[1] = uint64(c.args[0].fd.slot), args[1].v+uint64(c.off)
			p.ops = append(p.ops, o)
			continue
		}
		o := p.call(st, c.nr, args...)
		switch c.mode {
		case modeFD, modeNonneg:
			o.want = wantNonneg
		case modeAny:
			o.want = wantAny
		case modeIf:
			o.kind, o.want, o.skip, o.wantValue = opIf, wantNonneg, uint32(c.skip), int64(c.absent)
		}
		if c.mode == modeFD || c.mode == modeIf {
			o.slotOut = uint8(c.out.slot + 1)
		}
	}
	first[len(prog.calls)] = len(p.ops) - base
	for ci, c := range prog.calls {
		if c.mode == modeIf || c.mode == modeJump {
			o := &p.ops[base+first[ci]]
			o.skip = uint32(first[ci+1+c.skip] - first[ci+1])
		}
	}
}

// execCandidates lists the paths execve tries, in order: path itself when
// it has a slash, else each PATH entry of env (the lookup happens in the
// child because the child may see another root).
func execCandidates(path string, env []string) []string {
	if strings.Contains(path, "/") {
		return []string{path}
	}
	search := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			search = v
		}
	}
	var out []string
	for _, dir := range strings.Split(search, ":") {
		if dir == "" {
			dir = "."
		}
		out = append(out, dir+"/"+path)
	}
	return out
}

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it; all zero
// is SIG_DFL with an empty mask.
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

const sigsetSize = 8

// resetSignals sets every catchable signal's disposition to SIG_DFL.
// CLONE_CLEAR_SIGHAND resets handled signals but keeps ignored ones.
func (p *plan) resetSignals() {
	st := p.newStep("reset signal dispositions", "")
	dfl := p.bytes(make([]byte, unsafe.Sizeof(kernelSigaction{})))
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		p.call(st, unix.SYS_RT_SIGACTION, lit(sig), dfl, lit(0), lit(sigsetSize))
	}
}
