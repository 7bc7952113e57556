package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrInvalidSpec is wrapped by every error Load, Parse and Sandbox.OCI return.
var ErrInvalidSpec = errors.New("invalid spec")

// Error is a problem in a spec: which file, where in it, and what is wrong.
// Its text is one line: "<file>: <field>: <problem>".
type Error struct {
	File    string // the spec file as given to Load or Parse
	Field   string // like "mounts[1].destination" or "line 3, column 7"; "" for the whole file
	Problem string // like "must be an absolute path"
	Err     error  // the cause, like fs.ErrNotExist; nil when there is none
}

func (e *Error) Error() string { return e.File + ": " + e.detail() }

// detail is the error text without the file name.
func (e *Error) detail() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// Unwrap lets errors.Is find ErrInvalidSpec and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidSpec}
	}
	return []error{ErrInvalidSpec, e.Err}
}

// Sandbox is a sandbox spec (DESIGN.md, "The sandbox spec"). Omitted fields
// mean isolated: nothing is shared unless Share says so.
type Sandbox struct {
	Process Process `json:"process"`
	// Root is the root filesystem; nil means an empty read-only tmpfs.
	Root *Root `json:"root,omitempty"`
	// Mounts are mounted, in order, after /proc and /dev.
	Mounts []Mount `json:"mounts,omitempty"`
	Share  Share   `json:"share"`
	// Hostname is the sandbox's host name; nil means "sbx". It must be nil
	// when Share.UTS is set.
	Hostname *string `json:"hostname,omitempty"`
	Limits   Limits  `json:"limits"`
	// Seccomp is "default" (also when ""), "unconfined", or the path of an
	// OCI LinuxSeccomp JSON file.
	Seccomp string `json:"seccomp,omitempty"`
	// Capabilities are kept, all others dropped; nil means none. Names may
	// be written "CAP_NET_RAW" or "net_raw"; Load makes them "CAP_NET_RAW".
	Capabilities []string `json:"capabilities,omitempty"`
	// UIDMappings and GIDMappings (an extension) map sandbox ids to host
	// ids in the user namespace. Nil maps process.user to the caller's ids.
	UIDMappings []IDMapping `json:"uidMappings,omitempty"`
	GIDMappings []IDMapping `json:"gidMappings,omitempty"`

	file string // as given to Parse, for errors; "" for a Sandbox built in Go
	dir  string // resolves relative paths; "" means the working directory
}

// Process is the program the sandbox runs.
type Process struct {
	Args []string `json:"args"`          // must not be empty
	Env  []string `json:"env,omitempty"` // nil means an empty environment
	Cwd  string   `json:"cwd,omitempty"` // "" means "/"
	User User     `json:"user"`          // zero means root in the sandbox
	// Terminal gives the process a pseudo-terminal as its stdio.
	Terminal bool `json:"terminal,omitempty"`
}

// User is the sandbox user and group the process runs as.
type User struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// Root is the sandbox root filesystem.
type Root struct {
	Path     string `json:"path"`               // relative to the spec's directory
	Writable bool   `json:"writable,omitempty"` // false: mounted read-only
}

// Mount is a bind mount or a tmpfs. Mounts are read-only unless Writable.
type Mount struct {
	// Type is "bind" or "tmpfs"; "" means "bind".
	Type string `json:"type,omitempty"`
	// Source is the host path of a bind mount, relative to the spec's
	// directory; it must exist. It must be "" for a tmpfs.
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"` // absolute, in the sandbox
	Writable    bool   `json:"writable,omitempty"`
	// Size limits a tmpfs; 0 means the kernel default (half of RAM).
	Size Size `json:"size,omitempty"`
	// Mode (an extension) is the octal mode of a tmpfs root directory, like
	// "1777"; "" means the kernel default.
	Mode string `json:"mode,omitempty"`
}

// Share lists what the sandbox shares with the caller; false means a fresh
// namespace of that kind.
type Share struct {
	Network bool `json:"network,omitempty"`
	PID     bool `json:"pid,omitempty"`
	IPC     bool `json:"ipc,omitempty"`
	UTS     bool `json:"uts,omitempty"`
	Cgroup  bool `json:"cgroup,omitempty"`
	Time    bool `json:"time,omitempty"`
	User    bool `json:"user,omitempty"`
}

// Limits bound the sandbox's resources. Zero or nil means no limit.
type Limits struct {
	Memory Size     `json:"memory,omitempty"` // bytes of memory, no swap beyond it
	Pids   *int64   `json:"pids,omitempty"`   // tasks in the sandbox cgroup; must be ≥ 1
	CPUs   *float64 `json:"cpus,omitempty"`   // CPU time per wall time; must be ≥ 0.01
	// Timeout is the wall-clock limit after which the whole tree is killed.
	Timeout Duration `json:"timeout,omitempty"`
	// OpenFiles is RLIMIT_NOFILE, soft and hard; must be ≥ 1.
	OpenFiles *uint64 `json:"openFiles,omitempty"`
}

// IDMapping maps Size ids from ContainerID in the sandbox to HostID.
type IDMapping struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"` // must be ≥ 1
}

// HostIDs are the caller's user and group ids, the default targets of the
// sandbox user's id mappings.
type HostIDs struct{ UID, GID uint32 }

// Load reads, strictly decodes and validates the sandbox spec in the file
// path. Relative paths in it are resolved against the file's directory, and
// the returned Sandbox holds them absolute.
func Load(path string) (*Sandbox, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problem: cause(err), Err: err}
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse is Load for a spec already read: name names it in errors and dir
// resolves its relative paths ("" means the working directory).
func Parse(name string, data []byte, dir string) (*Sandbox, error) {
	s := &Sandbox{}
	d := decoder{file: name}
	if err := d.document(data, s); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{File: name, Problem: "resolving " + dir + ": " + cause(err), Err: err}
	}
	s.file, s.dir = name, abs
	if _, err := s.validate(); err != nil {
		return nil, err
	}
	s.normalize()
	return s, nil
}

// cause is the text of err without the operation and path an
// *fs.PathError repeats: "no such file or directory".
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
