package spawn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Process is a handle on a running (or exited, unwaited) process: a pidfd.
// Signals and waits go through the pidfd, so they can never reach another
// process that reuses the pid.
type Process struct {
	pid   int
	file  *os.File // the pidfd, non-blocking, in Go's poller
	child bool     // we are its parent and can collect its status
	// keeper, for a private child, is the process that made and reaps it
	// and that we reap in turn; its status is in mem.
	keeper *Process

	mu        sync.Mutex
	state     *State    // set once the process has been waited for
	mem       *childMem // the child's plan and stack, freed once it is gone
	identOnce sync.Once
	ident     Identity
	listener  *os.File // the seccomp listener, until SeccompListener takes it
}

func newProcess(pid, pidfd int, child bool) *Process {
	// Non-blocking, so the pidfd joins Go's poller: it becomes readable
	// when the process exits, and Wait parks a goroutine, not a thread.
	unix.SetNonblock(pidfd, true)
	return &Process{pid: pid, file: os.NewFile(uintptr(pidfd), "pidfd:"+strconv.Itoa(pid)), child: child}
}

// SeccompListener returns the user-notification fd of the child's seccomp
// filter (see Linux.SeccompFlags), once: the caller owns it then. nil
// when the filter has no listener, or it was taken.
func (p *Process) SeccompListener() *os.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.listener
	p.listener = nil
	return f
}

// Pid is the process id. Use it for display and for /proc, never to signal.
func (p *Process) Pid() int { return p.pid }

// Fd is the pidfd, for poll or epoll: it is readable once the process has
// exited. It stays owned by p.
func (p *Process) Fd() uintptr { return p.file.Fd() }

// Signal sends sig through the pidfd (pidfd_send_signal(2)). It returns
// os.ErrProcessDone once the process has exited and been waited for.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("spawn: signal %v: not a syscall.Signal", sig)
	}
	rc, err := p.file.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.PidfdSendSignal(int(fd), s, nil, 0) }); err != nil {
		return os.ErrProcessDone
	}
	if serr == unix.ESRCH {
		return os.ErrProcessDone
	}
	if serr != nil {
		return &os.SyscallError{Syscall: "pidfd_send_signal", Err: serr}
	}
	return nil
}

// Wait waits for the process to exit and returns how it ended. For our
// own child it also reaps it (waitid(P_PIDFD, …, WEXITED|__WALL): a child
// with exit signal 0 is a "clone child", invisible to waits without
// __WALL). Calling Wait again returns the same State.
func (p *Process) Wait() (*State, error) {
	st, _, err := p.wait(true)
	return st, err
}

// TryWait is Wait that never blocks: ok is false while the process runs.
func (p *Process) TryWait() (st *State, ok bool, err error) {
	return p.wait(false)
}

func (p *Process) wait(block bool) (*State, bool, error) {
	if block {
		p.mu.Lock()
	} else if !p.mu.TryLock() {
		return nil, false, nil // a Wait is in progress: the process runs
	}
	defer p.mu.Unlock()
	if p.state != nil {
		return p.state, true, nil
	}
	if p.keeper != nil {
		kst, ok, err := p.keeper.wait(block)
		if !ok || err != nil {
			return nil, ok, err
		}
		p.state = p.keptState(kst)
		if !p.state.known {
			p.killOrphan()
		}
		p.mem.free()
		p.mem = nil
		return p.state, true, nil
	}
	rc, err := p.file.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	var st *State
	var werr error
	poll := func(fd uintptr) bool {
		st, werr = p.collect(int(fd))
		return st != nil || werr != nil || !block
	}
	if err := rc.Read(poll); err != nil {
		return nil, false, fmt.Errorf("spawn: wait for pid %d: %w", p.pid, err)
	}
	if werr != nil || st == nil {
		return nil, false, werr
	}
	p.state = st
	p.mem.free()
	p.mem = nil
	return st, true, nil
}

// keptState is how a private child ended, as its keeper recorded it. The
// keeper's resource usage includes the child's, which it reaped.
func (p *Process) keptState(kst *State) *State {
	st := *kst
	st.pid, st.code, st.signal, st.known = p.pid, -1, 0, true
	code, status := p.mem.status()
	switch code {
	case cldExited:
		st.code = int(status)
	case cldKilled, cldDumped:
		st.signal = syscall.Signal(status)
	default: // the keeper was killed before the child ended
		st.known = false
	}
	return &st
}

// killOrphan ends a child whose keeper was killed before it: the child may
// not have exec'd yet and so may still run on memory we are about to free.
// Once its pidfd is readable it has exited and left our memory.
func (p *Process) killOrphan() {
	p.Signal(unix.SIGKILL)
	fds := []unix.PollFd{{Fd: int32(p.file.Fd()), Events: unix.POLLIN}}
	for {
		if n, err := unix.Poll(fds, -1); n == 1 || err != nil && err != unix.EINTR {
			return
		}
	}
}

// execed is called once the child has exec'd: it no longer reads its plan.
func (p *Process) execed() {
	if p.keeper == nil {
		p.mem.free()
		p.mem = nil
	}
}

// siginfoChild is the SIGCHLD view of siginfo_t.
type siginfoChild struct {
	signo, errno, code, _ int32
	pid                   int32
	uid                   uint32
	status                int32
	_                     [100]byte
}

// The si_code values of a SIGCHLD siginfo (sigaction(2)).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// collect returns the state once the process has exited, nil while it runs.
func (p *Process) collect(fd int) (*State, error) {
	if !p.child {
		return p.exitedNotChild(fd)
	}
	var info siginfoChild
	var ru unix.Rusage
	err := unix.Waitid(unix.P_PIDFD, fd, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WALL|unix.WNOHANG, &ru)
	if err == unix.EINTR {
		return p.collect(fd)
	}
	if err != nil {
		return nil, &os.SyscallError{Syscall: "waitid", Err: err}
	}
	if info.pid == 0 {
		return nil, nil
	}
	st := &State{pid: p.pid, code: -1, known: true,
		userTime:   time.Duration(ru.Utime.Nano()),
		systemTime: time.Duration(ru.Stime.Nano()),
		maxRSS:     ru.Maxrss * 1024}
	switch info.code {
	case cldExited:
		st.code = int(info.status)
	case cldKilled, cldDumped:
		st.signal = syscall.Signal(info.status)
	}
	return st, nil
}

// exitedNotChild polls the pidfd: readable means exited. The status goes
// to the real parent, so it stays unknown here.
func (p *Process) exitedNotChild(fd int) (*State, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil && err != unix.EINTR {
		return nil, &os.SyscallError{Syscall: "poll", Err: err}
	}
	if n == 0 {
		return nil, nil
	}
	return &State{pid: p.pid, code: -1}, nil
}

// Close releases the pidfd. It does not reap: call Wait first, or the
// exited child stays a zombie until the program ends.
func (p *Process) Close() error {
	// A child that has neither exec'd nor been reaped may still be reading
	// its plan (it waits at a Gate): that memory is deliberately left.
	if p.keeper != nil {
		p.keeper.Close()
	}
	if l := p.SeccompListener(); l != nil {
		l.Close()
	}
	return p.file.Close()
}

// kill ends a child that failed to start and reaps it.
func (p *Process) kill() {
	p.Signal(unix.SIGKILL)
	p.Wait()
	p.Close()
}

// Identity returns what names this process for its whole life.
func (p *Process) Identity() Identity {
	p.identOnce.Do(func() {
		p.ident = Identity{Pid: p.pid}
		p.ident.Inode, _ = pidfsInode(int(p.file.Fd()))
		p.ident.StartTime, _ = startTime(p.pid)
	})
	return p.ident
}

const pidfsMagic = 0x50494446 // PID_FS_MAGIC, Linux 6.9

// pidfsInode is the pidfd's inode number, unique for the process's life
// where pidfds live on pidfs; ok is false on older kernels, where every
// pidfd shares one anonymous inode.
func pidfsInode(pidfd int) (uint64, bool) {
	var fs unix.Statfs_t
	if unix.Fstatfs(pidfd, &fs) != nil || fs.Type != pidfsMagic {
		return 0, false
	}
	var st unix.Stat_t
	if unix.Fstat(pidfd, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}

// startTime reads field 22 of /proc/PID/stat (proc_pid_stat(5)).
func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: skip to
	// the last ')'. Field 3 follows, so field 22 is the 20th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 {
		return 0, errors.New("malformed stat")
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}

// Open returns a handle on the process id names, refusing a pid that now
// belongs to another process: it opens a pidfd, then compares the pidfs
// inode number (Linux ≥ 6.9) or, without pidfs, the start time, checking
// afterwards that the process behind the pidfd is still unreaped so the
// /proc read was about it. It returns ErrNotFound when the process is gone
// or the pid was recycled. The result is not our child: Wait learns when
// it exits but not its status.
func Open(pid int, id Identity) (*Process, error) {
	if id.Pid != pid || pid <= 0 {
		return nil, fmt.Errorf("spawn: open pid %d: identity is for pid %d", pid, id.Pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return nil, fmt.Errorf("spawn: open pid %d: %w", pid, ErrNotFound)
	}
	if err != nil {
		return nil, &os.SyscallError{Syscall: "pidfd_open", Err: err}
	}
	if err := checkIdentity(fd, id); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return newProcess(pid, fd, false), nil
}

func checkIdentity(fd int, id Identity) error {
	notFound := fmt.Errorf("spawn: open pid %d: %w (pid reused by another process)", id.Pid, ErrNotFound)
	if ino, ok := pidfsInode(fd); ok && id.Inode != 0 {
		if ino != id.Inode {
			return notFound
		}
		return nil
	}
	if id.StartTime == 0 {
		return fmt.Errorf("spawn: open pid %d: identity has neither a pidfs inode this kernel can check nor a start time", id.Pid)
	}
	t, err := startTime(id.Pid)
	if err != nil || t != id.StartTime {
		return notFound
	}
	if unix.PidfdSendSignal(fd, 0, nil, 0) == unix.ESRCH {
		return notFound
	}
	return nil
}
