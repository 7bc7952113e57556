package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds Kill: a process in uninterruptible sleep (on a hung
// NFS server, say) outlives SIGKILL for as long as it sleeps.
const killTimeout = 10 * time.Second

// kill is Kill with g.mu held.
func (g *Group) kill() error {
	deadline := time.Now().Add(killTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		pids, err := procsIn(g.dirs)
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return &Error{Op: "killing", Path: g.dirs[0],
				Err: fmt.Errorf("processes %v still run after %v", pids, killTimeout)}
		}
		if !g.writeKill() {
			// Thawed after: frozen v1 tasks die only when they run.
			if err := g.signalAll(unix.SIGKILL, true); err != nil {
				return err
			}
		}
		time.Sleep(delay)
	}
}

// writeKill writes cgroup.kill (v2, Linux 5.14), which SIGKILLs the whole
// subtree with no window for a fork to escape. false means it cannot be
// used: v1, or an older kernel.
func (g *Group) writeKill() bool {
	if g.ref.Mode != modeV2 {
		return false
	}
	return writeFile(filepath.Join(g.dirs[0], "cgroup.kill"), "1") == nil
}

// Signal sends sig to every process of the group and its subgroups (runc
// kill --all), as Kill does but with any signal and once: a process that
// handles or ignores it lives on. A group that was frozen stays frozen.
func (g *Group) Signal(sig syscall.Signal) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return &Error{Op: "signalling", Path: g.dirs[0], Err: errDeleted}
	}
	return g.signalAll(sig, false)
}

// signalAll sends sig to every process in the group while it is frozen,
// so that none forks between the reading of cgroup.procs and its signal.
// It thaws the group after if it froze it, or if thaw: frozen v1 tasks
// take a SIGKILL only when they run again; v2 ones die at once.
func (g *Group) signalAll(sig syscall.Signal, thaw bool) error {
	if dir, err := g.freezerDir("signalling"); err == nil {
		frozen := g.frozen(dir)
		if !frozen {
			g.freeze(dir, true, freezeWait)
		}
		if !frozen || thaw {
			defer g.freeze(dir, false, freezeWait)
		}
	}
	pids, err := procsIn(g.dirs)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := g.signal(pid, sig); err != nil {
			return err
		}
	}
	return nil
}

// frozen reports whether dir, the group's freezer, has been asked to
// freeze (paused): cgroup.freeze on v2, not freezer.state's THAWED on v1.
// Not whether every task is frozen yet: that goes false for as long as a
// task takes to die of a signal. false when it cannot be read.
func (g *Group) frozen(dir string) bool {
	file := filepath.Join(dir, "freezer.state")
	if g.ref.Mode == modeV2 {
		file = filepath.Join(dir, "cgroup.freeze")
	}
	b, err := os.ReadFile(file)
	state := strings.TrimSpace(string(b))
	return err == nil && state != "0" && state != "THAWED"
}

// freezeWait bounds how long Kill waits for a freeze before it signals
// anyway: an incomplete freeze only costs it another round.
const freezeWait = 100 * time.Millisecond

// signal sends sig to pid through a pidfd, and only if the process that
// the pidfd holds is in the group: between the reading of cgroup.procs and
// pidfd_open the process may have died and its pid gone to another one.
// Checking after pidfd_open is race-free: if the pid is reused after it,
// the pidfd still names the dead process and the signal goes nowhere.
func (g *Group) signal(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil // a process outside our pid namespace reads as 0; it cannot be named
	}
	if pid == os.Getpid() {
		return &Error{Op: "signalling", Path: g.dirs[0], Err: errors.New("the calling process is in the group")}
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return opError("signalling", g.dirs[0], fmt.Errorf("pidfd_open %d: %w", pid, err))
	}
	defer unix.Close(fd)
	if !g.holds(pid) {
		return nil
	}
	err = unix.PidfdSendSignal(fd, sig, nil, 0)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return opError("signalling", g.dirs[0], fmt.Errorf("pidfd_send_signal %d: %w", pid, err))
	}
	return nil
}

// holds reports whether /proc/pid/cgroup puts pid in the group or one of
// its subgroups in any of the group's hierarchies.
func (g *Group) holds(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controller-list:cgroup-path (cgroups(7))
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if want, ok := g.ref.Paths[c]; ok && within(f[2], want) {
				return true
			}
		}
	}
	return false
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// procsIn lists the processes in dirs and their subgroups, once each. A
// directory that is gone holds none.
func procsIn(dirs []string) ([]int, error) {
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walk
			}
			if err != nil || !e.IsDir() {
				return err
			}
			found, err := readProcs(filepath.Join(p, "cgroup.procs"))
			for _, pid := range found {
				if !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return err
		})
		if err != nil {
			return nil, opError("listing processes of", d, err)
		}
	}
	return pids, nil
}

func readProcs(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		pid, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
