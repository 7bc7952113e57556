// Package spawn starts child processes that inherit nothing by accident and
// manages them only through process handles (a pidfd on Linux, a process
// descriptor on FreeBSD), never through a bare pid or SIGCHLD.
//
// A Cmd names everything the child gets: its argument vector, its whole
// environment (nil means empty, never the parent's), its working directory,
// fds 0-2 (nil means /dev/null) and ExtraFiles, which become fds 3, 4, …;
// every other fd of the parent is closed at exec, every signal disposition is
// reset to its default and the signal mask is empty.
//
// On Linux the child is created by one clone3 call that shares the parent's
// memory on a private stack (the "afork" of vfork's critics), so creation
// costs the same whatever the size of the parent, and that also creates every
// requested namespace and places the child in its cgroup. Its exit signal is
// 0: the program that embeds spawn receives no SIGCHLD for it, and a
// waitpid(-1) loop elsewhere in the program (without __WALL) cannot reap it.
// Everything the child does between clone and exec is a flat list of system
// calls planned in Go; a failure in any of them is returned by Start, naming
// the step and its object, e.g. `spawn: chdir "/nope": no such file or
// directory`.
//
// spawn refuses to run where it cannot keep these promises: kernels older
// than Linux 5.11 (close_range CLOSE_RANGE_CLOEXEC) get ErrNotSupported.
// It never changes the calling thread's state: namespaces, credentials and
// the rest are set up in the child only.
package spawn

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

var (
	// ErrNotFound is returned by Open when the process is gone or its pid
	// now names another process.
	ErrNotFound = errors.New("process not found")
	// ErrNotSupported is returned when the kernel lacks a feature spawn
	// needs; the error names the feature.
	ErrNotSupported = errors.New("not supported")
)

// Cmd describes a child process. The zero value of every field means
// "nothing": no environment, /dev/null for the standard fds, no extra fds.
type Cmd struct {
	// Path is the program to execute. Without a slash it is searched, in
	// the child, in the PATH of Env (or /usr/local/bin:/usr/bin:/bin).
	Path string
	// Args is the argument vector including argv[0]; nil means {Path}.
	Args []string
	// Env is the complete environment; nil means an empty one, never the
	// parent's.
	Env []string
	// Dir is the working directory; "" means the parent's.
	Dir string
	// Stdin, Stdout and Stderr become fds 0, 1 and 2; nil means /dev/null.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles become fds 3, 4, …; they are the only other fds the child
	// gets. A nil entry leaves that fd closed.
	ExtraFiles []*os.File
	// Gate, when set, makes the child stop after all setup, just before
	// exec, until it reads one byte from Gate. Start returns as soon as the
	// child waits there; an error after the gate (exec failing) ends the
	// child with status 127 instead of being returned by Start, and is
	// written to the child's Stderr as Error's text.
	Gate *os.File
	// Adoptable makes the child an ordinary child of the calling process,
	// as fork would: it raises SIGCHLD when it exits and, once the caller
	// has exited, is reaped by the nearest subreaper (an OCI runtime's
	// container process must be). By default the child is private: it is
	// created and reaped by a keeper process that shares the caller's
	// memory and never execs, so the program gets no SIGCHLD for it and no
	// waitpid(-1) elsewhere in it can steal its status.
	Adoptable bool
	// Linux holds what only Linux can do; nil means no namespaces, same
	// credentials, the parent's cgroup. Ignored by other platforms only
	// when nil: set, it makes Start fail there with ErrNotSupported.
	Linux *Linux
}

// IDMap maps Size ids starting at ContainerID inside a user namespace to
// ids starting at HostID outside it.
type IDMap struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// Credential is the identity the child takes before exec.
type Credential struct {
	UID, GID uint32
	// Groups are the supplementary groups; nil means none. They are not set
	// at all when the user namespace denies setgroups (Linux.DenySetgroups).
	Groups []uint32
	// KeepGroups leaves the supplementary groups as they are, for a child
	// that joins a user namespace where setgroups is denied.
	KeepGroups bool
}

// Identity names one process for its whole life, unlike a pid, which the
// kernel recycles. It is serialisable, so a process can be found again by
// another program (Open).
type Identity struct {
	Pid int `json:"pid"`
	// Inode is the pidfs inode number of the process (Linux ≥ 6.9); 0 when
	// the kernel has no pidfs.
	Inode uint64 `json:"pidfsInode,omitempty"`
	// StartTime is the process start time in clock ticks after boot (field
	// 22 of /proc/PID/stat); 0 when unknown.
	StartTime uint64 `json:"startTime,omitempty"`
}

// State is how a process ended.
type State struct {
	pid        int
	code       int            // exit status, -1 when killed by a signal or unknown
	signal     syscall.Signal // 0 when it exited normally or unknown
	known      bool
	userTime   time.Duration
	systemTime time.Duration
	maxRSS     int64
}

// Pid is the process id the process had.
func (s *State) Pid() int { return s.pid }

// ExitCode is the exit status, or -1 when the process was killed by a signal
// or its status is unknown (a process found with Open is not our child).
func (s *State) ExitCode() int { return s.code }

// Signal is the signal that killed the process, 0 when it exited normally.
func (s *State) Signal() syscall.Signal { return s.signal }

// Known reports whether the exit status is known; it is not for a process
// found with Open, which the kernel reports to its real parent only.
func (s *State) Known() bool { return s.known }

// UserTime and SystemTime are the CPU time the process (not its unwaited
// descendants) used; 0 when unknown.
func (s *State) UserTime() time.Duration   { return s.userTime }
func (s *State) SystemTime() time.Duration { return s.systemTime }

// MaxRSS is the peak resident set size of the process in bytes, 0 when
// unknown.
func (s *State) MaxRSS() int64 { return s.maxRSS }

func (s *State) String() string {
	switch {
	case !s.known:
		return "exited (status unknown)"
	case s.signal != 0:
		return "signal: " + s.signal.String()
	default:
		return "exit status " + strconv.Itoa(s.code)
	}
}

// Error is a failure to start a child, with the step that failed and its
// object, in the style of *fs.PathError.
type Error struct {
	Op   string // the step: "exec", "chdir", "write uid_map", …
	Path string // its object; "" when it has none
	Err  error
}

func (e *Error) Error() string { return errorPrefix(e.Op, e.Path) + e.Err.Error() }

// errorPrefix is an Error's text up to its Err.
func errorPrefix(op, path string) string {
	if path == "" {
		return "spawn: " + op + ": "
	}
	return fmt.Sprintf("spawn: %s %q: ", op, path)
}

func (e *Error) Unwrap() error { return e.Err }

func (c *Cmd) argv() []string {
	if c.Args == nil {
		return []string{c.Path}
	}
	return c.Args
}
