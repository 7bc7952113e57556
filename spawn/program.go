package spawn

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"syscall"
)

// A Program is a list of system calls for the child to make between clone
// and exec, for setup that spawn itself does not know about: a sandbox's
// mounts and pivot_root, a terminal allocated inside it (package
// namespaces builds them). It is plain data: building one makes no system
// call, and it runs only inside the child, on Linux, with every result
// checked. A failure ends the child and is returned by Start as an *Error
// naming the current Step.
//
// Results that are file descriptors (open_tree, fsmount, openat2, …) are
// kept by the child and named by an FD that later calls take as an
// argument; at most 14 are held at once, and Close releases one. Every fd
// a Program opens must be close-on-exec or closed by it.
type Program struct {
	calls []progCall
	cur   step
	held  [maxProgFDs]bool
	err   error
}

// The child has maxSlots result slots (SBX_SLOTS); a Program holds all but
// the last, listenerSlot, the plan's own: the seccomp listener's fd.
const (
	maxSlots     = 15
	maxProgFDs   = maxSlots - 1
	listenerSlot = maxProgFDs
)

// step names a planned operation, for the error Start returns.
type step struct{ op, path string }

type progMode uint8

const (
	modeZero   progMode = iota // must return 0
	modeFD                     // must return ≥ 0; the result is kept
	modeAny                    // result ignored
	modeIf                     // ≥ 0 kept; else skip to the block's end
	modeStore                  // store an FD's number into memory
	modeNonneg                 // must return ≥ 0
	modeJump                   // skip calls: the end of an if block with an else
	modePause                  // tell the parent and wait for it (Pause)
)

type progCall struct {
	nr   uintptr
	args []Arg
	mode progMode
	out  FD  // modeFD/modeIf: the slot written
	skip int // modeIf: calls to skip when it fails; modeJump: always
	// absent, for modeIf, has bit e set for each errno e that skips the
	// block; any other failure is reported.
	absent uint64
	off    int // modeStore: byte offset into args[1]
	step   step
}

// An Arg is one argument of a planned system call.
type Arg struct {
	kind argKind
	v    uint64
	data *blob
	fd   FD
	file *os.File // argFile
}

// blob is memory the child's calls point to; one blob is one copy in the
// child, however many calls use it.
type blob struct {
	b    []byte
	ptrs []blobPtr
}

// blobPtr: the 8 bytes at off hold the address of to.
type blobPtr struct {
	off int
	to  *blob
}

type argKind uint8

const (
	argInt argKind = iota
	argData
	argFD
	argFile
)

// Int is an integer argument.
func Int[T ~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64 | ~uintptr](v T) Arg {
	return Arg{kind: argInt, v: uint64(v)}
}

// Str is a NUL-terminated copy of s, passed by address.
func Str(s string) Arg { return Bytes(append([]byte(s), 0)) }

// Bytes is a copy of b (a struct the call reads or fills), passed by
// address. Every call given the same Arg sees the same memory, so one
// call can fill what a later one reads; the parent never sees it.
func Bytes(b []byte) Arg { return Arg{kind: argData, data: &blob{b: append([]byte{}, b...)}} }

// SetPointer makes the 8 bytes at off of a (made by Bytes) hold the
// address of to (made by Bytes) in the child: for structs that point to
// others, like a msghdr. It reports whether a and to are Bytes and off
// fits.
func (a Arg) SetPointer(off int, to Arg) bool {
	if a.kind != argData || to.kind != argData || off < 0 || off+8 > len(a.data.b) {
		return false
	}
	a.data.ptrs = append(a.data.ptrs, blobPtr{off, to.data})
	return true
}

// File is the child's descriptor of f, which the Cmd hands it (Stdin,
// Stdout, Stderr or one of ExtraFiles): a Program names the fds it is given
// by their file, never by a position its caller counted. Start fails when
// f is not among them.
func File(f *os.File) Arg { return Arg{kind: argFile, file: f} }

// FD names a file descriptor the child holds during a Program.
type FD struct{ slot int8 }

// Arg is the descriptor as a system call argument.
func (f FD) Arg() Arg { return Arg{kind: argFD, fd: f} }

// Step names the calls that follow, for the error a failure returns: op
// like "mount proc", path its object.
func (p *Program) Step(op, path string) { p.cur = step{op, path} }

// Call adds a system call that must return 0.
func (p *Program) Call(nr uintptr, args ...Arg) { p.add(nr, args, modeZero) }

// CallNonneg adds a system call that must return 0 or more (setsid,
// write).
func (p *Program) CallNonneg(nr uintptr, args ...Arg) { p.add(nr, args, modeNonneg) }

// Try adds a system call whose result is ignored (mkdirat of a directory
// that may exist).
func (p *Program) Try(nr uintptr, args ...Arg) { p.add(nr, args, modeAny) }

// Open adds a system call that returns a file descriptor, kept as the
// returned FD until Close.
func (p *Program) Open(nr uintptr, args ...Arg) FD {
	f := p.alloc()
	p.add(nr, args, modeFD)
	p.calls[len(p.calls)-1].out = f
	return f
}

// OpenIf is Open for an object that may be missing: when the call fails
// with one of the errnos in absent, the child skips every call added after
// it up to end(), and the FD is not held; any other failure is the
// child's error, as for Open. The calls inside must Close f.
func (p *Program) OpenIf(absent []syscall.Errno, nr uintptr, args ...Arg) (f FD, end func()) {
	f = p.alloc()
	p.add(nr, args, modeIf)
	i := len(p.calls) - 1
	p.calls[i].out = f
	for _, e := range absent {
		if e <= 0 || e >= 64 {
			p.fail("OpenIf: errno " + strconv.Itoa(int(e)) + " is not between 1 and 63")
			continue
		}
		p.calls[i].absent |= 1 << e
	}
	return f, func() { p.calls[i].skip = len(p.calls) - 1 - i }
}

// OpenIfElse is OpenIf with an alternative: the calls added before
// orElse() run when the call succeeds (they must Close f), those added
// between orElse() and end() run when it fails. A directory is masked one
// way and a file another, for instance, without the parent guessing which
// the child will find.
func (p *Program) OpenIfElse(absent []syscall.Errno, nr uintptr, args ...Arg) (f FD, orElse, end func()) {
	f, endThen := p.OpenIf(absent, nr, args...)
	jump := -1
	orElse = func() {
		p.calls = append(p.calls, progCall{mode: modeJump, step: p.cur})
		jump = len(p.calls) - 1
		endThen()
	}
	end = func() {
		if jump < 0 {
			p.fail("OpenIfElse: end before orElse")
			return
		}
		p.calls[jump].skip = len(p.calls) - 1 - jump
	}
	return f, orElse, end
}

// Close adds close(2) of f and releases its slot.
func (p *Program) Close(f FD) {
	p.add(closeNr, []Arg{f.Arg()}, modeZero)
	p.held[f.slot] = false
}

// StoreFD writes f's number, as a 32-bit integer, at byte off of dst, an
// argument made by Bytes: for structs that carry a descriptor, like an
// SCM_RIGHTS message.
func (p *Program) StoreFD(f FD, dst Arg, off int) {
	if dst.kind != argData || off < 0 || off+4 > len(dst.data.b) {
		p.fail("StoreFD: destination is not Bytes of at least " + strconv.Itoa(off+4) + " bytes")
		return
	}
	p.calls = append(p.calls, progCall{args: []Arg{f.Arg(), dst}, mode: modeStore, off: off, step: p.cur})
}

// Pause stops the child at this point of the program until the parent's
// Linux.Paused has run: the place where an OCI runtime runs hooks that
// must see the container's mounts before its pivot_root. A Start whose
// Setup pauses needs Linux.Paused.
func (p *Program) Pause() {
	p.calls = append(p.calls, progCall{mode: modePause, step: p.cur})
}

// files lists the files p's calls name with File.
func (p *Program) files() []*os.File {
	if p == nil {
		return nil
	}
	var fs []*os.File
	for _, c := range p.calls {
		for _, a := range c.args {
			if a.kind == argFile {
				fs = append(fs, a.file)
			}
		}
	}
	return fs
}

// pauses reports whether p has a Pause.
func (p *Program) pauses() bool {
	return p != nil && slices.ContainsFunc(p.calls, func(c progCall) bool { return c.mode == modePause })
}

// Err is the first misuse of p (too many FDs held at once, a bad StoreFD);
// Start returns it too.
func (p *Program) Err() error { return p.err }

func (p *Program) add(nr uintptr, args []Arg, mode progMode) {
	p.calls = append(p.calls, progCall{nr: nr, args: args, mode: mode, step: p.cur})
}

func (p *Program) alloc() FD {
	for i := range p.held {
		if !p.held[i] {
			p.held[i] = true
			return FD{slot: int8(i)}
		}
	}
	p.fail("more than " + strconv.Itoa(maxProgFDs) + " descriptors held at once")
	return FD{slot: maxProgFDs - 1}
}

func (p *Program) fail(msg string) {
	if p.err == nil {
		p.err = errors.New("spawn: program: " + msg)
	}
}
