package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Group is one sandbox's or container's cgroup. Its methods may be called
// from several goroutines.
type Group struct {
	mu  sync.Mutex
	ref Ref
	// dirs are the distinct directories of ref.Dirs (v1 hierarchies
	// mounted together share one), freezer first; dirs[0] names the
	// group in errors.
	dirs    []string
	v2      *cgroup2.Manager // nil on v1
	dir     *os.File         // v2: the open group directory, until Close
	tasks   []*os.File       // v1: TaskFiles, once opened, until Close
	deleted bool
}

const (
	modeV1 = "v1"
	modeV2 = "v2"
	// mountRoot is where cgroups.Mode looks, and the root cgroup1's
	// controllers are built on.
	mountRoot = "/sys/fs/cgroup"
	dirPerm   = 0o755
)

// host says how to reach the cgroup tree: the mode, and on v2 the cgroup2
// mount point. Tests point it at /sys/fs/cgroup/unified to exercise v2 on
// a hybrid host.
type host struct{ mode, root string }

// spot says where a new group goes.
type spot struct {
	rel string // the group's cgroup path, from base
	// abs makes rel start at each hierarchy's root; else at the caller's
	// cgroup on v1, at its parent on v2.
	abs bool
	// sandbox is New: the directory must be new (ErrExist otherwise),
	// and the group joins only the v1 hierarchies it needs.
	sandbox bool
	// ownPID is NewInPIDNamespace: no freezer hierarchy on v1.
	ownPID bool
}

var errDeleted = errors.New("the group was deleted")

// New creates the cgroup for the sandbox called name ("" picks a unique
// name) with the limits in r (nil means none; the group still serves Kill
// and Stats) and returns it empty: put the sandbox in with Dir (v2, at
// clone), TaskFiles (v1, from the child) or Add. See the package
// documentation for where it is created.
func New(name string, r *specs.LinuxResources) (*Group, error) {
	h, err := detect()
	if err != nil {
		return nil, err
	}
	return newIn(h, name, r)
}

// NewAt creates, or takes over, the cgroup of an OCI container at path
// (linux.cgroupsPath; see the package documentation for how it is read)
// and applies r to it. Directories that exist already are used as they
// are; the Ref records those NewAt made, which are all that Delete
// removes.
func NewAt(path string, r *specs.LinuxResources) (*Group, error) {
	h, err := detect()
	if err != nil {
		return nil, err
	}
	return newAtIn(h, path, r)
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

// NewInPIDNamespace is New for a sandbox whose processes all live in a pid
// namespace of their own. The kernel kills them all when the namespace's
// init exits, so on cgroup v1 the group is not also made in the freezer
// hierarchy (a mkdir, a move and an rmdir saved); Kill still signals every
// process it finds in the group.
func NewInPIDNamespace(name string, r *specs.LinuxResources) (*Group, error) {
	h, err := detect()
	if err != nil {
		return nil, err
	}
	return newInSpot(h, name, r, true)
}

func newIn(h host, name string, r *specs.LinuxResources) (*Group, error) {
	return newInSpot(h, name, r, false)
}

func newInSpot(h host, name string, r *specs.LinuxResources, ownPID bool) (*Group, error) {
	if err := validate(r); err != nil {
		return nil, err
	}
	if err := checkStart(r); err != nil {
		return nil, err
	}
	if err := checkSandbox(r); err != nil {
		return nil, err
	}
	dir, err := dirName(name)
	if err != nil {
		return nil, err
	}
	return create(h, spot{rel: dir, sandbox: true, ownPID: ownPID}, r)
}

func newAtIn(h host, p string, r *specs.LinuxResources) (*Group, error) {
	cp, err := parsePath(p)
	if err != nil {
		return nil, err
	}
	r = zeroUnset(r)
	if err := validate(r); err != nil {
		return nil, err
	}
	if err := checkStart(r); err != nil {
		return nil, err
	}
	return create(h, spot{rel: cp.p, abs: cp.abs}, r)
}

func create(h host, s spot, r *specs.LinuxResources) (*Group, error) {
	if h.mode == modeV2 {
		return newV2(h.root, s, r)
	}
	return newV1(s, r)
}

// Load reopens the group that ref names, as saved by a process that
// created it. A group whose directories are all gone fails with an error
// matching fs.ErrNotExist.
func Load(ref Ref) (*Group, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	ref = ref.clone()
	g := &Group{ref: ref, dirs: distinct(ref.Dirs)}
	gone := 0
	for _, d := range g.dirs {
		err := onCgroupFS(d)
		if errors.Is(err, fs.ErrNotExist) {
			gone++
		} else if err != nil {
			return nil, err
		}
	}
	if gone == len(g.dirs) {
		return nil, &Error{Op: "loading", Path: g.dirs[0], Err: fs.ErrNotExist}
	}
	for _, d := range ref.Created {
		if err := onCgroupFS(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if ref.Mode == modeV1 {
		return g, nil
	}
	return g, g.openV2()
}

// checkRef refuses a Ref that is not one New or NewAt made: Delete
// removes directories it names.
func checkRef(ref Ref) error {
	bad := func(why string) error {
		return &Error{Op: "loading", Path: fmt.Sprintf("%+v", ref), Kind: ErrInvalid, Err: errors.New(why)}
	}
	switch {
	case ref.Mode != modeV1 && ref.Mode != modeV2:
		return bad("mode is neither v1 nor v2")
	case len(ref.Dirs) == 0:
		return bad("no directories")
	case ref.Mode == modeV2 && (len(ref.Dirs) != 1 || ref.Dirs[""] == "" || ref.Mount == ""):
		return bad("a v2 group is one directory under a cgroup2 mount")
	}
	for _, d := range append(slices.Collect(maps.Values(ref.Dirs)), ref.Created...) {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return bad(fmt.Sprintf("%q is not a clean absolute path", d))
		}
	}
	return nil
}

// onCgroupFS checks that dir, named by a Ref, is a cgroup directory: Kill
// and Delete act on everything below it.
func onCgroupFS(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return opError("loading", dir, err)
	}
	if st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return &Error{Op: "loading", Path: dir, Kind: ErrInvalid, Err: errors.New("not on a cgroup filesystem")}
	}
	return nil
}

// distinct lists the directories of dirs once each: in order of
// dirOrder's controllers first, then any other key's in key order.
func distinct(dirs map[string]string) []string {
	var out []string
	add := func(d string) {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, c := range dirOrder {
		add(dirs[c])
	}
	for _, k := range slices.Sorted(maps.Keys(dirs)) {
		add(dirs[k])
	}
	return out
}

// dirOrder orders a group's directories: freezer first, as Kill freezes
// through it; "" is the v2 directory.
var dirOrder = []string{"", "freezer", "pids", "memory", "cpu", "cpuacct", "cpuset", "devices", "blkio",
	"hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd"}

// Ref describes the group for Load in another process.
func (g *Group) Ref() Ref {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ref.clone()
}

// clone is a deep copy of r, so that neither the Group nor its caller
// sees the other change it.
func (r Ref) clone() Ref {
	r.Dirs, r.Paths = maps.Clone(r.Dirs), maps.Clone(r.Paths)
	r.Created = slices.Clone(r.Created)
	return r
}

// Mode is "v1" or "v2": the cgroup version the group lives in.
func (g *Group) Mode() string { return g.ref.Mode }

// Dir is the group's open directory on v2, for clone3 CLONE_INTO_CGROUP
// (spawn's Linux.Cgroup); nil on v1, and after Close or Delete. The Group
// owns it.
func (g *Group) Dir() *os.File {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dir
}

// TaskFiles returns, on v1, the group's "tasks" file in each of its
// hierarchies, open for writing (and close-on-exec): a single-threaded
// child joins the group by writing "0" to each before exec. That moves
// only the writing thread, so unlike Add, which writes a pid to
// cgroup.procs, it does not take the kernel's cgroup_threadgroup_rwsem for
// writing and does not wait for an RCU grace period (10 to 20 ms). The
// child must write before it unshares its cgroup namespace, whose root is
// the cgroup it is in at that moment. On v2 it returns nil: use Dir. The
// Group owns the files; Close or Delete closes them.
func (g *Group) TaskFiles() ([]*os.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil, &Error{Op: "opening the tasks files of", Path: g.dirs[0], Err: errDeleted}
	}
	if g.ref.Mode != modeV1 || g.tasks != nil {
		return g.tasks, nil
	}
	var files []*os.File
	for _, d := range g.dirs {
		f, err := os.OpenFile(filepath.Join(d, "tasks"), os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, hostError("opening", filepath.Join(d, "tasks"), err, modeV1)
		}
		files = append(files, f)
	}
	g.tasks = files
	return files, nil
}

// MountDirs maps, on v1, each hierarchy the group is in, by the name of
// its mount point ("memory", "cpu,cpuacct", "systemd"), to the group's
// directory there: what a container's own /sys/fs/cgroup shows. nil on
// v2, where a cgroup2 mount in the container's cgroup namespace shows
// the group.
func (g *Group) MountDirs() map[string]string {
	if g.ref.Mode != modeV1 {
		return nil
	}
	t, err := mounts()
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for c, d := range g.ref.Dirs {
		if m, ok := t.v1[c]; ok {
			out[filepath.Base(m.point)] = d
		}
	}
	return out
}

// Add moves process pid (all its threads) into the group: on v1 into every
// hierarchy of the group, on v2 through cgroup.procs. It works on a group
// from Load, for a process joining a running container. On v1, the first
// such move after a quiet moment waits for an RCU grace period; see
// TaskFiles for the way around it.
func (g *Group) Add(pid int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return &Error{Op: "adding a process to", Path: g.dirs[0], Err: errDeleted}
	}
	for _, d := range g.dirs {
		if err := writeProcs(filepath.Join(d, "cgroup.procs"), pid); err != nil {
			return hostError(fmt.Sprintf("adding process %d to", pid), d, err, g.ref.Mode)
		}
	}
	return nil
}

// procsRetries bounds writeProcs: a process still being created (the
// scheduler's TASK_NEW) cannot move and makes the kernel return EINVAL
// (kernel/sched/core.c, sched_cgroup_can_attach; runc PR 1950).
const procsRetries = 5

func writeProcs(file string, pid int) error {
	var err error
	for range procsRetries {
		if err = writeFile(file, strconv.Itoa(pid)); !errors.Is(err, unix.EINVAL) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// Kill sends SIGKILL to every process in the group and its subgroups and
// returns once none is left (zombies are not in a cgroup), or after 10 s.
// On v2 it writes cgroup.kill (Linux 5.14), which no fork can escape;
// otherwise it freezes the group, signals each process through a pidfd
// after checking that the pid still belongs to the group, thaws it, and
// repeats until cgroup.procs is empty. A paused group is thawed for the
// signals to land. It never waits for a process.
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
	if g.ref.Mode == modeV2 {
		return g.statsV2()
	}
	return g.statsV1()
}

// freezeTimeout bounds Freeze: a task in uninterruptible sleep (on a hung
// NFS server, say) holds a group in FREEZING for as long as it sleeps.
const freezeTimeout = 5 * time.Second

// Freeze stops every process in the group and its subgroups (runc pause)
// and returns once the kernel reports the group frozen: v1 freezer.state
// FROZEN, v2 cgroup.events "frozen 1" (Linux 5.2). If that takes longer
// than 5 s it thaws the group again and fails.
func (g *Group) Freeze() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	dir, err := g.freezerDir("freezing")
	if err != nil {
		return err
	}
	if g.freeze(dir, true, freezeTimeout) {
		return nil
	}
	g.freeze(dir, false, 0)
	return &Error{Op: "freezing", Path: dir,
		Err: fmt.Errorf("not frozen after %v: a process may be in uninterruptible sleep", freezeTimeout)}
}

// Thaw lets the processes of a frozen group run again (runc resume).
func (g *Group) Thaw() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	dir, err := g.freezerDir("thawing")
	if err != nil {
		return err
	}
	if !g.freeze(dir, false, freezeTimeout) {
		return &Error{Op: "thawing", Path: dir, Err: errors.New("still frozen")}
	}
	return nil
}

// Paused reports whether the group is frozen. A v1 group outside the
// freezer hierarchy never is.
func (g *Group) Paused() (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return false, &Error{Op: "reading the freezer state of", Path: g.dirs[0], Err: errDeleted}
	}
	if g.ref.Mode == modeV2 {
		return frozenV2(g.dirs[0])
	}
	dir := g.ref.Dirs["freezer"]
	if dir == "" {
		return false, nil
	}
	return frozenV1(dir)
}

// freezerDir is the directory whose freezer Freeze and Thaw use.
func (g *Group) freezerDir(op string) (string, error) {
	if g.deleted {
		return "", &Error{Op: op, Path: g.dirs[0], Err: errDeleted}
	}
	if g.ref.Mode == modeV2 {
		return g.dirs[0], nil
	}
	if dir := g.ref.Dirs["freezer"]; dir != "" {
		return dir, nil
	}
	return "", &Error{Op: op, Path: g.dirs[0], Kind: ErrUnavailable,
		Err: errors.New("the group is not in a freezer cgroup"), Hint: "mount the v1 freezer hierarchy"}
}

// freeze freezes (on) or thaws dir, the group's freezer, waiting at most
// wait for the kernel to agree; it reports whether it did.
func (g *Group) freeze(dir string, on bool, wait time.Duration) bool {
	if g.ref.Mode == modeV2 {
		return freezeV2(dir, on, wait)
	}
	return freezeV1(dir, on, wait)
}

// Pids lists the processes in the group and its subgroups, in ascending
// order: those in v1's freezer hierarchy (else pids, else the first the
// group is in), those in the v2 directory.
func (g *Group) Pids() ([]int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil, &Error{Op: "listing processes of", Path: g.dirs[0], Err: errDeleted}
	}
	pids, err := procsIn(g.dirs[:1])
	slices.Sort(pids)
	return pids, err
}

// Update applies the limits set in r and leaves the others as they are
// (runc update): -1 lifts a limit. Its rules are New's and NewAt's, but
// devices are not changed (as runc's), and memory.checkBeforeUpdate
// refuses a memory limit below the group's current use.
func (g *Group) Update(r *specs.LinuxResources) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return &Error{Op: "updating", Path: g.dirs[0], Err: errDeleted}
	}
	r = zeroUnset(r)
	if err := validate(r); err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	if g.ref.Mode == modeV2 {
		return g.updateV2(r)
	}
	return g.updateV1(r)
}

// checkUsage is memory.checkBeforeUpdate: a limit below what the group
// uses now would make the kernel reclaim or OOM-kill at once.
func checkUsage(r *specs.LinuxResources, usageFile string) error {
	m := r.Memory
	if m == nil || m.CheckBeforeUpdate == nil || !*m.CheckBeforeUpdate || limited(m.Limit) == nil {
		return nil
	}
	b, err := os.ReadFile(usageFile)
	if err != nil {
		return opError("reading", usageFile, err)
	}
	used, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return opError("reading", usageFile, err)
	}
	if *m.Limit < used {
		return invalid("memory.limit", "%d is below the %d bytes the group uses now (memory.checkBeforeUpdate)", *m.Limit, used)
	}
	return nil
}

// Close releases the group's open files (Dir, TaskFiles) and leaves the
// group as it is.
func (g *Group) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.close()
	return nil
}

func (g *Group) close() {
	if g.dir != nil {
		g.dir.Close()
		g.dir = nil
	}
	for _, f := range g.tasks {
		f.Close()
	}
	g.tasks = nil
}

// Delete kills whatever is left in the group, then removes the subgroups
// below it, the group's directory in every hierarchy, and the parents
// NewAt made that no other group uses now. A directory that was there
// before NewAt stays (its subgroups go). Delete may be called again after
// an error, and after success it does nothing.
func (g *Group) Delete() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil
	}
	if !g.removeEmpty() {
		if err := g.kill(); err != nil {
			return err
		}
		for _, d := range g.dirs {
			remove := removeTree
			if !slices.Contains(g.ref.Created, d) {
				remove = removeSubgroups
			}
			if err := remove(d); err != nil {
				return err
			}
		}
	}
	for _, d := range slices.Backward(g.ref.Created) {
		if !slices.Contains(g.dirs, d) {
			removeParent(d)
		}
	}
	g.close()
	g.deleted = true
	return nil
}

// removeEmpty removes the group's directories if it is empty, as after
// sbx run's sandbox has exited, and reports whether it did: the kernel
// refuses to remove a cgroup that holds a process or a subgroup (EBUSY),
// so trying costs less than reading cgroup.procs in every hierarchy. A
// directory NewAt did not make cannot be tried.
func (g *Group) removeEmpty() bool {
	for _, d := range g.dirs {
		if !slices.Contains(g.ref.Created, d) {
			return false
		}
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			return false
		}
	}
	return true
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
	case errors.Is(e.Err, unix.EOPNOTSUPP):
		e.Kind = ErrNotSupported
	}
	return e
}

// makeDir creates the group's directory dir, below top, the hierarchy's
// mount point. For New it must be new: failing on an existing one keeps
// two sandboxes of the same name apart. For NewAt it and its parents may
// exist; those it makes are added to created, parents first.
func makeDir(dir, top string, s spot, mode string, created *[]string) error {
	if s.sandbox {
		if err := os.Mkdir(dir, dirPerm); err != nil {
			return hostError("creating", dir, err, mode)
		}
		*created = append(*created, dir)
		return nil
	}
	err := os.Mkdir(dir, dirPerm)
	switch {
	case err == nil:
		*created = append(*created, dir)
		return nil
	case errors.Is(err, fs.ErrExist):
		return nil
	case !errors.Is(err, fs.ErrNotExist) || dir == top || filepath.Dir(dir) == dir:
		return hostError("creating", dir, err, mode)
	}
	if err := makeDir(filepath.Dir(dir), top, s, mode, created); err != nil {
		return err
	}
	return makeDir(dir, top, s, mode, created)
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

// undoCreate removes, deepest first, the directories a failed New or
// NewAt made.
func undoCreate(created *[]string) func() {
	return func() {
		for _, d := range slices.Backward(*created) {
			removeTree(d)
		}
	}
}

// removeTree removes a cgroup directory and the subgroups the sandbox may
// have made in it, deepest first (rmdir is the only way to remove a
// cgroup; its files cannot be unlinked). A missing directory is removed.
func removeTree(dir string) error {
	if err := removeSubgroups(dir); err != nil {
		return err
	}
	return rmdir(dir)
}

// removeSubgroups removes the subgroups of dir, deepest first.
func removeSubgroups(dir string) error {
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
	return nil
}

// removeParent removes a parent directory NewAt made, unless another
// group is in it by now (EBUSY).
func removeParent(dir string) {
	unix.Rmdir(dir)
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

// writeFile writes value to an existing cgroup file in one write(2), as
// the kernel wants. A missing file fails with ENOENT, not EACCES as with
// O_CREAT on a cgroup filesystem. Raw system calls: os.OpenFile adds two
// fcntl calls per file to try the poller, and New writes several files.
func writeFile(file, value string) error {
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: file, Err: err}
	}
	_, err = unix.Write(fd, []byte(value))
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: file, Err: err}
	}
	return nil
}

// op is one write to a file of the group that cgroup1 or cgroup2 do not
// make, or not right: part of a plan, executed in order.
type op struct {
	ctrl  string // the controller the file belongs to
	file  string
	value string
	field string // the OCI field it applies, after "linux.resources."
	// alt and altValue are written when file does not exist:
	// blkio.weight is CFQ's, gone in Linux 5.0; BFQ has blkio.bfq.weight.
	alt, altValue string
	// optional skips a file the kernel does not have (hugetlb's rsvd
	// limits, Linux 5.7): applying the main limit is enough.
	optional bool
	hint     string // why the file may be missing
}

// run writes o to its file in dir.
func (o op) run(dir, mode string) error {
	file := filepath.Join(dir, o.file)
	err := writeFile(file, o.value)
	if errors.Is(err, fs.ErrNotExist) && o.alt != "" {
		err = writeFile(filepath.Join(dir, o.alt), o.altValue)
	}
	switch {
	case err == nil || (o.optional && errors.Is(err, fs.ErrNotExist)):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Op: "applying " + field + "." + o.field + " to", Path: file, Kind: ErrUnavailable,
			Err: errors.New("the kernel has no such file"), Hint: o.hint}
	}
	return hostError("applying "+field+"."+o.field+" to", file, err, mode)
}

// missing is the error for a resource whose controller the group cannot
// have.
func missing(ctrl, fieldName, mode string) error {
	where := "cgroup v1 hierarchy is mounted"
	hint := "mount it, or remove " + field + "." + fieldName
	if mode == modeV2 {
		where = "cgroup v2 controller is offered here"
		hint = "it may be bound to a cgroup v1 hierarchy; remove " + field + "." + fieldName + ", or boot with cgroup v2 only"
	}
	return &Error{Op: "applying", Path: field + "." + fieldName, Kind: ErrUnavailable,
		Err: fmt.Errorf("it needs the %s controller, and no such %s", ctrl, where), Hint: hint}
}

// notOn is the error for a resource the cgroup version cannot apply.
func notOn(mode, fieldName, why string) error {
	return &Error{Op: "applying", Path: field + "." + fieldName, Kind: ErrNotSupported,
		Err: fmt.Errorf("not supported on cgroup %s: %s", mode, why)}
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

// swapSet reports whether r limits memory+swap.
func swapSet(r *specs.LinuxResources) bool {
	return r != nil && r.Memory != nil && r.Memory.Swap != nil
}

// unlimited reads a limit file's "max", or v1's 2^63 rounded down to a
// page, as 0.
func unlimited(v uint64) uint64 {
	if v >= 1<<62 {
		return 0
	}
	return v
}

// Memory reports what Stats does of memory, whether the OOM killer killed
// a process of the group and its peak use, from just the two files that
// say it (Stats reads every controller's: a sandbox's result needs only
// these). A group outside the memory controller reports nothing.
func (g *Group) Memory() (oomKilled bool, peakBytes uint64, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return false, 0, &Error{Op: "reading memory use of", Path: g.dirs[0], Err: errDeleted}
	}
	events, peak := "memory.events", "memory.peak"
	dir := g.ref.Dirs[""]
	if g.ref.Mode == modeV1 {
		events, peak = "memory.oom_control", "memory.max_usage_in_bytes"
		dir = g.ref.Dirs["memory"]
	}
	if dir == "" {
		return false, 0, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, events))
	if err != nil {
		return false, 0, opError("reading memory use of", dir, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			oomKilled = n > 0
		}
	}
	p, err := readInt(filepath.Join(dir, peak))
	if errors.Is(err, fs.ErrNotExist) {
		return oomKilled, 0, nil // memory.peak is Linux 5.19's
	} else if err != nil {
		return false, 0, err
	}
	return oomKilled, uint64(p), nil
}
