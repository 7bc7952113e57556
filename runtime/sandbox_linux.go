package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/runtime/cgroup"
	"sbx.dev/sbx/spawn"
)

// forwarded are the signals sbx passes on to the process: those a
// terminal, a supervisor or an init system sends to end, reload or reopen
// (USR1 and USR2: nginx, logrotate), as runc forwards them.
var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGWINCH,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM}

// Run starts the sandbox, forwards signals to it, enforces the timeout and
// waits for it. When it returns, every process the sandbox held is gone
// and its cgroup removed. A nil error comes with a Result; a *StartError
// means the process never ran.
//
// Without Signals, Run registers for the forwarded signals itself before
// it makes anything (a signal that ended the caller by its default action
// then would leave the cgroup behind), and unregisters when it returns.
func (sb *Sandbox) Run() (*Result, error) {
	sigs := sb.Signals
	if sigs == nil {
		sigs = ForwardSignals()
		defer signal.Stop(sigs)
	}
	r, err := sb.start()
	if err != nil {
		return nil, err
	}
	defer r.cleanup()
	return r.supervise(sigs, sb.Policy.Timeout, sb.grace())
}

func (sb *Sandbox) grace() time.Duration {
	if sb.Grace > 0 {
		return sb.Grace
	}
	return defaultGrace
}

// running is a started sandbox.
type running struct {
	proc    *spawn.Process
	cg      *cgroup.Group // nil without limits
	term    *terminal     // nil without a terminal
	ownPID  bool          // the process is a new pid namespace's init
	started time.Time
	undo    []func()
}

func (r *running) cleanup() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
}

// start creates the sandbox; its signals are caught already.
func (sb *Sandbox) start() (*running, error) {
	r := &running{ownPID: !sharesPID(sb.Spec)}
	ok := false
	defer func() {
		if !ok {
			r.cleanup()
		}
	}()
	var err error
	o := cmdOptions{skeletonRoot: true}
	var console *os.File
	if sb.Spec.Process.Terminal {
		var peer *os.File
		if console, peer, err = socketPair(); err != nil {
			return nil, &StartError{ExitFailed, err}
		}
		r.undo = append(r.undo, func() { console.Close() })
		defer peer.Close()
		o.console = peer
	}
	if r.cg, err = newCgroup(sb.Spec); err != nil {
		return nil, &StartError{ExitFailed, err}
	}
	if r.cg != nil {
		r.undo = append(r.undo, func() { r.cg.Delete() })
		o.cgroup = r.cg
	}
	if o.seccomp, err = compileSeccomp(sb.Spec.Linux.Seccomp, sb.Policy.Seccomp); err != nil {
		return nil, &StartError{ExitFailed, err}
	}
	cmd, release, err := command(sb.Spec, o)
	if err != nil {
		return nil, &StartError{ExitFailed, err}
	}
	defer release()
	if !sb.Spec.Process.Terminal {
		if err := checkStdio(sb.Stdin, sb.Stdout, sb.Stderr); err != nil {
			return nil, &StartError{ExitFailed, err}
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = sb.Stdin, sb.Stdout, sb.Stderr
	}
	cmd.Adoptable = true // sbx's own child: no keeper needed, a CLI has no stray waitpid(-1)
	r.started = time.Now()
	if r.proc, err = cmd.Start(); err != nil {
		return nil, startError(err)
	}
	r.undo = append(r.undo, func() { r.proc.Close() })
	if console != nil {
		if r.term, err = openTerminal(console, sb.Stdin, sb.Stdout); err != nil {
			r.proc.Signal(unix.SIGKILL)
			r.proc.Wait()
			return nil, &StartError{ExitFailed, err}
		}
		r.undo = append(r.undo, r.term.restore)
	}
	ok = true
	return r, nil
}

// newCgroup creates the sandbox's cgroup when it has limits, or shares
// the host's pid namespace (a cgroup is then the only way to find every
// process it leaves behind); nil when it needs none.
func newCgroup(s *specs.Spec) (*cgroup.Group, error) {
	if s.Linux.Resources == nil && !sharesPID(s) {
		return nil, nil
	}
	if !sharesPID(s) {
		return cgroup.NewInPIDNamespace("", s.Linux.Resources)
	}
	return cgroup.New("", s.Linux.Resources)
}

func sharesPID(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return false
		}
	}
	return true
}

// checkStdio refuses to pass a directory or an O_PATH fd as stdio: the
// process could reach every host file under it through /proc/self/fd.
func checkStdio(files ...*os.File) error {
	for i, f := range files {
		if f == nil {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return fmt.Errorf("fd %d: %w", i, err)
		}
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("fd %d: %w", i, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR || fl&unix.O_PATH != 0 {
			return fmt.Errorf("fd %d is a directory or an O_PATH descriptor: the sandbox would reach the host's files through it", i)
		}
	}
	return nil
}

// startError classifies a start failure: exec's ENOENT is 127, its other
// errors 126, anything else 125.
func startError(err error) error {
	var se *spawn.Error
	if errors.As(err, &se) && se.Op == "exec" {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
			return &StartError{ExitNotFound, err}
		}
		return &StartError{ExitCannotExec, err}
	}
	return &StartError{ExitFailed, err}
}

// supervise forwards signals, enforces the timeout and waits.
func (r *running) supervise(sigs <-chan os.Signal, timeout, grace time.Duration) (*Result, error) {
	done := make(chan struct{})
	var timedOut bool
	var mu sync.Mutex
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() {
			mu.Lock()
			timedOut = true
			mu.Unlock()
			r.stop(grace, done)
		})
		defer t.Stop()
	}
	go r.forward(sigs, done)
	st, err := r.proc.Wait()
	close(done)
	if err != nil {
		return nil, fmt.Errorf("waiting for the sandbox: %w", err)
	}
	r.killRest()
	if r.term != nil {
		r.term.drain()
	}
	mu.Lock()
	defer mu.Unlock()
	return r.result(st, timedOut), nil
}

// stop asks the process to end (SIGTERM), then kills everything left after
// grace.
func (r *running) stop(grace time.Duration, done <-chan struct{}) {
	r.proc.Signal(unix.SIGTERM)
	if !handles(r.proc.Pid(), unix.SIGTERM) {
		grace = 0 // dropped by the kernel: nothing to wait for
	}
	select {
	case <-done:
	case <-time.After(grace):
		r.proc.Signal(unix.SIGKILL)
		r.killRest()
	}
}

// killRest kills what the process left behind. In its own pid namespace
// nothing is: the kernel kills the namespace's other processes when its
// init exits, and reports the init's exit only once they are gone
// (zap_pid_ns_processes). Otherwise the cgroup finds them.
func (r *running) killRest() {
	if r.cg != nil && !r.ownPID {
		r.cg.Kill()
	}
}

// forward passes signals to the process. Its pid 1 in a new pid
// namespace, where the kernel drops a signal it has no handler for
// (pid_namespaces(7)); for a terminating signal sbx then applies the
// default action itself, with SIGKILL, so ^C still ends `sbx run sleep`.
func (r *running) forward(sigs <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case s := <-sigs:
			sig := s.(syscall.Signal)
			if sig == unix.SIGWINCH && r.term != nil {
				r.term.resize()
				continue
			}
			r.proc.Signal(sig)
			if terminates(sig) && !handles(r.proc.Pid(), sig) {
				r.proc.Signal(unix.SIGKILL)
			}
		}
	}
}

// handles reports whether process pid catches or ignores sig, from
// /proc/PID/status SigCgt and SigIgn; true when unknown (nothing is
// killed on a guess).
func handles(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true
	}
	if ns, ok := statusField(b, "NSpid"); !ok || !isNamespaceInit(ns) {
		return true // not a pid namespace's init: the kernel delivers as usual
	}
	for _, f := range []string{"SigCgt", "SigIgn"} {
		v, ok := statusField(b, f)
		if !ok {
			return true
		}
		mask, err := strconv.ParseUint(v, 16, 64)
		if err != nil || mask&(1<<(uint(sig)-1)) != 0 {
			return true
		}
	}
	return false
}

func (r *running) result(st *spawn.State, timedOut bool) *Result {
	res := &Result{
		ExitCode:      st.ExitCode(),
		Signal:        int(st.Signal()),
		TimedOut:      timedOut,
		WallSeconds:   time.Since(r.started).Seconds(),
		UserSeconds:   st.UserTime().Seconds(),
		SystemSeconds: st.SystemTime().Seconds(),
	}
	if st.Signal() != 0 {
		res.ExitCode = signalExitShift + int(st.Signal())
	}
	if r.cg != nil {
		if oom, peak, err := r.cg.Memory(); err == nil {
			res.OOMKilled = oom
			res.PeakMemoryBytes = int64(peak)
		}
	}
	return res
}

func socketPair() (mine, peer *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-peer"), nil
}

// statusField is the value of "name:" in a /proc/PID/status text.
func statusField(status []byte, name string) (string, bool) {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// isNamespaceInit reports whether an NSpid value ("4242\t1") says the
// process is pid 1 of a nested pid namespace.
func isNamespaceInit(nspid string) bool {
	f := strings.Fields(nspid)
	return len(f) >= 2 && f[len(f)-1] == "1"
}
