package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Group is one sandbox's cgroup. Its methods may be called from several
// goroutines.
type Group struct {
	mu   sync.Mutex
	mode string
	// dirs is the group's directory in each hierarchy, once per distinct
	// directory (v1 hierarchies mounted together share one).
	dirs []string
	// member maps a controller as /proc/PID/cgroup names it ("" for v2)
	// to the group's path there: how Kill checks that a pid is ours.
	member  map[string]string
	v1      cgroup1.Cgroup   // nil on v2
	v2      *cgroup2.Manager // nil on v1
	dir     *os.File         // v2: the open group directory
	freezer string           // v1: the group's freezer directory, or ""
	deleted bool
}

const (
	modeV1 = "v1"
	modeV2 = "v2"
	// mountRoot is where both cgroups.Mode and cgroup1 look.
	mountRoot = "/sys/fs/cgroup"
	dirPerm   = 0o755
)

// host says how to reach the cgroup tree: the mode and its mount point.
// Tests point it at /sys/fs/cgroup/unified to exercise v2 on a hybrid host.
type host struct{ mode, root string }

var errDeleted = errors.New("the group was deleted")

// New creates the cgroup for the sandbox called name ("" picks a unique
// name) with the limits in r (nil means none; the group still serves Kill
// and Stats) and returns it empty: put the sandbox in with Dir (v2, at
// clone) or Add. See the package documentation for where it is created.
func New(name string, r *specs.LinuxResources) (*Group, error) {
	h, err := detect()
	if err != nil {
		return nil, err
	}
	return newIn(h, name, r)
}

// detect picks v2 only on a pure cgroup v2 host: on a hybrid one the
// controllers that limits need are bound to v1.
func detect() (host, error) {
	switch cgroups.Mode() {
	case cgroups.Unified:
		return host{modeV2, mountRoot}, nil
	case cgroups.Legacy, cgroups.Hybrid:
		return host{modeV1, mountRoot}, nil
	}
	return host{}, &Error{Op: "finding cgroups", Path: mountRoot, Kind: ErrUnavailable,
		Err: errors.New("no cgroup filesystem mounted"), Hint: "mount cgroup2 there: mount -t cgroup2 none " + mountRoot}
}

func newIn(h host, name string, r *specs.LinuxResources) (*Group, error) {
	if err := validate(r); err != nil {
		return nil, err
	}
	dir, err := dirName(name)
	if err != nil {
		return nil, err
	}
	if h.mode == modeV2 {
		return newV2(h.root, dir, r)
	}
	return newV1(h.root, dir, r)
}

// Mode is "v1" or "v2": the cgroup version the group lives in.
func (g *Group) Mode() string { return g.mode }

// Dir is the group's open directory on v2, for clone3 CLONE_INTO_CGROUP
// (spawn's Linux.Cgroup); nil on v1. The Group owns it: it is closed by
// Delete.
func (g *Group) Dir() *os.File {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dir
}

// Add moves process pid (all its threads) into the group: on v1 into every
// hierarchy of the group, typically from spawn's Prepare hook while the
// child waits before exec; on v2 through cgroup.procs.
func (g *Group) Add(pid int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return &Error{Op: "adding a process to", Path: g.dirs[0], Err: errDeleted}
	}
	var err error
	if g.v2 != nil {
		err = g.v2.AddProc(uint64(pid))
	} else {
		err = g.v1.AddProc(uint64(pid))
	}
	if err != nil {
		return hostError(fmt.Sprintf("adding process %d to", pid), g.dirs[0], err, g.mode)
	}
	return nil
}

// Kill sends SIGKILL to every process in the group and its subgroups and
// returns once none is left (zombies are not in a cgroup), or after 10 s.
// On v2 it writes cgroup.kill (Linux 5.14), which no fork can escape;
// otherwise it freezes the group, signals each process through a pidfd
// after checking that the pid still belongs to the group, thaws it, and
// repeats until cgroup.procs is empty. It never waits for a process.
func (g *Group) Kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil
	}
	return g.kill()
}

// Stats reports what the group has used so far.
func (g *Group) Stats() (Stats, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return Stats{}, &Error{Op: "reading stats of", Path: g.dirs[0], Err: errDeleted}
	}
	if g.v2 != nil {
		return g.statsV2()
	}
	return g.statsV1()
}

// Delete kills whatever is left in the group, then removes its directory
// in every hierarchy, subgroups first. It may be called again after an
// error, and after success it does nothing.
func (g *Group) Delete() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil
	}
	if err := g.kill(); err != nil {
		return err
	}
	for _, d := range g.dirs {
		if err := removeTree(d); err != nil {
			return err
		}
	}
	if g.dir != nil {
		g.dir.Close()
		g.dir = nil
	}
	g.deleted = true
	return nil
}

// Hints for errors the caller can only fix on the host.
const (
	hintRootV1 = "sbx needs a writable cgroup: run as root"
	hintRootV2 = "sbx needs a writable cgroup: run as root, or under a delegated cgroup: " +
		"systemd-run --user --scope -p Delegate=yes sbx ..."
	hintExist = "another sandbox uses this name: pick another, or remove the leftover group"
)

// hostError classifies err, returned by op on path, into one of the
// package's error kinds, with a hint where the fix is on the host.
func hostError(op, path string, err error, mode string) *Error {
	e := opError(op, path, err)
	switch {
	case errors.Is(e.Err, unix.EEXIST):
		e.Kind, e.Hint = ErrExist, hintExist
	case errors.Is(e.Err, unix.EACCES), errors.Is(e.Err, unix.EPERM), errors.Is(e.Err, unix.EROFS):
		e.Kind, e.Hint = ErrUnavailable, hintRootV1
		if mode == modeV2 {
			e.Hint = hintRootV2
		}
	case errors.Is(e.Err, unix.EINVAL), errors.Is(e.Err, unix.ERANGE):
		e.Kind = ErrInvalid
	}
	return e
}

// mkdir creates one directory of a new group. Failing on an existing one
// is what keeps two sandboxes of the same name apart.
func mkdir(dir, mode string, undo *cleanup) error {
	if err := os.Mkdir(dir, dirPerm); err != nil {
		return hostError("creating", dir, err, mode)
	}
	undo.push(func() { removeTree(dir) })
	return nil
}

// cleanup is a stack of undo steps for a setup of several steps: New
// runs it when a later step fails.
type cleanup []func()

func (c *cleanup) push(f func()) { *c = append(*c, f) }

func (c cleanup) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// removeTree removes a cgroup directory and the subgroups the sandbox may
// have made in it, deepest first (rmdir is the only way to remove a
// cgroup; its files cannot be unlinked). A missing directory is removed.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return opError("removing", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return rmdir(dir)
}

// rmdirWait bounds how long rmdir retries EBUSY: a cgroup whose last
// process has just exited can stay busy for a moment while the kernel
// finishes with it.
const rmdirWait = 2 * time.Second

func rmdir(dir string) error {
	deadline := time.Now().Add(rmdirWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case !errors.Is(err, unix.EBUSY) || time.Now().After(deadline):
			return opError("removing", dir, err)
		}
		time.Sleep(delay)
	}
}

// procSwaps lists the active swap areas; a variable so tests can fake it.
var procSwaps = "/proc/swaps"

// swapAccounted reports whether file, the memory+swap limit file of a
// cgroup, exists. Without it a memory+swap limit still holds when no swap
// is on, since memory is then all there is and the memory limit bounds it;
// with swap on it cannot be enforced, which is an error.
func swapAccounted(file, hint string) (bool, error) {
	_, err := os.Stat(file)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, opError("checking swap accounting", file, err)
	}
	on, err := swapOn()
	if err != nil || !on {
		return false, err
	}
	return false, &Error{Op: "limiting memory+swap", Path: file, Kind: ErrUnavailable,
		Err: errors.New("swap is on but the kernel does not account it per cgroup"), Hint: hint}
}

// swapOn reports whether any swap area is active: /proc/swaps has a
// header line, then one line per area.
func swapOn() (bool, error) {
	b, err := os.ReadFile(procSwaps)
	if err != nil {
		return false, opError("reading", procSwaps, err)
	}
	return len(strings.Split(strings.TrimSpace(string(b)), "\n")) > 1, nil
}
