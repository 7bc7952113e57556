package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A group New names itself ("" for a name) records who made it:
// sbx-<pid namespace inode>-<pid>-<start time>-<sequence number>. The
// maker deletes it when its sandbox ends; a maker killed by SIGKILL cannot,
// so each New sweeps its siblings and deletes those whose maker is gone
// (the pid is free, or now names a process started at another time),
// killing what they still hold first: with share.pid the sandbox's
// processes outlive sbx, as nothing but the cgroup still finds them. Only
// makers in the caller's own pid namespace are judged; another namespace's
// pids cannot be looked up here.

// owner identifies a process within one boot.
type owner struct{ ns, pid, start uint64 }

var ownSeq atomic.Uint64

// ownerName names a new group of this process, or "" when this process
// cannot identify itself (a /proc of another pid namespace).
func ownerName() string {
	me, ok := selfOwner()
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s%d-%d-%d-%d", prefix, me.ns, me.pid, me.start, ownSeq.Add(1))
}

// selfOwner is this process's owner, read once; false when /proc is not
// its pid namespace's.
var selfOwner = sync.OnceValues(func() (owner, bool) {
	pid := os.Getpid()
	var st unix.Stat_t
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(pid) || unix.Stat("/proc/self/ns/pid", &st) != nil {
		return owner{}, false
	}
	start, err := startTime(uint64(pid))
	return owner{st.Ino, uint64(pid), start}, err == nil
})

// parseOwner reads an owner from a name ownerName made.
func parseOwner(name string) (owner, bool) {
	f := strings.Split(strings.TrimPrefix(name, prefix), "-")
	if !strings.HasPrefix(name, prefix) || len(f) != 4 {
		return owner{}, false
	}
	var v [4]uint64
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return owner{}, false
		}
		v[i] = n
	}
	return owner{v[0], v[1], v[2]}, true
}

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot.
func startTime(pid uint64) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(pid, 10) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name, want 20 or more", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// gone tells whether o's process has ended: its pid is free (ENOENT), or
// names a process started at another time. Any other failure to read
// (hidepid, no fds left) counts as alive: a live sandbox must not be
// swept.
func (o owner) gone(me owner) bool {
	if o.ns != me.ns {
		return false
	}
	start, err := startTime(o.pid)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	return start != o.start
}

// place is a directory of a cgroup hierarchy and its cgroup path there
// (as /proc/PID/cgroup gives it).
type place struct{ dir, path string }

// sweep deletes the groups left by dead makers beside a new group: parents
// maps each controller ("" on v2) to where the new group was made. It is
// best effort: a group it cannot delete now is tried again by the next
// New.
func sweep(mode, mount string, parents map[string]place) {
	me, ok := selfOwner()
	if !ok {
		return
	}
	stale := map[string]*Ref{}
	read := map[string]bool{}
	for c, pl := range parents {
		parent := pl.dir
		if read[parent] {
			// A co-mounted controller (cpu,cpuacct): add its key.
			for name, ref := range stale {
				if d := filepath.Join(parent, name); slices.Contains(ref.Created, d) {
					ref.Dirs[c], ref.Paths[c] = d, path.Join(pl.path, name)
				}
			}
			continue
		}
		read[parent] = true
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			o, ok := parseOwner(e.Name())
			if !ok || !e.IsDir() || !o.gone(me) {
				continue
			}
			ref := stale[e.Name()]
			if ref == nil {
				ref = &Ref{Mode: mode, Mount: mount, Dirs: map[string]string{}, Paths: map[string]string{}}
				stale[e.Name()] = ref
			}
			d := filepath.Join(parent, e.Name())
			ref.Dirs[c], ref.Paths[c] = d, path.Join(pl.path, e.Name())
			ref.Created = append(ref.Created, d)
		}
	}
	for _, ref := range stale {
		if g, err := Load(*ref); err == nil {
			g.reap()
		}
	}
}

// reapWait bounds how long sweep waits for a stale group's processes to
// die before it leaves the group to the next sweep: it runs on every New,
// and a process in uninterruptible sleep outlives SIGKILL.
const reapWait = 100 * time.Millisecond

// reap is a bounded Delete: one round of SIGKILL, then the directories
// once the group is empty, if it is within reapWait.
func (g *Group) reap() {
	g.mu.Lock()
	defer g.mu.Unlock()
	deadline := time.Now().Add(reapWait)
	for killed := false; ; killed = true {
		pids, err := procsIn(g.dirs)
		if err != nil {
			return
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return
		}
		if !killed && !g.writeKill() {
			g.signalAll(unix.SIGKILL, true)
		}
		time.Sleep(time.Millisecond)
	}
	for _, d := range g.dirs {
		if removeTree(d) != nil {
			return
		}
	}
	g.deleted = true
}
