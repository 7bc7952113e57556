package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/namespaces"
	"sbx.dev/sbx/spawn"
)

// ExecOptions are the arguments of `sbx exec`.
type ExecOptions struct {
	Process       *specs.Process
	PidFile       string
	ConsoleSocket string
	PreserveFDs   int
	// Stdin, Stdout and Stderr are the process's without a terminal.
	Stdin, Stdout, Stderr *os.File
	// Console is sbx's own end of the terminal socket, for a foreground
	// exec with a terminal and no ConsoleSocket.
	Console *os.File
}

// enter is how a new process joins the running container: all its
// namespaces at once through its process's pidfd (setns(2), Linux 5.8)
// and its cgroup. A time namespace is not entered (see timens_linux.go):
// without offsets its clocks are the host's anyway, and with them Exec
// gives the process a time namespace with the same offsets. closeAll
// releases what it opened.
func (c *Container) enter() (lx *spawn.Linux, closeAll func(), err error) {
	status, p := c.status()
	if p == nil || status == StatusStopped {
		return nil, nil, fmt.Errorf("container %s: %w", c.st.ID, ErrNotRunning)
	}
	defer p.Close()
	if status == StatusPaused {
		return nil, nil, fmt.Errorf("container %s: %w", c.st.ID, ErrPaused)
	}
	fd, err := unix.Dup(int(p.Fd()))
	if err != nil {
		return nil, nil, err
	}
	lx, closeAll, err = c.enterPidfd(os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(p.Pid())))
	if err != nil || c.ownMounts() {
		return lx, closeAll, err
	}
	// In sbx's own mount namespace the container's root is a chroot,
	// which only its process's root directory leads to.
	root, err := c.openOfProcess(p, "root", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	lx.Root = root
	closeJoined := closeAll
	return lx, func() { closeJoined(); root.Close() }, nil
}

// ownMounts reports whether the container has a mount namespace of its
// own (created or joined); without, it runs in the mount namespace sbx
// created it from, chrooted into a detached tree.
func (c *Container) ownMounts() bool {
	return c.namespaceTypes()&spawn.NewMount != 0
}

// errPIDNamespaceRootless: entering a pid namespace (setns(2)) takes
// CAP_SYS_ADMIN in the caller's own user namespace as well as in the
// namespace's; sbx enters it from its own thread before clone3, because a
// process joins a pid namespace only at its creation. A caller without it
// enters the container's user namespace first (UserNamespaceFirst).
var errPIDNamespaceRootless = errors.New("cannot enter the container's pid namespace without CAP_SYS_ADMIN in the caller's own user namespace: " +
	"enter the container's user namespace first (Container.UserNamespaceFirst; `sbx exec` and `sbx start` do), or run as root")

// UserNamespaceFirst is the container's user namespace when the caller
// must be in it before Exec can enter the container's pid namespace: the
// caller lacks CAP_SYS_ADMIN in its own user namespace, and the
// container has a pid and a user namespace of its own. nil when not
// needed. A user namespace is entered only by a single-threaded process
// (setns(2)), which a Go program is only before its runtime starts: `sbx
// exec` executes itself again to enter it there.
func (c *Container) UserNamespaceFirst() (*os.File, error) {
	types := c.namespaceTypes()
	if types&spawn.NewPID == 0 || types&spawn.NewUser == 0 || effectiveCap(unix.CAP_SYS_ADMIN) {
		return nil, nil
	}
	status, p := c.status()
	if p == nil || status == StatusStopped {
		return nil, fmt.Errorf("container %s: %w", c.st.ID, ErrNotRunning)
	}
	defer p.Close()
	ns, err := c.openOfProcess(p, "ns/user", unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	if sameFile(ns, "/proc/self/ns/user") {
		ns.Close()
		return nil, nil // already in it: Exec can go on
	}
	return ns, nil
}

// openOfProcess opens a file of p's /proc directory; p still alive after
// the open means its pid named it.
func (c *Container) openOfProcess(p *spawn.Process, name string, flags int) (*os.File, error) {
	f, err := os.OpenFile("/proc/"+strconv.Itoa(p.Pid())+"/"+name, flags|unix.O_CLOEXEC, 0)
	if err == nil && p.Signal(syscall.Signal(0)) != nil {
		f.Close()
		err = ErrNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", c.st.ID, name, err)
	}
	return f, nil
}

// sameFile reports whether f is the file at path (a namespace, say).
func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// namespaceTypes are the CLONE_NEW* flags of the namespaces the config
// lists (made or joined).
func (c *Container) namespaceTypes() uintptr {
	var types uintptr
	if c.view.Linux == nil {
		return 0
	}
	for _, ns := range c.view.Linux.Namespaces {
		types |= nsFlags[ns.Type]
	}
	return types
}

// effectiveCap reports whether the calling thread has capability n
// effective (capget(2)).
func effectiveCap(n int) bool {
	var data [2]unix.CapUserData
	if err := unix.Capget(&unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}, &data[0]); err != nil {
		return false
	}
	return data[n/32].Effective&(1<<(n%32)) != 0
}

// enterPidfd is enter for the process of pidfd, which it takes.
func (c *Container) enterPidfd(pidfd *os.File) (lx *spawn.Linux, closeAll func(), err error) {
	types := c.namespaceTypes() &^ spawn.NewTime
	if types&spawn.NewUser != 0 && inUserNamespaceOf(pidfd) {
		// Entered already (UserNamespaceFirst); entering it again
		// fails (setns(2): EINVAL).
		types &^= spawn.NewUser
	}
	if types&spawn.NewPID != 0 && !effectiveCap(unix.CAP_SYS_ADMIN) {
		pidfd.Close()
		return nil, nil, errPIDNamespaceRootless
	}
	lx = &spawn.Linux{Setsid: true}
	files := []*os.File{pidfd}
	closeAll = func() {
		for _, f := range files {
			f.Close()
		}
	}
	if types != 0 {
		lx.Join = []spawn.Namespace{{File: pidfd, Type: types}}
	}
	if cg := c.cgroup(); cg != nil {
		if dir := cg.Dir(); dir != nil {
			lx.Cgroup = dir
		} else {
			lx.Prepare = cg.Add
		}
	}
	return lx, closeAll, nil
}

// Exec starts a new process in the running container, with the
// container's seccomp filter and the process's own credentials,
// capabilities, rlimits and no_new_privs. It is the caller's child.
func (c *Container) Exec(o ExecOptions) (*spawn.Process, error) {
	p := o.Process
	if p == nil || len(p.Args) == 0 || p.Args[0] == "" {
		return nil, errors.New("process.args: the program (args[0]) is empty")
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if !strings.HasPrefix(p.Cwd, "/") {
		return nil, fmt.Errorf("process.cwd %q is not absolute", p.Cwd)
	}
	if err := checkEnv(p.Env); err != nil {
		return nil, err
	}
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	s := *cfg
	s.Process = p
	if err := unsupported(&s); err != nil {
		return nil, err
	}
	lx, closeAll, err := c.enter()
	if err != nil {
		return nil, err
	}
	defer closeAll()
	lx.NoNewPrivs = p.NoNewPrivileges
	u := p.User
	if err := checkUser(u); err != nil {
		return nil, err
	}
	lx.Credential = &spawn.Credential{UID: u.UID, GID: u.GID, Groups: append([]uint32{}, u.AdditionalGids...),
		KeepGroups: setgroupsDenied(c.st.Init.Pid)}
	if lx.Capabilities, err = capabilities(p.Capabilities, false); err != nil {
		return nil, err
	}
	if lx.Rlimits, err = rlimits(p.Rlimits); err != nil {
		return nil, err
	}
	f, err := compileSeccomp(s.Linux.Seccomp, "")
	if err != nil {
		return nil, err
	}
	setSeccomp(lx, f)
	env := withHome(p.Env, "/proc/"+strconv.Itoa(c.st.Init.Pid)+"/root", u.UID)
	cmd := &spawn.Cmd{Path: p.Args[0], Args: p.Args, Env: env, Dir: p.Cwd, Linux: lx, Adoptable: true}
	if cmd.ExtraFiles, err = preservedFiles(o.PreserveFDs); err != nil {
		return nil, err
	}
	offsets := s.Linux.TimeOffsets
	setup := namespaces.Options{AppArmor: p.ApparmorProfile, UnshareTime: len(offsets) > 0, ConsoleSize: p.ConsoleSize}
	switch {
	case p.Terminal && o.ConsoleSocket != "":
		sock, err := dialConsole(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer sock.Close()
		setup.Console = sock
		cmd.ExtraFiles = append(cmd.ExtraFiles, sock)
	case p.Terminal && o.Console != nil:
		setup.Console = o.Console
		cmd.ExtraFiles = append(cmd.ExtraFiles, o.Console)
	case p.Terminal:
		return nil, errors.New("process.terminal is set: --console-socket is required with --detach")
	case o.ConsoleSocket != "":
		return nil, errors.New("--console-socket given, but process.terminal is not set")
	default:
		if err := checkStdio(o.Stdin, o.Stdout, o.Stderr); err != nil {
			return nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	if setup.Console != nil {
		lx.Setctty, lx.Ctty = true, 0
	}
	prog, err := namespaces.Enter(setup)
	if err != nil {
		return nil, err
	}
	if err := processSetup(prog, &s, false); err != nil {
		return nil, err
	}
	if err := execAffinity(prog, p.ExecCPUAffinity); err != nil {
		return nil, err
	}
	lx.Setup = prog
	var gate *os.File
	listener := f != nil && f.ListenerPath != ""
	if listener || len(offsets) > 0 {
		// The listener is taken, and the time offsets written, while
		// the process waits at a gate.
		var err error
		if cmd.Gate, gate, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer cmd.Gate.Close()
		defer gate.Close()
	}
	// As create does: a missing or non-executable program is named as
	// such ("not found", "permission denied"), which callers turn into
	// exit codes, before anything starts.
	if err := checkExecutable(c.st.Init.Pid, p); err != nil {
		return nil, err
	}
	proc, err := cmd.Start()
	if err != nil {
		return nil, startError(err)
	}
	if gate != nil {
		err := writeTimeOffsets(proc.Pid(), offsets)
		if err == nil && listener {
			err = sendListener(f.ListenerPath, s.Linux.Seccomp.ListenerMetadata, proc, c.ociState(StatusRunning, c.st.Init.Pid))
		}
		if err == nil {
			_, err = gate.Write([]byte{0})
		}
		if err != nil {
			proc.Signal(unix.SIGKILL)
			proc.Wait()
			proc.Close()
			return nil, err
		}
	}
	if o.PidFile != "" {
		if err := writeAtomic(o.PidFile, []byte(strconv.Itoa(proc.Pid())), 0o644); err != nil {
			proc.Signal(unix.SIGKILL)
			proc.Wait()
			proc.Close()
			return nil, fmt.Errorf("--pid-file: %w", err)
		}
	}
	return proc, nil
}

// setgroupsDenied reports whether the user namespace of pid denies
// setgroups(2).
func setgroupsDenied(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// pidfdGetUserNamespace is PIDFD_GET_USER_NAMESPACE, _IO(0xFF, 9) of
// linux/pidfd.h (Linux 6.11): an fd of the user namespace of a pidfd's
// process.
const pidfdGetUserNamespace = 0xff09

// inUserNamespaceOf reports whether the caller is in the user namespace
// of pidfd's process.
func inUserNamespaceOf(pidfd *os.File) bool {
	fd, err := unix.IoctlRetInt(int(pidfd.Fd()), pidfdGetUserNamespace)
	if err != nil {
		return inUserNamespaceOfPid(pidfd)
	}
	ns := os.NewFile(uintptr(fd), "user namespace")
	defer ns.Close()
	return sameFile(ns, "/proc/self/ns/user")
}

// execAffinity plans process.execCPUAffinity: the child, already in the
// container's cgroup when it runs its set-up (created there by clone3, or
// moved there before it runs any), takes the final affinity. There is no
// earlier phase for the initial one, which is for a runtime's own process
// running outside the container's cgroup first (runc's init); it is
// checked, and has nothing to apply to.
func execAffinity(prog *spawn.Program, a *specs.CPUAffinity) error {
	if a == nil {
		return nil
	}
	if a.Initial != "" {
		if _, err := listMask(a.Initial); err != nil {
			return fmt.Errorf("process.execCPUAffinity.initial: %w", err)
		}
	}
	if a.Final == "" {
		return nil
	}
	mask, err := listMask(a.Final)
	if err != nil {
		return fmt.Errorf("process.execCPUAffinity.final: %w", err)
	}
	prog.Step("sched_setaffinity", a.Final)
	prog.Call(unix.SYS_SCHED_SETAFFINITY, spawn.Int(0), spawn.Int(len(mask)), spawn.Bytes(mask))
	return nil
}

// inUserNamespaceOfPid is inUserNamespaceOf before Linux 6.11: through
// /proc/PID/ns/user of the pid the pidfd's fdinfo names, its process
// still alive after the open.
func inUserNamespaceOfPid(pidfd *os.File) bool {
	info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(pidfd.Fd())))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(info), "\nPid:")
	pid, _, _ := strings.Cut(strings.TrimSpace(rest), "\n")
	if !ok || pid == "" {
		return false
	}
	ns, err := os.Open("/proc/" + pid + "/ns/user")
	if err != nil {
		return false
	}
	defer ns.Close()
	return unix.PidfdSendSignal(int(pidfd.Fd()), 0, nil, 0) == nil && sameFile(ns, "/proc/self/ns/user")
}
