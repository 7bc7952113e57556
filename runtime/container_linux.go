package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/namespaces"
	"sbx.dev/sbx/runtime/cgroup"
	"sbx.dev/sbx/spawn"
	"sbx.dev/sbx/spec"
)

// CreateOptions are the arguments of `sbx create`.
type CreateOptions struct {
	Root, ID, Bundle string
	// PidFile, when set, receives the container process's pid.
	PidFile string
	// ConsoleSocket is the unix socket the terminal's master is sent to
	// (process.terminal); "" for none.
	ConsoleSocket string
	// PreserveFDs passes fds 3 … 3+PreserveFDs-1 on to the process.
	PreserveFDs int
	// Stdin, Stdout and Stderr are the process's without a terminal.
	Stdin, Stdout, Stderr *os.File
	// Console is the process's end of a ConsolePair, for `sbx run` in the
	// foreground with a terminal and no ConsoleSocket.
	Console *os.File
}

// Create creates a container from its bundle: its process is set up in
// every namespace and waits at a gate (a FIFO in the state directory)
// until Start opens it. It outlives sbx: the caller's subreaper (a shim,
// conmon) reaps it. The container comes back locked.
func Create(o CreateOptions) (_ *Container, err error) {
	if err := checkID(o.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(bundle)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	ctr := &Container{spec: cfg, st: stateFile{
		ID: o.ID, Bundle: bundle, Created: time.Now().UTC(), Owner: os.Geteuid(), Config: raw,
	}}
	if err := json.Unmarshal(raw, &ctr.view); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	dir := filepath.Join(o.Root, o.ID)
	if ctr.lock, err = newStateDir(dir); err != nil {
		return nil, err
	}
	ctr.dir = dir
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			os.RemoveAll(dir) // under the lock: no verb takes what is left
			ctr.lock.Close()
		}
	}()
	proc, err := ctr.create(o, &undo)
	if err != nil {
		return nil, err
	}
	ctr.proc = proc
	if err := ctr.save(); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writeAtomic(o.PidFile, []byte(strconv.Itoa(proc.Pid())), 0o644); err != nil {
			return nil, fmt.Errorf("--pid-file: %w", err)
		}
	}
	return ctr, nil
}

// newStateDir makes a container's state directory, dir, and returns it
// locked. It is made under another name with its lock and renamed into
// place, so that no verb ever finds it without one: a create killed in
// between left a directory that nothing could lock or remove.
func newStateDir(dir string) (*os.File, error) {
	id := filepath.Base(dir)
	taken := fmt.Errorf("container %s already exists", id)
	if _, err := os.Lstat(dir); err == nil {
		return nil, taken
	}
	// ':' is in no id: List never takes it for a container.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new:"+id+":")
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	lock, err := lockDir(tmp, true)
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) { // a file system without RENAME_NOREPLACE
			err = os.Rename(tmp, dir)
		}
		switch {
		case errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY):
			err = taken
		case err != nil:
			err = fmt.Errorf("state directory: %w", err)
		}
		if err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return lock, nil
}

// preservedFiles are fds 3 … 3+n-1, for --preserve-fds n: each must be
// open (a count beyond what the caller has fails at the first closed fd,
// not after a loop as long as the count).
func preservedFiles(n int) ([]*os.File, error) {
	if n < 0 {
		return nil, fmt.Errorf("--preserve-fds: %d is negative", n)
	}
	var files []*os.File
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: fd %d is not open", n, fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return files, nil
}

// create starts the process at its gate and runs the create-time hooks;
// what it sets up is undone (in reverse) by the caller on failure.
func (c *Container) create(o CreateOptions, undo *[]func()) (*spawn.Process, error) {
	s := c.spec
	opts := cmdOptions{container: true}
	var err error
	if opts.extraFiles, err = preservedFiles(o.PreserveFDs); err != nil {
		return nil, err
	}
	switch {
	case s.Process.Terminal && o.ConsoleSocket != "":
		sock, err := dialConsole(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer sock.Close()
		opts.console = sock
	case s.Process.Terminal && o.Console != nil:
		opts.console = o.Console
	case s.Process.Terminal:
		return nil, errors.New("process.terminal is set: --console-socket is required")
	case o.ConsoleSocket != "":
		return nil, errors.New("--console-socket given, but process.terminal is not set")
	}
	cg, err := containerCgroup(o.ID, s)
	if err != nil {
		return nil, err
	}
	if cg != nil {
		*undo = append(*undo, func() { cg.Kill(); cg.Delete() })
		ref := cg.Ref()
		c.st.Cgroup = &ref
		opts.cgroup = cg
		// Until state.json has it: for RemoveLeftover, should this
		// sbx be killed before.
		b, err := json.Marshal(ref)
		if err == nil {
			err = writeAtomic(filepath.Join(c.dir, cgroupFile), b, 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	if opts.seccomp, err = compileSeccomp(s.Linux.Seccomp, ""); err != nil {
		return nil, err
	}
	opts.paused = c.creationHooks(s.Hooks)
	if dsts := namespaces.CopyUps(s.Mounts); len(dsts) > 0 {
		hooks := opts.paused
		opts.paused = func(pid int) error {
			if err := copyUp(pid, s.Root.Path, dsts); err != nil {
				return err
			}
			if hooks != nil {
				return hooks(pid)
			}
			return nil
		}
	}
	cmd, release, err := command(s, opts)
	if err != nil {
		return nil, err
	}
	defer release()
	if !s.Process.Terminal {
		if err := checkStdio(o.Stdin, o.Stdout, o.Stderr); err != nil {
			return nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	gate, err := c.makeGate()
	if err != nil {
		return nil, err
	}
	defer gate.Close()
	cmd.Gate = gate
	cmd.Adoptable = true // reaped by the caller's subreaper once sbx exits
	proc, err := cmd.Start()
	if err != nil {
		return nil, startError(blameMount(s.Mounts, err))
	}
	*undo = append(*undo, func() { proc.Signal(unix.SIGKILL); waitGone(proc); proc.Close() })
	c.st.Init = proc.Identity()
	if err := writeTimeOffsets(proc.Pid(), s.Linux.TimeOffsets); err != nil {
		return nil, err
	}
	if opts.seccomp != nil {
		if err := sendListener(opts.seccomp.ListenerPath, s.Linux.Seccomp.ListenerMetadata, proc, c.ociState(StatusCreating, proc.Pid())); err != nil {
			return nil, err
		}
	}
	if err := checkExecutable(proc.Pid(), s.Process); err != nil {
		return nil, err
	}
	return proc, nil
}

// blameMount names the mount behind a failure of the child's mount steps,
// which give only the destination (the kernel refusing a tmpfs option,
// say): `config.json: mounts[7] (tmpfs on /scratch, options
// "nosuid,size=abc"): spawn: mount tmpfs "/scratch": invalid argument`.
// A failure two mounts could have caused is left as it was.
func blameMount(mounts []specs.Mount, err error) error {
	var se *spawn.Error
	if !errors.As(err, &se) {
		return err
	}
	found := -1
	for i, m := range mounts {
		if path.Clean(m.Destination) != se.Path || !mountStep(m, se.Op) {
			continue
		}
		if found >= 0 {
			return err
		}
		found = i
	}
	if found < 0 {
		return err
	}
	m := mounts[found]
	return fmt.Errorf("config.json: mounts[%d] (%s on %s, options %q): %w", found, m.Type, m.Destination, strings.Join(m.Options, ","), err)
}

// mountStep reports whether op is one of the steps namespaces plans for
// mount m (see builder.mount): not those of the /dev nodes, the terminal
// or the root, whatever their destination.
func mountStep(m specs.Mount, op string) bool {
	switch {
	case op == "create mount point" || op == "mount "+m.Type:
		return true
	case m.Type == "cgroup":
		return op == "mount cgroup2" || op == "mount tmpfs" || op == "bind /sys/fs/cgroup on"
	}
	return op == "bind "+m.Source+" on" || op == "bind id-mapped "+m.Source+" on"
}

// loadConfig reads the bundle's config.json.
func loadConfig(bundle string) (*specs.Spec, error) {
	b, err := spec.ReadRegular(filepath.Join(bundle, "config.json"), 0)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bundle, "config.json"), err)
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return nil, fmt.Errorf("config.json: ociVersion %q: only 1.x is supported", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, errors.New("config.json: root.path is required")
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	if st, err := os.Stat(s.Root.Path); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("config.json: root.path %s is not a directory", s.Root.Path)
	}
	if s.Process == nil {
		return nil, errors.New("config.json: process is required")
	}
	if !filepath.IsAbs(s.Process.Cwd) {
		return nil, fmt.Errorf("config.json: process.cwd %q is not absolute", s.Process.Cwd)
	}
	if err := checkEnv(s.Process.Env); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	for i, m := range s.Mounts {
		// The runtime-spec: a relative destination (deprecated) is
		// relative to "/"; runc takes it so, with a warning.
		if m.Destination != "" && !path.IsAbs(m.Destination) {
			warn("config.json: mounts[%d].destination %q is not absolute: taken as /%s (deprecated by the runtime-spec)", i, m.Destination, m.Destination)
			s.Mounts[i].Destination = "/" + m.Destination
		}
	}
	if s.Linux == nil {
		return nil, errors.New("config.json: linux is required on Linux")
	}
	if err := checkConfig(&s); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return &s, nil
}

// containerCgroup creates the container's cgroup at linux.cgroupsPath
// (default /sbx/ID). Rootless (Rootless) and without limits asked, a host
// that gives no cgroup means none, as under runc: pause, ps and kill --all
// then fail. Device rules are no limit there: a user namespace already
// keeps the container from making or opening devices beyond the caller's
// (rootless podman sends its defaults).
func containerCgroup(id string, s *specs.Spec) (*cgroup.Group, error) {
	path := s.Linux.CgroupsPath
	if path == "" {
		path = "/sbx/" + id
	}
	cg, err := cgroup.NewAt(path, withDefaultDevices(s.Linux))
	if err != nil && Rootless() && !asksLimits(s.Linux.Resources) && errors.Is(err, cgroup.ErrUnavailable) {
		return nil, nil
	}
	return cg, err
}

// asksLimits tells whether r limits anything but device access.
func asksLimits(r *specs.LinuxResources) bool {
	return r != nil && (r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil ||
		len(r.HugepageLimits) > 0 || r.Network != nil || len(r.Rdma) > 0 || len(r.Unified) > 0)
}

// defaultDevices are the device rules every container gets after the
// spec's, as runc and crun add them: mknod of any node, and the nodes of
// a minimal /dev (null, zero, full, tty, random, urandom, ptmx and the
// pty slaves). containerd and podman send "deny all" and rely on them.
var defaultDevices = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"}, {Allow: true, Type: "b", Access: "m"},
	dev(1, 3), dev(1, 5), dev(1, 7), dev(5, 0), dev(1, 8), dev(1, 9), dev(5, 2),
	{Allow: true, Type: "c", Major: ptr(int64(136)), Access: "rwm"},
}

func dev(major, minor int64) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
}

func ptr[T any](v T) *T { return &v }

// withDefaultDevices is lx's resources with the default device rules and
// one for each of lx.Devices after the spec's own rules, when it has
// any; the spec is not changed.
func withDefaultDevices(lx *specs.Linux) *specs.LinuxResources {
	r := lx.Resources
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	out := *r
	out.Devices = append(append([]specs.LinuxDeviceCgroup{}, r.Devices...), defaultDevices...)
	for _, d := range lx.Devices {
		t := d.Type
		switch t {
		case "p":
			continue // a FIFO is no device to the device controller
		case "u":
			t = "c"
		}
		out.Devices = append(out.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: t, Major: ptr(d.Major), Minor: ptr(d.Minor), Access: "rwm"})
	}
	return &out
}

func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	return f, nil
}

// makeGate creates the FIFO the process waits on and opens it read-write
// (which does not block): the process reads one byte from it.
func (c *Container) makeGate() (*os.File, error) {
	path := filepath.Join(c.dir, "gate")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
}

// checkExecutable looks for the process's program inside the container's
// root (the process waits at its gate, so its root is in place), so that
// create fails on a missing one instead of the process ending with 127.
// A file that is there but not executable (or a directory) is
// "permission denied", as execve says, not "not found".
func checkExecutable(pid int, p *specs.Process) error {
	root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("checking process.args[0]: %w", err)
	}
	defer unix.Close(root)
	name := p.Args[0]
	var candidates []string
	switch {
	case strings.HasPrefix(name, "/"):
		candidates = []string{name}
	case strings.Contains(name, "/"):
		candidates = []string{filepath.Join(p.Cwd, name)}
	default:
		path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		for _, e := range p.Env {
			if v, ok := strings.CutPrefix(e, "PATH="); ok {
				path = v
			}
		}
		for _, d := range filepath.SplitList(path) {
			if d == "" {
				d = "."
			}
			if !filepath.IsAbs(d) {
				d = filepath.Join(p.Cwd, d)
			}
			candidates = append(candidates, filepath.Join(d, name))
		}
	}
	denied := false // a candidate is there but is no executable file
	for _, cand := range candidates {
		how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT}
		fd, err := unix.Openat2(root, cand, how)
		for tries := 0; err == unix.EAGAIN && tries < 64; tries++ { // a mount raced the lookup
			fd, err = unix.Openat2(root, cand, how)
		}
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return nil
		}
		denied = true
	}
	// execve(2) and execvp(3) fail with EACCES then, and podman and
	// Docker map "permission denied" to exit status 126, "not found" to 127.
	if denied {
		return fmt.Errorf("exec: %q: permission denied (process.args[0] is not an executable file)", name)
	}
	return fmt.Errorf("exec: %q: executable file not found in the container (process.args[0], PATH of process.env)", name)
}

// status is the container's OCI status, with a handle on its process
// when it is alive (the caller closes it).
func (c *Container) status() (specs.ContainerState, *spawn.Process) {
	p, err := spawn.Open(c.st.Init.Pid, c.st.Init)
	if err != nil {
		return StatusStopped, nil
	}
	if zombie(p.Pid()) {
		p.Close()
		return StatusStopped, nil
	}
	// A start killed after it let the process go, before it recorded
	// that, leaves the process running with Started unset.
	if !c.st.Started && c.atGate() {
		return StatusCreated, p
	}
	if cg := c.cgroup(); cg != nil {
		if paused, err := cg.Paused(); err == nil && paused {
			return StatusPaused, p
		}
	}
	return StatusRunning, p
}

// atGate reports whether the container's process still waits at its gate:
// the gate FIFO has a reader, the process (which holds it open until it
// has read start's byte and execs), only then.
func (c *Container) atGate() bool {
	fd, err := unix.Open(filepath.Join(c.dir, "gate"), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // ENXIO: no reader; ENOENT: start removed it
	}
	unix.Close(fd)
	return true
}

// zombie reports whether pid has exited and waits to be reaped (state Z
// in /proc/PID/stat); a gone pid is not a zombie.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// cgroup reopens the container's cgroup; nil when it has none or it is
// gone.
func (c *Container) cgroup() *cgroup.Group {
	if c.st.Cgroup == nil {
		return nil
	}
	if c.cg == nil {
		c.cg, _ = cgroup.Load(*c.st.Cgroup)
	}
	return c.cg
}

// State is the container's OCI state.
func (c *Container) State() specs.State {
	status, p := c.status()
	pid := 0
	if p != nil {
		pid = p.Pid()
		p.Close()
	}
	return c.ociState(status, pid)
}

func (c *Container) ociState(status specs.ContainerState, pid int) specs.State {
	return specs.State{
		Version: specs.Version, ID: c.st.ID, Status: status, Pid: pid,
		Bundle: c.st.Bundle, Annotations: c.view.Annotations,
	}
}

// Start lets the created process go on to exec its program.
func (c *Container) Start() error {
	status, p := c.status()
	if p != nil {
		defer p.Close()
	}
	if status != StatusCreated {
		return fmt.Errorf("cannot start container %s: it is %s, not created", c.st.ID, status)
	}
	state := c.ociState(StatusCreated, p.Pid())
	if h := c.view.Hooks; h != nil && len(h.StartContainer) > 0 {
		// Inside, the pid is the one the container sees.
		inside := state
		inside.Pid = nsPid(p.Pid())
		if err := c.runInside(h.StartContainer, inside); err != nil {
			// The runtime-spec: a failed startContainer hook stops the
			// container (under runc its init, which runs them, exits).
			c.Signal(unix.SIGKILL, true)
			return err
		}
	}
	// The process goes on first and Started is recorded after, so that a
	// start killed in between leaves the container created or running
	// (status tells which), never "running" at its gate.
	gate := filepath.Join(c.dir, "gate")
	f, err := os.OpenFile(gate, os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot start container %s: its process is gone (%v)", c.st.ID, err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("cannot start container %s: %w", c.st.ID, err)
	}
	os.Remove(gate)
	c.st.Started = true
	if err := c.save(); err != nil {
		return err
	}
	state.Status = StatusRunning
	if h := c.view.Hooks; h != nil {
		warnHooks("poststart", h.Poststart, state)
	}
	return nil
}

// Signal sends sig to the container's process, or with all to every
// process in its cgroup.
//
// A created container's process waits at its gate, in sbx's code, as the
// init of its pid namespace, which the kernel gives no signal it has no
// handler for but SIGKILL and SIGSTOP: SIGTERM to it was dropped, and a
// StopContainer waited out its grace period. A signal whose default action
// ends the process is sent as SIGKILL then, as what it was meant to do
// (under runc its Go init dies of it).
func (c *Container) Signal(sig syscall.Signal, all bool) error {
	status, p := c.status()
	if p == nil {
		// Its process has exited. Without a pid namespace of its own what
		// it started may live on in its cgroup, which kill --all reaches,
		// as under runc (containerd's shim sends it once the init exits).
		if cg := c.cgroup(); all && cg != nil && !c.ownPIDNamespace() {
			return signalCgroup(cg, sig)
		}
		return fmt.Errorf("cannot signal container %s: %w", c.st.ID, ErrNotRunning)
	}
	defer p.Close()
	if status == StatusCreated && c.ownPIDNamespace() && terminates(sig) {
		sig = unix.SIGKILL
	}
	if !all {
		if err := p.Signal(sig); err != nil {
			return fmt.Errorf("cannot signal container %s: %w (no such process)", c.st.ID, err)
		}
		return nil
	}
	if cg := c.cgroup(); cg != nil {
		return signalCgroup(cg, sig)
	}
	return p.Signal(sig)
}

// signalCgroup sends sig to every process in cg: SIGKILL through Kill,
// which no fork escapes and which returns once none is left.
func signalCgroup(cg *cgroup.Group, sig syscall.Signal) error {
	if sig == unix.SIGKILL {
		return cg.Kill()
	}
	return cg.Signal(sig)
}

// Delete removes a stopped (or, with force, any) container: its
// processes, its cgroup, its state; then runs the poststop hooks.
func (c *Container) Delete(force bool) error {
	status, p := c.status()
	if p != nil {
		defer p.Close()
		// The runtime-spec: deleting a container that is not stopped
		// (created, too, unlike runc) is an error without --force.
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s (kill it first, or delete --force)", c.st.ID, status)
		}
		p.Signal(unix.SIGKILL)
	}
	if cg := c.cgroup(); cg != nil {
		cg.Kill()
	}
	if p != nil && !waitGone(p) {
		return fmt.Errorf("cannot delete container %s: its process %d did not die", c.st.ID, p.Pid())
	}
	if cg := c.cgroup(); cg != nil {
		if err := cg.Delete(); err != nil {
			return err
		}
	}
	if h := c.view.Hooks; h != nil {
		warnHooks("poststop", h.Poststop, c.ociState(StatusStopped, 0))
	}
	return os.RemoveAll(c.dir)
}

// waitGone waits, boundedly, until p has exited; its pidfd polls
// readable then.
func waitGone(p *spawn.Process) bool {
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// Pause freezes every process of the container.
// A paused one is refused, as runc refuses it.
func (c *Container) Pause() error {
	cg, status, err := c.liveCgroup("pause")
	if err != nil {
		return err
	}
	if status == StatusPaused {
		return fmt.Errorf("cannot pause container %s: it is paused already", c.st.ID)
	}
	return cg.Freeze()
}

// Resume thaws it; one that is not paused is refused, as runc refuses it.
func (c *Container) Resume() error {
	cg, status, err := c.liveCgroup("resume")
	if err != nil {
		return err
	}
	if status != StatusPaused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused", c.st.ID, status)
	}
	return cg.Thaw()
}

// Update applies new resource limits.
func (c *Container) Update(res *specs.LinuxResources) error {
	cg, _, err := c.liveCgroup("update")
	if err != nil {
		return err
	}
	return cg.Update(res)
}

// Pids lists the container's processes (host pids).
func (c *Container) Pids() ([]int, error) {
	cg := c.cgroup()
	if cg == nil {
		_, p := c.status()
		if p == nil {
			return []int{}, nil
		}
		defer p.Close()
		return []int{p.Pid()}, nil
	}
	return cg.Pids()
}

// Stats is what the container's cgroup reports.
func (c *Container) Stats() (cgroup.Stats, error) {
	cg, _, err := c.liveCgroup("stats")
	if err != nil {
		return cgroup.Stats{}, err
	}
	return cg.Stats()
}

func (c *Container) liveCgroup(verb string) (*cgroup.Group, specs.ContainerState, error) {
	status, p := c.status()
	if p != nil {
		p.Close()
	}
	if status == StatusStopped {
		return nil, status, fmt.Errorf("cannot %s container %s: %w", verb, c.st.ID, ErrNotRunning)
	}
	cg := c.cgroup()
	if cg == nil {
		return nil, status, fmt.Errorf("cannot %s container %s: it has no cgroup", verb, c.st.ID)
	}
	return cg, status, nil
}

// nsPid is process pid as its own pid namespace numbers it (the last
// NSpid of /proc/PID/status); pid itself when that cannot be read.
func nsPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return pid
	}
	v, _ := statusField(b, "NSpid")
	f := strings.Fields(v)
	if len(f) == 0 {
		return pid
	}
	if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
		return n
	}
	return pid
}

// ownPIDNamespace reports whether the container's process is the init of
// a pid namespace of its own (a "pid" namespace without a path).
func (c *Container) ownPIDNamespace() bool {
	lx := c.view.Linux
	if lx == nil {
		return false
	}
	for _, ns := range lx.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return ns.Path == ""
		}
	}
	return false
}

// terminates reports whether sig's default action ends the process
// (signal(7): Term or Core), SIGKILL aside.
func terminates(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH,
		unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return sig > 0 && sig <= 64 // SIGRTMAX
}

// checkConfig refuses, by field, what the kernel would refuse later with
// an error that names only a system call: a host or domain name longer
// than 64 bytes, an oomScoreAdj out of range, empty or
// overlapping id map ranges, an rlimit given twice.
func checkConfig(s *specs.Spec) error {
	for _, n := range []struct{ field, v string }{{"hostname", s.Hostname}, {"domainname", s.Domainname}} {
		if len(n.v) > 64 {
			return fmt.Errorf("%s: %d bytes, more than the kernel's 64", n.field, len(n.v))
		}
	}
	if a := s.Process.OOMScoreAdj; a != nil && (*a < -1000 || *a > 1000) {
		return fmt.Errorf("process.oomScoreAdj: %d is not between -1000 and 1000", *a)
	}
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", s.Linux.UIDMappings}, {"linux.gidMappings", s.Linux.GIDMappings}} {
		ms := make([]spec.IDMapping, len(m.maps))
		for i, r := range m.maps {
			ms[i] = spec.IDMapping(r)
		}
		if f, problem := spec.IDRangesProblem(m.field, ms); problem != "" {
			return fmt.Errorf("%s: %s", f, problem)
		}
	}
	seen := map[string]int{}
	for i, r := range s.Process.Rlimits {
		if j, ok := seen[r.Type]; ok {
			return fmt.Errorf("process.rlimits[%d]: %s is given already, in process.rlimits[%d]", i, r.Type, j)
		}
		seen[r.Type] = i
	}
	return nil
}

// checkEnv refuses an environment entry without "=", as runc does: the
// program would get a variable it cannot read (or none, as a shell drops it).
func checkEnv(env []string) error {
	for i, e := range env {
		if name, _, ok := strings.Cut(e, "="); !ok || name == "" {
			return fmt.Errorf("process.env[%d]: %q is not NAME=VALUE", i, e)
		}
	}
	return nil
}
