package namespaces

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

// Options are what Setup needs besides the spec.
type Options struct {
	// SkeletonRoot assembles a read-only root as a tmpfs holding a
	// recursive bind mount of each top-level entry of Root.Path (its
	// symlinks copied), instead of binding Root.Path itself. Mount points
	// for the spec's mounts are then created in the tmpfs, never in the
	// host's tree, which a read-only root could not take anyway. The
	// entries proc, dev, sys and run are left out (empty directories):
	// /run holds the host's service sockets (a read-only bind does not stop
	// connect(2)), and the others are replaced by the spec's own mounts.
	SkeletonRoot bool
	// ImageRoot keeps the flags of the mount a bound Root.Path is on, as
	// runc does: an OCI image's setuid programs (sudo, su, ping) and
	// device nodes work, unless the config says noNewPrivileges. false
	// makes the root nosuid and nodev, as the sandbox has it.
	ImageRoot bool
	// Cwd, when set, is created with its missing parents (0755, as runc
	// does) if the new root lacks it, before the root is made read-only: an
	// image's WORKDIR or a pod's workingDir need not be in the image.
	Cwd string
	// CgroupTasks are cgroup v1 "tasks" files the child is given (the
	// Cmd's ExtraFiles): it writes "0" to each (joining those groups) and
	// closes it, first thing, before UnshareCgroup.
	CgroupTasks []*os.File
	// UnshareCgroup makes a new cgroup namespace first thing, for a child
	// created in its parent's cgroup and moved to its own by the parent
	// afterwards (cgroup v1 has no CLONE_INTO_CGROUP): the namespace's root
	// is then the child's own cgroup, as it is when clone3 creates both.
	UnshareCgroup bool
	// UnshareTime makes a new time namespace for the child's program
	// (unshare CLONE_NEWTIME: the child enters it at execve(2), its
	// offsets still unwritten until then), first thing after the cgroup
	// steps. The caller writes its offsets (/proc/PID/timens_offsets)
	// while the child waits at its gate: a namespace's offsets are frozen
	// once a process is in it, and clone3(CLONE_NEWTIME) puts the child in
	// at once.
	UnshareTime bool
	// Loopback brings up lo, the only interface of a new network
	// namespace (network_namespaces(7): it starts down).
	Loopback bool
	// Console, when set, is a connected unix socket the child is given
	// (one of the Cmd's ExtraFiles): the child opens a terminal in its own
	// devpts, makes it its stdin, stdout and stderr, and sends the master
	// over the socket as one SCM_RIGHTS message carrying one fd. nil means
	// no terminal. The caller sets spawn's Setsid and Setctty (Ctty 0) to
	// make it the controlling terminal.
	Console *os.File
	// ConsoleSize, when set, is the terminal's size (TIOCSWINSZ) before
	// its master is sent.
	ConsoleSize *specs.Box
	// Mknod creates the spec's linux.devices with mknod(2); false binds
	// the host's nodes instead, as a user namespace must.
	Mknod bool
	// Cgroups is what a mount of type "cgroup" shows: on cgroup v1, a
	// tmpfs holding a bind of each host directory here, by name
	// ("memory" → /sys/fs/cgroup/memory/sbx/ID); nil on cgroup v2, where
	// it is a cgroup2 mount (its root is the cgroup namespace's).
	Cgroups map[string]string
	// CgroupsHost makes a mount of type "cgroup" a bind of the host's
	// /sys/fs/cgroup, read-only throughout when the mount is: for a
	// container with no group of its own in the host's cgroup namespace
	// (rootless, nothing delegated), where mounting cgroup2 takes
	// privilege over that namespace, as runc falls back to.
	CgroupsHost bool
	// AppArmor is the profile to exec under; "" for none.
	AppArmor string
	// Pause stops the child (spawn.Program.Pause) once its mounts and
	// devices are made, before the masked and read-only paths and
	// pivot_root: where an OCI runtime runs its createContainer hooks in
	// the container's namespaces. They find the host's tree at "/" and the
	// container's root at Root.Path, as runc shows it to them.
	Pause bool
	// IDMapped maps the index in spec.Mounts of each id-mapped mount to
	// the detached mount IDMapped made for it, which the child is given
	// (one of the Cmd's ExtraFiles); the child attaches it and closes it.
	IDMapped map[int]*os.File
	// Detached is for a child that stays in its caller's mount namespace
	// (an OCI config without a mount namespace): its root is assembled as
	// a detached mount tree, never attached to the caller's, and entered
	// with chroot(2) instead of pivot_root(2); propagation of the
	// caller's mounts is left alone, and each clone of the caller's tree
	// is made a slave before anything is mounted on it. Nothing the child
	// mounts shows in the caller's tree, and the tree is gone with the
	// last process whose root it is. Inside, mount(2) fails: the tree is
	// in no mount namespace. It needs Linux 6.15 (mounts on a detached tree;
	// DetachedRoots says whether the kernel has them), and the
	// createContainer hooks (Pause) find Root.Path as it is on disk.
	Detached bool
}

// Setup plans the child's filesystem and network set-up for spec, run
// in its new mount namespace (and user namespace, when it has one). spec's
// Root.Path "" means an empty tmpfs root.
func Setup(spec *specs.Spec, o Options) (*spawn.Program, error) {
	if spec.Root == nil {
		return nil, errors.New("namespaces: spec has no root")
	}
	b := &builder{p: &spawn.Program{}, spec: spec, cgroups: o.Cgroups, cgroupsHost: o.CgroupsHost, mknod: o.Mknod, detached: o.Detached, imageRoot: o.ImageRoot}
	if err := b.plan(o); err != nil {
		return nil, err
	}
	if err := b.p.Err(); err != nil {
		return nil, err
	}
	return b.p, nil
}

// Enter plans what a process joining a running container's namespaces
// sets up itself: a time namespace, its terminal and AppArmor profile
// (Options.UnshareTime, Console, AppArmor); the rest of Options does not
// apply.
func Enter(o Options) (*spawn.Program, error) {
	b := &builder{p: &spawn.Program{}}
	if o.UnshareTime {
		b.unshareTime()
	}
	if o.Console != nil {
		b.terminal(o.Console, o.ConsoleSize, false)
	}
	if o.AppArmor != "" {
		b.apparmor(o.AppArmor)
	}
	return b.p, b.p.Err()
}

type builder struct {
	p    *spawn.Program
	spec *specs.Spec
	root spawn.FD // the new root mount, attached over "/" until pivot_root
	// host is the host's root directory, opened before the new root
	// covers it: every bind source is opened relative to it, so that no
	// lookup can land on the new root stacked over "/".
	host        spawn.FD
	cgroups     map[string]string // Options.Cgroups
	cgroupsHost bool              // Options.CgroupsHost
	proc        *spawn.FD         // the procfs mounted (or bound) at /proc, until sysctl
	mknod       bool
	detached    bool // Options.Detached
	imageRoot   bool // Options.ImageRoot
}

// hostPath is path relative to b.host.
func hostPath(path string) spawn.Arg {
	return spawn.Str(strings.TrimPrefix(filepath.Clean(path), "/"))
}

// cloneHost clones the host's tree at path (open_tree OPEN_TREE_CLONE)
// with extra flags (AT_RECURSIVE, AT_SYMLINK_NOFOLLOW).
// In a detached root (Options.Detached) the clone is made a slave, with
// every mount under it, first: a clone of a shared mount is its peer, and
// what is mounted on it would otherwise propagate back into the caller's
// tree (the rslave of "/" in a mount namespace of the container's own
// does the same for the others).
func (b *builder) cloneHost(path string, flags int) spawn.FD {
	if filepath.Clean(path) == "/" {
		flags |= unix.AT_EMPTY_PATH
	}
	fd := b.p.Open(unix.SYS_OPEN_TREE, b.host.Arg(), hostPath(path), spawn.Int(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|flags))
	if b.detached {
		b.setAttr(fd.Arg(), true, propagationAttr(unix.MS_SLAVE))
	}
	return fd
}

func (b *builder) plan(o Options) error {
	for _, f := range o.CgroupTasks {
		b.p.Step("join cgroup", f.Name())
		b.p.CallNonneg(unix.SYS_WRITE, spawn.File(f), spawn.Str("0"), spawn.Int(1))
		b.p.Call(unix.SYS_CLOSE, spawn.File(f))
	}
	if o.UnshareCgroup {
		b.p.Step("unshare", "cgroup namespace")
		b.p.Call(unix.SYS_UNSHARE, spawn.Int(unix.CLONE_NEWCGROUP))
	}
	if o.UnshareTime {
		b.unshareTime()
	}
	if !o.Detached {
		b.p.Step("make mounts slaves of the host's", "/")
		b.p.Call(unix.SYS_MOUNT, spawn.Str("none"), spawn.Str("/"), spawn.Int(0), spawn.Int(unix.MS_REC|unix.MS_SLAVE), spawn.Int(0))
	}
	b.p.Step("open", "/")
	b.host = b.p.Open(unix.SYS_OPENAT, spawn.Int(unix.AT_FDCWD), spawn.Str("/"), spawn.Int(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC), spawn.Int(0))
	if err := b.newRoot(o.SkeletonRoot); err != nil {
		return err
	}
	for i, m := range b.spec.Mounts {
		if err := b.mount(m, o.IDMapped[i]); err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
	}
	lx := b.spec.Linux
	if lx == nil {
		lx = &specs.Linux{}
	}
	if err := b.sysctl(lx.Sysctl); err != nil {
		return err
	}
	if b.proc != nil {
		b.p.Close(*b.proc)
		b.proc = nil
	}
	if b.devTmpfs() {
		b.devices(lx.Devices)
	}
	if err := b.specDevices(lx.Devices); err != nil {
		return err
	}
	if c := path.Clean("/" + o.Cwd); o.Cwd != "" && c != "/" {
		b.p.Step("create working directory", c)
		b.p.Close(b.mountPoint(c, true))
	}
	if o.Pause {
		b.p.Step("wait for the createContainer hooks", "")
		b.p.Pause()
	}
	b.maskPaths(lx.MaskedPaths)
	b.readonlyPaths(lx.ReadonlyPaths)
	b.p.Close(b.host)
	if b.detached {
		b.chroot()
	} else {
		b.pivot()
	}
	if b.spec.Root.Readonly {
		b.p.Step("make root read-only", b.rootName())
		b.setAttr(b.root.Arg(), false, mountAttr(unix.MOUNT_ATTR_RDONLY, 0))
	}
	if p := lx.RootfsPropagation; p != "" {
		o, err := parseOptions([]string{p})
		if err != nil || o.propagation == 0 {
			return fmt.Errorf("linux.rootfsPropagation: %q is not a propagation type", p)
		}
		b.p.Step("set propagation of", "/")
		b.propagate(b.root.Arg(), o)
	}
	b.p.Close(b.root)
	if o.AppArmor != "" {
		b.apparmor(o.AppArmor)
	}
	if o.Loopback {
		b.loopback()
	}
	if o.Console != nil {
		b.terminal(o.Console, o.ConsoleSize, true)
	}
	return nil
}

func (b *builder) unshareTime() {
	b.p.Step("unshare", "time namespace")
	b.p.Call(unix.SYS_UNSHARE, spawn.Int(unix.CLONE_NEWTIME))
}

func (b *builder) rootName() string {
	if b.spec.Root.Path == "" {
		return "tmpfs"
	}
	return b.spec.Root.Path
}

// newRoot creates the new root mount and attaches it: a mount must be
// attached for later mounts to go under it and for pivot_root. A bind of
// Root.Path is attached over Root.Path itself, as runc does, where the
// createContainer hooks (Options.Pause) find it; a tmpfs root has no such
// place and is attached over "/". Stacked there it is invisible to the
// child's own path lookups, which start at its root directory below it.
// Either way host paths (bind sources) resolve until pivot_root. A
// detached root (Options.Detached) is not attached at all.
func (b *builder) newRoot(skeleton bool) error {
	r := b.spec.Root
	at, name := spawn.Int(unix.AT_FDCWD), spawn.Str("/")
	switch {
	case r.Path == "":
		b.p.Step("mount tmpfs root", "/")
		b.root = b.fsmount("tmpfs", "tmpfs", []string{"mode=0755"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	case skeleton && r.Readonly:
		b.p.Step("mount tmpfs root", r.Path)
		b.root = b.fsmount("tmpfs", "tmpfs", []string{"mode=0755"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	default:
		b.p.Step("bind root", r.Path)
		b.root = b.cloneHost(r.Path, unix.AT_RECURSIVE)
		if !b.imageRoot {
			b.setAttr(b.root.Arg(), true, mountAttr(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, 0))
		}
		if filepath.Clean(r.Path) != "/" {
			at, name = b.host.Arg(), hostPath(r.Path)
		}
	}
	if !b.detached {
		b.p.Step("attach new root", b.rootName())
		b.p.Call(unix.SYS_MOVE_MOUNT, b.root.Arg(), spawn.Str(""), at, name, spawn.Int(unix.MOVE_MOUNT_F_EMPTY_PATH))
	}
	if skeleton && r.Readonly && r.Path != "" {
		return b.skeleton(r.Path)
	}
	return nil
}

// skeletonSkip are the top-level entries a skeleton root leaves out.
var skeletonSkip = []string{"proc", "dev", "sys", "run"}

// skeleton fills the tmpfs root with read-only recursive binds of dir's
// entries, read here, in the parent. Entries a spec mount covers are left
// out too.
func (b *builder) skeleton(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading root: %w", err)
	}
	attr := mountAttr(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, 0)
	for _, e := range entries {
		name := e.Name()
		if slices.Contains(skeletonSkip, name) || b.mountAt("/"+name) != nil {
			b.p.Step("create mount point", "/"+name)
			b.p.Call(unix.SYS_MKDIRAT, b.root.Arg(), spawn.Str(name), spawn.Int(0o755))
			continue
		}
		src := filepath.Join(dir, name)
		switch e.Type() {
		case fs.ModeSymlink:
			target, err := os.Readlink(src)
			if err != nil {
				return fmt.Errorf("reading root: %w", err)
			}
			b.p.Step("copy symlink", "/"+name)
			b.p.Call(unix.SYS_SYMLINKAT, spawn.Str(target), b.root.Arg(), spawn.Str(name))
			continue
		case fs.ModeDir:
			b.p.Step("create mount point", "/"+name)
			b.p.Call(unix.SYS_MKDIRAT, b.root.Arg(), spawn.Str(name), spawn.Int(0o755))
		case 0:
			b.p.Step("create mount point", "/"+name)
			b.createFile(b.root, name)
		default:
			continue // sockets, fifos and devices at the top level stay out
		}
		b.p.Step("bind root entry", src)
		// Not following a symlink: one swapped in since ReadDir makes
		// the move onto a directory fail instead of binding its target.
		s := b.cloneHost(src, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW)
		b.setAttr(s.Arg(), true, attr)
		b.moveInto(s, b.root, name)
		b.p.Close(s)
	}
	return nil
}

// mountAt is the spec's mount with destination dst, nil when none.
func (b *builder) mountAt(dst string) *specs.Mount {
	for i, m := range b.spec.Mounts {
		if path.Clean(m.Destination) == dst {
			return &b.spec.Mounts[i]
		}
	}
	return nil
}

// mount plans one spec mount: a bind (open_tree) or a new filesystem
// (fsopen, fsconfig, fsmount), moved onto its destination inside the new
// root. idmapped is the mount IDMapped made for it, nil for none.
func (b *builder) mount(m specs.Mount, idmapped *os.File) error {
	if !path.IsAbs(m.Destination) {
		return fmt.Errorf("destination %q is not absolute", m.Destination)
	}
	o, err := parseOptions(m.Options)
	if err != nil {
		return err
	}
	dst := path.Clean(m.Destination)
	if o.idmapped(m) != (idmapped != nil) {
		return errors.New("id-mapped mount: the caller did not prepare it (namespaces.IDMapped)")
	}
	if o.copyUp && (o.bind || m.Type != "tmpfs") {
		return errors.New("tmpcopyup applies to tmpfs mounts only")
	}
	if o.copyUp && b.detached {
		return errors.New("tmpcopyup needs a mount namespace of the container's own")
	}
	if o.bind || m.Type == "bind" {
		return b.bind(m.Source, dst, o, idmapped)
	}
	if o.rset|o.rclr != 0 {
		return errors.New("recursive options apply to bind mounts only")
	}
	if m.Type == "" {
		return errors.New("type is empty")
	}
	if m.Type == "cgroup" && b.cgroups != nil {
		return b.cgroupV1(dst, o)
	}
	if m.Type == "cgroup" && b.cgroupsHost {
		bo := *o
		bo.recursive = true
		bo.rset |= o.set & unix.MOUNT_ATTR_RDONLY
		return b.bind("/sys/fs/cgroup", dst, &bo, nil)
	}
	typ := m.Type
	if typ == "cgroup" {
		typ = "cgroup2"
	}
	b.p.Step("create mount point", dst)
	t := b.mountPoint(dst, true)
	b.p.Step("mount "+typ, dst)
	fsm := b.fsmount(typ, m.Source, o.data, o.set)
	b.attach(fsm.Arg(), t, o)
	b.p.Close(t)
	if typ == "proc" && dst == "/proc" && b.proc == nil {
		b.proc = &fsm // kept for the sysctl writes, closed after them
		return nil
	}
	b.p.Close(fsm)
	return nil
}

// cgroupV1 mounts what a cgroup v1 host shows a container at dst: a
// tmpfs holding a bind of each of its groups, read-only with the tmpfs
// when the options say so.
func (b *builder) cgroupV1(dst string, o *mountOptions) error {
	b.p.Step("mount tmpfs", dst)
	fsm := b.fsmount("tmpfs", "tmpfs", []string{"mode=0755"}, o.set&^unix.MOUNT_ATTR_RDONLY)
	names := make([]string, 0, len(b.cgroups))
	for name := range b.cgroups {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b.p.Step("bind cgroup", b.cgroups[name])
		b.p.Call(unix.SYS_MKDIRAT, fsm.Arg(), spawn.Str(name), spawn.Int(0o755))
		s := b.cloneHost(b.cgroups[name], 0)
		b.setAttr(s.Arg(), false, mountAttr(o.set, o.clr))
		b.moveInto(s, fsm, name)
		b.p.Close(s)
	}
	// Read-only before it is attached: only then is it the root of its
	// own detached tree, which mount_setattr(2) takes in a detached root
	// too (Options.Detached).
	if o.set&unix.MOUNT_ATTR_RDONLY != 0 {
		b.setAttr(fsm.Arg(), false, mountAttr(unix.MOUNT_ATTR_RDONLY, 0))
	}
	b.p.Step("create mount point", dst)
	t := b.mountPoint(dst, true)
	b.p.Step("attach tmpfs", dst)
	b.moveOnto(fsm.Arg(), t)
	b.p.Close(fsm)
	b.p.Close(t)
	return nil
}

// attach moves mount m onto t and sets the propagation type the options
// name on it: once attached, where it has peers to change; in a detached
// root before, since mount_setattr(2) changes no mount of a detached tree
// but its root.
func (b *builder) attach(m spawn.Arg, t spawn.FD, o *mountOptions) {
	if b.detached {
		b.propagate(m, o)
	}
	b.moveOnto(m, t)
	if !b.detached {
		b.propagate(m, o)
	}
}

// propagate sets the propagation type the options name on mount m.
func (b *builder) propagate(m spawn.Arg, o *mountOptions) {
	if o.propagation == 0 {
		return
	}
	b.setAttr(m, o.propRecursive, propagationAttr(o.propagation))
}

// propagationAttr is a struct mount_attr setting propagation type p.
func propagationAttr(p uint64) spawn.Arg {
	attr := make([]byte, unix.MOUNT_ATTR_SIZE_VER0)
	binary.LittleEndian.PutUint64(attr[16:], p)
	return spawn.Bytes(attr)
}

// bind plans a bind mount of src: a clone of the host's tree there, or
// the id-mapped one the parent made (idmapped, when not nil).
func (b *builder) bind(src, dst string, o *mountOptions, idmapped *os.File) error {
	if len(o.data) > 0 {
		// runc and crun pass them to mount(2), which ignores them for
		// a bind; OCI tools put "mode=" and "size=" on every mount.
		slog.Warn(fmt.Sprintf("bind mount %s: filesystem options %q do not apply to a bind and are ignored", dst, o.data))
	}
	if !filepath.IsAbs(src) {
		return fmt.Errorf("bind source %q is not absolute", src)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	// By the directory, not the name: a symlink to "/", or /proc/self/root,
	// is the host's "/" too.
	if root, err := os.Stat("/"); filepath.Clean(src) == "/" || err == nil && os.SameFile(st, root) {
		return fmt.Errorf(`binding the host's "/" (%s) is not supported; use it as the root instead`, src)
	}
	b.p.Step("create mount point", dst)
	t := b.mountPoint(dst, st.IsDir())
	var s spawn.Arg
	if idmapped != nil {
		b.p.Step("bind id-mapped "+src+" on", dst)
		s = spawn.File(idmapped)
	} else {
		b.p.Step("bind "+src+" on", dst)
		flags := 0
		if o.recursive {
			flags = unix.AT_RECURSIVE
		}
		fd := b.cloneHost(src, flags)
		if dst == "/proc" && b.proc == nil && isProcfs(src) {
			// A procfs bound at /proc (rootless podman's, with the host's
			// pid namespace, where a new one cannot be mounted) serves
			// the sysctl writes as a mounted one does, closed after them.
			b.proc = &fd
		} else {
			defer b.p.Close(fd)
		}
		s = fd.Arg()
	}
	if o.rset|o.rclr != 0 {
		b.setAttr(s, true, mountAttr(o.rset, o.rclr))
	}
	if o.set|o.clr != 0 {
		b.setAttr(s, false, mountAttr(o.set, o.clr))
	}
	b.attach(s, t, o)
	if idmapped != nil {
		b.p.Call(unix.SYS_CLOSE, s)
	}
	b.p.Close(t)
	return nil
}

// isProcfs tells whether path is the root of a procfs.
func isProcfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC && filepath.Clean(path) == "/proc"
}

// fsmount creates a filesystem of type typ with the fsconfig options data
// ("key=value" or a flag) and returns its detached mount.
func (b *builder) fsmount(typ, source string, data []string, attrs uint64) spawn.FD {
	fsfd := b.p.Open(unix.SYS_FSOPEN, spawn.Str(typ), spawn.Int(unix.FSOPEN_CLOEXEC))
	if source != "" {
		b.p.Call(unix.SYS_FSCONFIG, fsfd.Arg(), spawn.Int(unix.FSCONFIG_SET_STRING), spawn.Str("source"), spawn.Str(source), spawn.Int(0))
	}
	for _, d := range data {
		if k, v, ok := strings.Cut(d, "="); ok {
			b.p.Call(unix.SYS_FSCONFIG, fsfd.Arg(), spawn.Int(unix.FSCONFIG_SET_STRING), spawn.Str(k), spawn.Str(v), spawn.Int(0))
		} else {
			b.p.Call(unix.SYS_FSCONFIG, fsfd.Arg(), spawn.Int(unix.FSCONFIG_SET_FLAG), spawn.Str(d), spawn.Int(0), spawn.Int(0))
		}
	}
	b.p.Call(unix.SYS_FSCONFIG, fsfd.Arg(), spawn.Int(unix.FSCONFIG_CMD_CREATE), spawn.Int(0), spawn.Int(0), spawn.Int(0))
	m := b.p.Open(unix.SYS_FSMOUNT, fsfd.Arg(), spawn.Int(unix.FSMOUNT_CLOEXEC), spawn.Int(attrs))
	b.p.Close(fsfd)
	return m
}

// setAttr changes the attributes of mount m (mount_setattr(2)), and of
// every mount under it when recursive.
func (b *builder) setAttr(m spawn.Arg, recursive bool, attr spawn.Arg) {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	b.p.Call(unix.SYS_MOUNT_SETATTR, m, spawn.Str(""), spawn.Int(flags), attr, spawn.Int(unix.MOUNT_ATTR_SIZE_VER0))
}

// moveOnto attaches mount m on the mount point t (both fds).
func (b *builder) moveOnto(m spawn.Arg, t spawn.FD) {
	b.p.Call(unix.SYS_MOVE_MOUNT, m, spawn.Str(""), t.Arg(), spawn.Str(""), spawn.Int(unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH))
}

// moveInto attaches mount m on name, an entry of directory dir that sbx
// itself created in a tmpfs it mounted (so a name, not a path to resolve).
func (b *builder) moveInto(m, dir spawn.FD, name string) {
	b.p.Call(unix.SYS_MOVE_MOUNT, m.Arg(), spawn.Str(""), dir.Arg(), spawn.Str(name), spawn.Int(unix.MOVE_MOUNT_F_EMPTY_PATH))
}

// resolveHow opens a path inside the new root: symlinks and ".." are
// resolved as if the new root were "/" (openat2(2) RESOLVE_IN_ROOT), and
// magic links (/proc/self/fd/N) are refused.
const resolveHow = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

func openHow(flags uint64) spawn.Arg { return openHowWith(flags, 0, resolveHow) }

// openHowWith is a struct open_how: open flags, the mode for O_CREAT and
// the RESOLVE_ flags.
func openHowWith(flags, mode, resolve uint64) spawn.Arg {
	b := make([]byte, unix.SizeofOpenHow)
	binary.LittleEndian.PutUint64(b, flags)
	binary.LittleEndian.PutUint64(b[8:], mode)
	binary.LittleEndian.PutUint64(b[16:], resolve)
	return spawn.Bytes(b)
}

func mountAttr(set, clr uint64) spawn.Arg {
	b := make([]byte, unix.MOUNT_ATTR_SIZE_VER0)
	binary.LittleEndian.PutUint64(b, set)
	binary.LittleEndian.PutUint64(b[8:], clr)
	return spawn.Bytes(b)
}

// mountPoint creates dst (a directory, or a file for dir false) and its
// missing parents inside the new root, one component at a time, each
// created relative to its parent opened inside the root, never through a
// path the host resolves; then opens it (O_PATH). Creation failures are
// not errors (it may exist, or sit in a read-only tree); a mount point
// that cannot be opened is.
func (b *builder) mountPoint(dst string, dir bool) spawn.FD {
	comps := strings.Split(strings.TrimPrefix(dst, "/"), "/")
	parent := b.root
	for i, c := range comps {
		if i == len(comps)-1 && !dir {
			b.createFile(parent, c)
		} else {
			b.p.Try(unix.SYS_MKDIRAT, parent.Arg(), spawn.Str(c), spawn.Int(0o755))
		}
		if i == len(comps)-1 {
			break
		}
		next := b.p.Open(unix.SYS_OPENAT2, b.root.Arg(), spawn.Str(strings.Join(comps[:i+1], "/")), openHow(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC), spawn.Int(unix.SizeofOpenHow))
		if parent != b.root {
			b.p.Close(parent)
		}
		parent = next
	}
	if parent != b.root {
		b.p.Close(parent)
	}
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if dir {
		flags |= unix.O_DIRECTORY
	}
	return b.p.Open(unix.SYS_OPENAT2, b.root.Arg(), spawn.Str(strings.TrimPrefix(dst, "/")), openHow(flags), spawn.Int(unix.SizeofOpenHow))
}

// createFile creates an empty file name in dir unless something is there
// (O_EXCL with O_NOFOLLOW: an existing symlink is not followed).
func (b *builder) createFile(dir spawn.FD, name string) {
	f, end := b.p.OpenIf([]syscall.Errno{unix.EEXIST}, unix.SYS_OPENAT, dir.Arg(), spawn.Str(name), spawn.Int(unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC), spawn.Int(0o644))
	b.p.Close(f)
	end()
}

// sysctl writes each kernel parameter under the new root's /proc/sys,
// resolved inside the root.
func (b *builder) sysctl(params map[string]string) error {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" || strings.Contains(k, "..") || strings.ContainsAny(k, "/\x00") {
			return fmt.Errorf("linux.sysctl: bad name %q", k)
		}
		if b.proc == nil {
			return fmt.Errorf("linux.sysctl: %s needs a procfs at /proc: mount one there, or bind the host's (mounts)", k)
		}
		// Through the procfs sbx mounted, never a path the root could
		// plant a file at (CVE-2025-52881): beneath it, no symlinks, no
		// other mount.
		name := "sys/" + strings.ReplaceAll(k, ".", "/")
		b.p.Step("write sysctl", k)
		how := openHowWith(unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0,
			unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_XDEV|unix.RESOLVE_NO_MAGICLINKS)
		f := b.p.Open(unix.SYS_OPENAT2, b.proc.Arg(), spawn.Str(name), how, spawn.Int(unix.SizeofOpenHow))
		v := params[k]
		b.p.CallNonneg(unix.SYS_WRITE, f.Arg(), spawn.Str(v), spawn.Int(len(v)))
		b.p.Close(f)
	}
	return nil
}

// specDevices creates the spec's device nodes: mknod(2) with their
// owner, or, in a user namespace, a bind of the host's node at that path.
func (b *builder) specDevices(devs []specs.LinuxDevice) error {
	for i, d := range devs {
		if !path.IsAbs(d.Path) || path.Clean(d.Path) == "/" {
			return fmt.Errorf("linux.devices[%d].path: %q is not an absolute file path", i, d.Path)
		}
		dst := path.Clean(d.Path)
		if !b.mknod {
			if _, err := os.Stat(dst); err != nil {
				return fmt.Errorf("linux.devices[%d]: %w (in a user namespace devices are bound from the host)", i, err)
			}
			b.p.Step("create mount point", dst)
			t := b.mountPoint(dst, false)
			b.p.Step("bind device", dst)
			s := b.cloneHost(dst, 0)
			b.setAttr(s.Arg(), false, hostNodeAttr)
			b.moveOnto(s.Arg(), t)
			b.p.Close(s)
			b.p.Close(t)
			continue
		}
		var typ uint32
		switch d.Type {
		case "c", "u":
			typ = unix.S_IFCHR
		case "b":
			typ = unix.S_IFBLK
		case "p":
			typ = unix.S_IFIFO
		default:
			return fmt.Errorf("linux.devices[%d].type: %q is not one of c, b, u, p", i, d.Type)
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode) & 0o7777
		}
		dir, name := path.Split(dst)
		parent := b.root
		if dir != "/" {
			b.p.Step("create directory", dir)
			parent = b.mountPoint(path.Clean(dir), true)
		}
		b.p.Step("mknod", dst)
		b.p.Try(unix.SYS_UNLINKAT, parent.Arg(), spawn.Str(name), spawn.Int(0))
		b.p.Call(unix.SYS_MKNODAT, parent.Arg(), spawn.Str(name), spawn.Int(typ|mode), spawn.Int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
		uid, gid := -1, -1
		if d.UID != nil {
			uid = int(*d.UID)
		}
		if d.GID != nil {
			gid = int(*d.GID)
		}
		b.p.Call(unix.SYS_FCHOWNAT, parent.Arg(), spawn.Str(name), spawn.Int(uid), spawn.Int(gid), spawn.Int(unix.AT_SYMLINK_NOFOLLOW))
		// mknod applies the umask: set the mode exactly.
		b.p.Call(unix.SYS_FCHMODAT, parent.Arg(), spawn.Str(name), spawn.Int(mode), spawn.Int(0))
		if parent != b.root {
			b.p.Close(parent)
		}
	}
	return nil
}

// apparmor asks for the profile to apply at exec.
func (b *builder) apparmor(profile string) {
	b.p.Step("set AppArmor profile", profile)
	f := b.p.Open(unix.SYS_OPENAT, spawn.Int(unix.AT_FDCWD), spawn.Str("/proc/thread-self/attr/apparmor/exec"), spawn.Int(unix.O_WRONLY|unix.O_CLOEXEC), spawn.Int(0))
	v := "exec " + profile
	b.p.CallNonneg(unix.SYS_WRITE, f.Arg(), spawn.Str(v), spawn.Int(len(v)))
	b.p.Close(f)
}

// absent are the errnos of a path that is not there (a component may be
// a file): what masked and read-only paths skip, as runc does. Any other
// failure (EACCES, ELOOP…) fails the set-up rather than leave a path
// unprotected.
var absent = []syscall.Errno{unix.ENOENT, unix.ENOTDIR}

// maskPaths covers each path the new root has: a directory with an empty
// read-only tmpfs, anything else with /dev/null. Which it is, the child
// finds out (a directory opens with O_DIRECTORY, a file fails it with
// ENOTDIR and is opened again without); a missing path is skipped.
func (b *builder) maskPaths(paths []string) {
	for _, p := range paths {
		b.p.Step("mask", p)
		name := spawn.Str(strings.TrimPrefix(path.Clean(p), "/"))
		dir, orElse, end := b.p.OpenIfElse(absent, unix.SYS_OPENAT2, b.root.Arg(), name, openHow(unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC), spawn.Int(unix.SizeofOpenHow))
		s := b.fsmount("tmpfs", "tmpfs", []string{"size=0"}, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		b.moveOnto(s.Arg(), dir)
		b.p.Close(s)
		b.p.Close(dir)
		orElse()
		f, endFile := b.p.OpenIf(absent, unix.SYS_OPENAT2, b.root.Arg(), name, openHow(unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC), spawn.Int(unix.SizeofOpenHow))
		s = b.cloneHost(os.DevNull, 0)
		b.setAttr(s.Arg(), false, hostNodeAttr)
		b.moveOnto(s.Arg(), f)
		b.p.Close(s)
		b.p.Close(f)
		endFile()
		end()
	}
}

// readonlyPaths binds each existing path onto itself, read-only.
func (b *builder) readonlyPaths(paths []string) {
	attr := mountAttr(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, 0)
	for _, p := range paths {
		b.p.Step("make read-only", p)
		t, end := b.p.OpenIf(absent, unix.SYS_OPENAT2, b.root.Arg(), spawn.Str(strings.TrimPrefix(path.Clean(p), "/")), openHow(unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC), spawn.Int(unix.SizeofOpenHow))
		s := b.p.Open(unix.SYS_OPEN_TREE, t.Arg(), spawn.Str(""), spawn.Int(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE))
		b.setAttr(s.Arg(), true, attr)
		b.moveOnto(s.Arg(), t)
		b.p.Close(s)
		b.p.Close(t)
		end()
	}
}

// devNodes are bound from the host's /dev: a user namespace cannot mknod
// (and its tmpfs is nodev), a bind of the host's node works in both.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// hostNodeAttr is how a host's device node is bound (the nodes of /dev,
// /dev/null over a masked file, linux.devices in a user namespace):
// read-only, which does not stop I/O on the device but makes chmod, chown
// and utimes on it fail with EROFS. Otherwise a process that is root on
// the host (a container without a user namespace, a sandbox sharing the
// caller's) changed the host's own /dev/null, and chmod needs no
// capability from the owner.
var hostNodeAttr = mountAttr(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, 0)

// devLinks are the symlinks of a minimal /dev (runc's default set).
var devLinks = [][2]string{
	{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
}

// devices fills the spec's /dev tmpfs, but for the nodes spec (linux.devices)
// makes itself.
func (b *builder) devices(spec []specs.LinuxDevice) {
	b.p.Step("open", "/dev")
	dev := b.p.Open(unix.SYS_OPENAT2, b.root.Arg(), spawn.Str("dev"), openHow(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC), spawn.Int(unix.SizeofOpenHow))
	for _, name := range devNodes {
		if slices.ContainsFunc(spec, func(d specs.LinuxDevice) bool { return path.Clean(d.Path) == "/dev/"+name }) {
			continue // linux.devices has its own node there (docker run --device /dev/full)
		}
		b.p.Step("bind device", "/dev/"+name)
		b.createFile(dev, name)
		s := b.cloneHost("/dev/"+name, 0)
		b.setAttr(s.Arg(), false, hostNodeAttr)
		b.moveInto(s, dev, name)
		b.p.Close(s)
	}
	for _, l := range devLinks {
		b.p.Step("symlink", "/dev/"+l[1])
		b.p.Call(unix.SYS_SYMLINKAT, spawn.Str(l[0]), dev.Arg(), spawn.Str(l[1]))
	}
	b.p.Close(dev)
}

// pivot makes the new root the root: pivot_root(".", ".") stacks the old
// root on the new one, and a lazy unmount of "." detaches it
// (pivot_root(2), "NOTES").
func (b *builder) pivot() {
	b.p.Step("pivot_root to", b.rootName())
	b.p.Call(unix.SYS_FCHDIR, b.root.Arg())
	b.p.Call(unix.SYS_PIVOT_ROOT, spawn.Str("."), spawn.Str("."))
	b.p.Call(unix.SYS_UMOUNT2, spawn.Str("."), spawn.Int(unix.MNT_DETACH))
	b.p.Call(unix.SYS_CHDIR, spawn.Str("/"))
}

// chroot makes the detached new root the root directory and the working
// directory (Options.Detached).
func (b *builder) chroot() {
	b.p.Step("chroot to", b.rootName())
	b.p.Call(unix.SYS_FCHDIR, b.root.Arg())
	b.p.Call(unix.SYS_CHROOT, spawn.Str("."))
}

// DetachedRoots reports whether the kernel mounts on a detached mount
// tree (move_mount(2) onto a mount that open_tree or fsmount returned,
// Linux 6.15), which Options.Detached needs. It asks the kernel once,
// with two tmpfs mounts that are never attached; it needs CAP_SYS_ADMIN
// and reports false without it.
var DetachedRoots = sync.OnceValue(func() bool {
	tmpfs := func() (int, error) {
		fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
		if err != nil {
			return -1, err
		}
		defer unix.Close(fs)
		if err := unix.FsconfigCreate(fs); err != nil {
			return -1, err
		}
		return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	}
	root, err := tmpfs()
	if err != nil {
		return false
	}
	defer unix.Close(root)
	m, err := tmpfs()
	if err != nil {
		return false
	}
	defer unix.Close(m)
	if unix.Mkdirat(root, "d", 0o700) != nil {
		return false
	}
	return unix.MoveMount(m, "", root, "d", unix.MOVE_MOUNT_F_EMPTY_PATH) == nil
})

// loopback sets IFF_UP on lo (SIOCSIFFLAGS; struct ifreq is 40 bytes, the
// name then the flags).
func (b *builder) loopback() {
	b.p.Step("bring up", "lo")
	s := b.p.Open(unix.SYS_SOCKET, spawn.Int(unix.AF_INET), spawn.Int(unix.SOCK_DGRAM|unix.SOCK_CLOEXEC), spawn.Int(0))
	ifr := make([]byte, 40)
	copy(ifr, "lo")
	binary.LittleEndian.PutUint16(ifr[16:], unix.IFF_UP)
	b.p.Call(unix.SYS_IOCTL, s.Arg(), spawn.Int(unix.SIOCSIFFLAGS), spawn.Bytes(ifr))
	b.p.Close(s)
}

// terminal opens a pty in the sandbox's devpts, makes the peer (opened
// from the master, TIOCGPTPEER, Linux 4.13, never by path) fds 0-2, and
// sends the master over the console socket. For a container's first
// process (withConsole) it binds the peer on /dev/console too.
func (b *builder) terminal(console *os.File, size *specs.Box, withConsole bool) {
	b.p.Step("open terminal", "/dev/pts/ptmx")
	m := b.p.Open(unix.SYS_OPENAT, spawn.Int(unix.AT_FDCWD), spawn.Str("/dev/pts/ptmx"), spawn.Int(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC), spawn.Int(0))
	b.p.Call(unix.SYS_IOCTL, m.Arg(), spawn.Int(unix.TIOCSPTLCK), spawn.Bytes(make([]byte, 4)))
	if size != nil {
		// struct winsize: rows, columns, then two unused pixel counts.
		ws := make([]byte, 8)
		binary.LittleEndian.PutUint16(ws[0:], uint16(size.Height))
		binary.LittleEndian.PutUint16(ws[2:], uint16(size.Width))
		b.p.Step("set terminal size", "")
		b.p.Call(unix.SYS_IOCTL, m.Arg(), spawn.Int(unix.TIOCSWINSZ), spawn.Bytes(ws))
	}
	peer := b.p.Open(unix.SYS_IOCTL, m.Arg(), spawn.Int(unix.TIOCGPTPEER), spawn.Int(unix.O_RDWR|unix.O_NOCTTY))
	for fd := 0; fd < 3; fd++ {
		b.p.CallNonneg(unix.SYS_DUP3, peer.Arg(), spawn.Int(fd), spawn.Int(0))
	}
	if withConsole && b.devTmpfs() {
		// /dev/console is the terminal too (runtime-spec, runtime-linux.md),
		// bound from the open pty onto a file sbx creates in its own /dev
		// tmpfs, found without following any link (CVE-2025-52565).
		b.p.Step("bind terminal on", "/dev/console")
		how := openHowWith(unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600,
			unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
		c := b.p.Open(unix.SYS_OPENAT2, spawn.Int(unix.AT_FDCWD), spawn.Str("/dev/console"), how, spawn.Int(unix.SizeofOpenHow))
		t := b.p.Open(unix.SYS_OPEN_TREE, peer.Arg(), spawn.Str(""), spawn.Int(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH))
		b.moveOnto(t.Arg(), c)
		b.p.Close(t)
		b.p.Close(c)
	}
	b.p.Close(peer)
	b.p.Step("send terminal to", "console socket")
	b.p.CallNonneg(unix.SYS_SENDMSG, spawn.File(console), b.rightsMsg(m), spawn.Int(unix.MSG_NOSIGNAL))
	b.p.Close(m)
	b.p.Call(unix.SYS_CLOSE, spawn.File(console))
}

// devTmpfs reports whether the spec mounts a tmpfs at /dev, which sbx then
// fills (devices, /dev/console); it leaves an image's own /dev alone.
func (b *builder) devTmpfs() bool {
	m := b.mountAt("/dev")
	return m != nil && m.Type == "tmpfs"
}

// rightsMsg is a struct msghdr carrying one byte and fd as SCM_RIGHTS.
func (b *builder) rightsMsg(fd spawn.FD) spawn.Arg {
	le := binary.LittleEndian
	data := spawn.Bytes([]byte{0})
	iovb := make([]byte, 16) // struct iovec
	le.PutUint64(iovb[8:], 1)
	iov := spawn.Bytes(iovb)
	iov.SetPointer(0, data)
	cm := make([]byte, unix.CmsgSpace(4))
	le.PutUint64(cm, uint64(unix.CmsgLen(4)))
	le.PutUint32(cm[8:], unix.SOL_SOCKET)
	le.PutUint32(cm[12:], unix.SCM_RIGHTS)
	cmsg := spawn.Bytes(cm)
	b.p.StoreFD(fd, cmsg, unix.CmsgLen(0))
	hdr := make([]byte, unix.SizeofMsghdr)
	le.PutUint64(hdr[24:], 1)
	le.PutUint64(hdr[40:], uint64(len(cm)))
	msg := spawn.Bytes(hdr)
	msg.SetPointer(16, iov)
	msg.SetPointer(32, cmsg)
	return msg
}
