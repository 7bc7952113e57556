package spawn

/*
#cgo CFLAGS: -O2 -Wall -fno-stack-protector
#include <stdlib.h>
#include "clone_linux.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Go side writes the C structs byte by byte (plan.encode); these fail to
// compile if the layouts drift apart.
var (
	_ [opSize]byte     = [C.sizeof_struct_sbx_op]byte{}
	_ [headerSize]byte = [C.sizeof_struct_sbx_plan]byte{}
	_ [maxSlots]byte   = [C.SBX_SLOTS]byte{}
)

const (
	cloneClearSighand = 0x100000000 // CLONE_CLEAR_SIGHAND, Linux 5.5
	cloneIntoCgroup   = 0x200000000 // CLONE_INTO_CGROUP, Linux 5.7
	failExitCode      = 127
	reportSize        = 12 // struct sbx_report
)

// childMem is the C memory shared with the child (until it execs or dies)
// and with its keeper (until it exits): struct sbx_spawn, the encoded plan
// after it, and the stacks.
type childMem struct {
	sp *C.struct_sbx_spawn
}

func (m *childMem) free() {
	if m == nil || m.sp == nil {
		return
	}
	C.sbx_free_stacks(m.sp.stacks)
	C.free(unsafe.Pointer(m.sp))
	m.sp = nil
}

// status is how the keeper saw the child end: a siginfo si_code and
// si_status, si_code 0 when the keeper died before it could tell.
func (m *childMem) status() (code, status int32) {
	return int32(m.sp.end_code), int32(m.sp.end_status)
}

// Start creates the child. It returns once the child has exec'd (or, with
// a Gate, reached it); any failure before that is Start's error and leaves
// no process behind.
func (c *Cmd) Start() (*Process, error) {
	if err := checkKernel(); err != nil {
		return nil, err
	}
	if c.Path == "" {
		return nil, &Error{Op: "exec", Err: errors.New("empty path")}
	}
	s, err := newStarter(c)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.start()
}

// starter holds one Start's parent-side resources; close releases what
// was not handed to the Process.
type starter struct {
	cmd            *Cmd
	lx             Linux
	targets        []*os.File // fds 0..n-1 of the child
	errR, errW     *os.File
	syncR, syncW   *os.File
	gate           *os.File
	toldFrom       int32 // the first step after the gate
	needSync, wait bool
	cloneNS        uintptr  // namespaces clone3 creates
	unshareNS      uintptr  // namespaces the child creates after joining a user namespace
	joinPID        *os.File // the pid namespace the child is created in, nil for ours
	plan           plan
	ctl            map[*os.File]int // control fds' numbers in the child after planFiles
	fds            map[*os.File]int // the child's fd of each file it is given (childFDs)
	lastCap        int              // the highest capability number the kernel knows
}

func newStarter(c *Cmd) (*starter, error) {
	s := &starter{cmd: c}
	if c.Linux != nil {
		s.lx = *c.Linux
	}
	null, err := devNull()
	if err != nil {
		return nil, err
	}
	s.targets = append([]*os.File{or(c.Stdin, null), or(c.Stdout, null), or(c.Stderr, null)}, c.ExtraFiles...)
	if err := s.checkLinux(); err != nil {
		return nil, err
	}
	s.wait = len(s.lx.UIDMappings)+len(s.lx.GIDMappings) > 0 || s.lx.Prepare != nil
	s.needSync = s.wait || s.lx.Pdeathsig != 0 || s.lx.Setup.pauses()
	if err := s.openPipes(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// listener reports whether the seccomp filter hands out a listener fd.
func (s *starter) listener() bool {
	return s.lx.Seccomp != nil && s.lx.SeccompFlags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
}

// checkLinux rejects what the plan cannot carry and reads what it needs
// from the host.
func (s *starter) checkLinux() error {
	if s.lx.Setup != nil && s.lx.Setup.Err() != nil {
		return s.lx.Setup.Err()
	}
	if t := s.lx.IDMapTools; t != nil && t.NewGIDMap != "" && s.lx.DenySetgroups {
		return &Error{Op: "write gid_map", Err: errors.New("DenySetgroups with a NewGIDMap tool: newgidmap decides setgroups")}
	}
	if c := s.lx.Credential; c != nil && (c.UID == ^uint32(0) || c.GID == ^uint32(0)) {
		// (uid_t)-1 is "unchanged" to setresuid(2): the child would keep
		// the caller's ids.
		return &Error{Op: "credential", Err: fmt.Errorf("uid %d, gid %d: 4294967295 is not a valid id", c.UID, c.GID)}
	}
	if len(s.lx.Seccomp) > unix.BPF_MAXINSNS {
		return &Error{Op: "seccomp", Err: fmt.Errorf("filter has %d instructions, more than %d", len(s.lx.Seccomp), unix.BPF_MAXINSNS)}
	}
	s.fds = s.childFDs()
	for _, f := range s.lx.Setup.files() {
		if _, ok := s.fds[f]; !ok {
			return &Error{Op: "setup", Err: fmt.Errorf("the program names %s (spawn.File), which the Cmd does not give the child", f.Name())}
		}
	}
	if s.lx.Setup.pauses() && s.lx.Paused == nil {
		return &Error{Op: "setup", Err: errors.New("the program pauses, but Linux.Paused is not set")}
	}
	if s.listener() && s.cmd.Gate == nil {
		return &Error{Op: "seccomp", Err: fmt.Errorf("%w: a filter with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) needs a Gate", ErrNotSupported)}
	}
	if err := s.checkJoin(); err != nil {
		return err
	}
	if s.lx.Capabilities != nil {
		n, err := lastCap()
		if err != nil {
			return err
		}
		s.lastCap = n
	}
	return nil
}

// checkJoin sorts out which namespaces clone3 creates, which the child
// creates after entering a user namespace, and which pid namespace the
// child is created in.
func (s *starter) checkJoin() error {
	s.cloneNS = s.lx.Namespaces
	var joined uintptr
	for _, j := range s.lx.Join {
		switch {
		case j.File == nil || j.Type == 0 || j.Type&^AllNamespaces != 0:
			return &Error{Op: "setns", Err: fmt.Errorf("bad namespace to join (type %#x)", j.Type)}
		case j.Type&NewTime != 0:
			return &Error{Op: "setns", Path: "time namespace", Err: fmt.Errorf("%w: a multi-threaded program cannot enter a time namespace", ErrNotSupported)}
		case j.Type&joined != 0:
			return &Error{Op: "setns", Err: fmt.Errorf("namespace type %#x joined twice", j.Type&joined)}
		case j.Type&NewPID != 0:
			s.joinPID = j.File
		}
		joined |= j.Type
	}
	if joined&s.lx.Namespaces != 0 {
		return &Error{Op: "setns", Err: fmt.Errorf("namespace type %#x both joined and created", joined&s.lx.Namespaces)}
	}
	if joined&NewUser != 0 {
		if s.lx.Namespaces&(NewPID|NewTime) != 0 {
			return &Error{Op: "setns", Path: "user namespace", Err: fmt.Errorf("%w: a new pid or time namespace under a joined user namespace", ErrNotSupported)}
		}
		s.cloneNS, s.unshareNS = 0, s.lx.Namespaces
	}
	if s.joinPID != nil && (!s.cmd.Adoptable || s.lx.Pdeathsig != 0) {
		return &Error{Op: "setns", Path: "pid namespace", Err: fmt.Errorf("%w: joining a pid namespace needs an Adoptable child without Pdeathsig", ErrNotSupported)}
	}
	return nil
}

var lastCapOnce struct {
	sync.Once
	n   int
	err error
}

// lastCap is /proc/sys/kernel/cap_last_cap (Linux 3.2).
func lastCap() (int, error) {
	lastCapOnce.Do(func() {
		const path = "/proc/sys/kernel/cap_last_cap"
		b, err := os.ReadFile(path)
		if err == nil {
			lastCapOnce.n, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if err != nil {
			lastCapOnce.err = &Error{Op: "read", Path: path, Err: unwrapPath(err)}
		}
	})
	return lastCapOnce.n, lastCapOnce.err
}

func or(f, def *os.File) *os.File {
	if f == nil {
		return def
	}
	return f
}

// openPipes creates the error pipe, the sync pipe and a copy of the gate,
// each numbered at or above len(targets) so that placing the child's fds
// cannot clobber them.
func (s *starter) openPipes() error {
	var err error
	n := len(s.targets)
	if s.errR, s.errW, err = pipeAbove(n); err != nil {
		return err
	}
	if s.needSync {
		if s.syncR, s.syncW, err = pipeAbove(n); err != nil {
			return err
		}
	}
	if s.cmd.Gate != nil {
		fd, err := unix.FcntlInt(s.cmd.Gate.Fd(), unix.F_DUPFD_CLOEXEC, n)
		if err != nil {
			return &Error{Op: "dup gate", Err: err}
		}
		s.gate = os.NewFile(uintptr(fd), "gate")
	}
	return nil
}

func pipeAbove(n int) (r, w *os.File, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, &Error{Op: "pipe", Err: err}
	}
	for i, fd := range fds {
		if fd >= n {
			continue
		}
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, n)
		unix.Close(fd)
		if err != nil {
			unix.Close(fds[1-i])
			return nil, nil, &Error{Op: "dup pipe", Err: err}
		}
		fds[i] = nfd
	}
	return os.NewFile(uintptr(fds[0]), "pipe"), os.NewFile(uintptr(fds[1]), "pipe"), nil
}

func (s *starter) close() {
	for _, f := range []*os.File{s.errR, s.errW, s.syncR, s.syncW, s.gate} {
		if f != nil {
			f.Close()
		}
	}
}

var (
	nullOnce sync.Once
	nullFile *os.File
	nullErr  error
)

// devNull is one /dev/null kept open for the life of the program.
func devNull() (*os.File, error) {
	nullOnce.Do(func() {
		nullFile, nullErr = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	})
	return nullFile, nullErr
}

func (s *starter) start() (*Process, error) {
	s.buildPlan()
	if s.lx.Credential != nil && s.gate == nil {
		// The child's setresuid changes the dumpable flag of the memory
		// it shares with us (commit_creds); it has exec'd or died when
		// start returns, so ours can be put back then. (With a gate the
		// change happens later; the flag can only go to non-dumpable,
		// the safe side, unless fs.suid_dumpable is 1.)
		dumpable, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		defer unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(dumpable), 0, 0, 0)
	}
	p, err := s.clone()
	if err != nil {
		return nil, err
	}
	s.errW.Close()
	s.errW = nil
	if s.syncR != nil {
		s.syncR.Close()
		s.syncR = nil
	}
	if err := s.release(p.pid); err != nil {
		p.kill()
		return nil, err
	}
	return s.await(p)
}

// clone runs clone3 with the encoded plan. The plan and the stacks are C
// memory: the child and its keeper read them after this returns.
func (s *starter) clone() (*Process, error) {
	hdr := int(unsafe.Sizeof(C.struct_sbx_spawn{}))
	buf := C.calloc(1, C.size_t(hdr+s.plan.size()))
	if buf == nil {
		return nil, &Error{Op: "clone3", Err: syscall.ENOMEM}
	}
	sp := (*C.struct_sbx_spawn)(buf)
	planPtr := unsafe.Add(buf, hdr)
	copy(unsafe.Slice((*byte)(planPtr), s.plan.size()), s.plan.encode(uintptr(planPtr), failExitCode))
	sp.plan = (*C.struct_sbx_plan)(planPtr)
	sp.child_pidfd = -1 // the kernel writes it before the child runs
	sp.inner.flags = C.uint64_t(uint64(s.cloneNS) | unix.CLONE_VM | unix.CLONE_PIDFD | cloneClearSighand)
	sp.inner.pidfd = C.uint64_t(uintptr(unsafe.Pointer(&sp.child_pidfd)))
	if s.lx.Cgroup != nil {
		sp.inner.flags |= cloneIntoCgroup
		sp.inner.cgroup = C.uint64_t(s.lx.Cgroup.Fd())
	}
	private := !s.cmd.Adoptable
	if private {
		sp.keeper = 1
		sp.parent_pid = C.int32_t(os.Getpid())
		sp.inner.exit_signal = C.uint64_t(unix.SIGCHLD)
		sp.outer.flags = unix.CLONE_VM | unix.CLONE_FILES | unix.CLONE_PIDFD | cloneClearSighand
		sp.outer.pidfd = C.uint64_t(uintptr(unsafe.Pointer(&sp.outer_pidfd)))
	} else {
		sp.inner.exit_signal = C.uint64_t(unix.SIGCHLD)
	}
	var ret C.long
	run := func() { ret = C.sbx_clone(sp) }
	switch {
	case s.joinPID != nil:
		if err := inPIDNamespace(s.joinPID, run); err != nil {
			C.free(buf)
			return nil, &Error{Op: "setns", Path: "pid namespace", Err: err}
		}
	case private || s.lx.Pdeathsig != 0:
		onPinnedThread(run) // the keeper's (or child's) PDEATHSIG follows this thread
	default:
		run()
	}
	runtime.KeepAlive(s.lx.Cgroup)
	if ret < 0 {
		C.free(buf)
		return nil, cloneError(syscall.Errno(-ret), s.cloneNS)
	}
	mem := &childMem{sp: sp}
	if !private {
		p := newProcess(int(ret), int(sp.child_pidfd), true)
		p.mem = mem
		return p, nil
	}
	keeper := newProcess(int(ret), int(sp.outer_pidfd), true)
	if sp.child_pid < 0 {
		keeper.Wait()
		keeper.Close()
		if sp.child_pidfd >= 0 { // the keeper died after creating the child
			orphan := newProcess(0, int(sp.child_pidfd), false)
			orphan.killOrphan()
			orphan.Close()
		}
		mem.free()
		return nil, cloneError(syscall.Errno(-sp.child_pid), s.cloneNS)
	}
	p := newProcess(int(sp.child_pid), int(sp.child_pidfd), false)
	p.keeper, p.mem = keeper, mem
	return p, nil
}

// release does the parent's part of the setup while the child waits: the
// id maps, the Prepare hook, then one byte that lets the child go on.
func (s *starter) release(pid int) error {
	if !s.wait {
		return nil
	}
	if err := writeIDMaps(pid, &s.lx); err != nil {
		return err
	}
	if s.lx.Prepare != nil {
		if err := s.lx.Prepare(pid); err != nil {
			return fmt.Errorf("spawn: prepare: %w", err)
		}
	}
	if _, err := s.syncW.Write([]byte{0}); err != nil {
		return &Error{Op: "release child", Err: err}
	}
	return nil
}

func writeIDMaps(pid int, lx *Linux) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	var tools IDMapTools
	if lx.IDMapTools != nil {
		tools = *lx.IDMapTools
	}
	if err := writeIDMap(dir+"uid_map", tools.NewUIDMap, pid, lx.UIDMappings); err != nil {
		return err
	}
	if lx.DenySetgroups {
		if err := writeProc(dir+"setgroups", "deny"); err != nil {
			return err
		}
	}
	return writeIDMap(dir+"gid_map", tools.NewGIDMap, pid, lx.GIDMappings)
}

// writeIDMap writes m to file, or has tool write it when one is given.
func writeIDMap(file, tool string, pid int, m []IDMap) error {
	switch {
	case len(m) == 0:
		return nil
	case tool != "":
		return runIDMapTool(tool, pid, m)
	}
	return writeProc(file, formatIDMap(m))
}

// runIDMapTool runs newuidmap or newgidmap for the child pid: "tool pid
// containerID hostID size ...".
func runIDMapTool(tool string, pid int, m []IDMap) error {
	if len(m) == 0 {
		return nil
	}
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10),
			strconv.FormatUint(uint64(e.HostID), 10), strconv.FormatUint(uint64(e.Size), 10))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			err = fmt.Errorf("%w: %s", err, strings.ReplaceAll(msg, "\n", "; "))
		}
		return &Error{Op: "run", Path: tool, Err: err}
	}
	return nil
}

// writeProc writes s in one write(2), as uid_map and friends require.
func writeProc(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return &Error{Op: "write", Path: path, Err: unwrapPath(err)}
	}
	defer f.Close()
	if _, err := f.Write([]byte(s)); err != nil {
		return &Error{Op: "write", Path: path, Err: unwrapPath(err)}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func formatIDMap(m []IDMap) string {
	var b []byte
	for _, e := range m {
		b = fmt.Appendf(b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return string(b)
}

// await reads the child's report: EOF means it exec'd (the error pipe is
// close-on-exec), READY that it waits at the gate, ERROR which step failed,
// PAUSE that it waits at a Program's Pause for Linux.Paused to run.
func (s *starter) await(p *Process) (*Process, error) {
	var msg [reportSize]byte
	n, err := io.ReadFull(s.errR, msg[:])
	for n == reportSize && binary.LittleEndian.Uint32(msg[0:]) == msgPause {
		if err := s.lx.Paused(p.pid); err != nil {
			p.kill()
			return nil, fmt.Errorf("spawn: paused: %w", err)
		}
		if _, err := s.syncW.Write([]byte{0}); err != nil {
			p.kill()
			return nil, &Error{Op: "resume child", Err: err}
		}
		n, err = io.ReadFull(s.errR, msg[:])
	}
	if n == 0 && (err == io.EOF || err == nil) {
		p.execed()
		return p, nil
	}
	le := binary.LittleEndian
	if n == reportSize && le.Uint32(msg[0:]) == msgReady {
		if s.listener() {
			// The child stored its listener's fd number in the report.
			fd, err := unix.PidfdGetfd(int(p.file.Fd()), int(int32(le.Uint32(msg[8:]))), 0)
			if err != nil {
				p.kill()
				return nil, &Error{Op: "pidfd_getfd", Path: "seccomp listener", Err: err}
			}
			p.listener = os.NewFile(uintptr(fd), "seccomp-listener")
		}
		return p, nil
	}
	p.kill()
	if n != reportSize {
		return nil, &Error{Op: "read child report", Err: fmt.Errorf("short read (%d bytes): %v", n, err)}
	}
	return nil, s.stepError(int32(le.Uint32(msg[4:])), syscall.Errno(le.Uint32(msg[8:])))
}

func (s *starter) stepError(st int32, errno syscall.Errno) error {
	var err error = errno
	if errno == 0 {
		err = errors.New("unexpected result")
	}
	if st < 0 || int(st) >= len(s.plan.steps) {
		return &Error{Op: "step " + strconv.Itoa(int(st)), Err: err}
	}
	d := s.plan.steps[st]
	return &Error{Op: d.op, Path: d.path, Err: err}
}

var pinned struct {
	once sync.Once
	reqs chan func()
}

// onPinnedThread runs f on one OS thread that never exits, so that a
// PR_SET_PDEATHSIG child is not killed when the goroutine that started it
// happens to run on a thread that later goes away.
func onPinnedThread(f func()) {
	pinned.once.Do(func() {
		pinned.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the program
			for f := range pinned.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	pinned.reqs <- func() { f(); close(done) }
	<-done
}

// inPIDNamespace runs f on a new OS thread that first enters the pid
// namespace ns for its children (setns(2) CLONE_NEWPID). The thread is
// never unlocked, so Go ends it with its goroutine instead of reusing it
// in a namespace no other code expects.
func inPIDNamespace(ns *os.File, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWPID)
		if err == nil {
			f()
		}
		errc <- err
	}()
	return <-errc
}

var kernelOnce struct {
	sync.Once
	err error
}

// checkKernel refuses kernels older than the floor: Linux 5.11, for
// close_range(CLOSE_RANGE_CLOEXEC) (clone3 5.3, CLONE_CLEAR_SIGHAND 5.5,
// CLONE_INTO_CGROUP 5.7 and waitid(P_PIDFD) 5.4 come before it).
func checkKernel() error {
	kernelOnce.Do(func() {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			kernelOnce.err = err
			return
		}
		rel := unix.ByteSliceToString(u.Release[:])
		var major, minor int
		fmt.Sscanf(rel, "%d.%d", &major, &minor)
		if major < 5 || major == 5 && minor < 11 {
			kernelOnce.err = fmt.Errorf("spawn: Linux %s: %w: close_range CLOSE_RANGE_CLOEXEC needs Linux 5.11 or later", rel, ErrNotSupported)
		}
	})
	return kernelOnce.err
}
