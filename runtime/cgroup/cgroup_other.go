//go:build !linux

package cgroup

import (
	"errors"
	"os"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Group is one sandbox's or container's cgroup; only Linux has them.
type Group struct{}

var errNoCgroups = &Error{Op: "creating", Kind: ErrNotSupported,
	Err: errors.New("cgroups exist only on Linux, not on " + runtime.GOOS)}

// New fails with ErrNotSupported: only Linux has cgroups.
func New(name string, r *specs.LinuxResources) (*Group, error) { return nil, errNoCgroups }

// NewInPIDNamespace fails with ErrNotSupported.
func NewInPIDNamespace(name string, r *specs.LinuxResources) (*Group, error) {
	return nil, errNoCgroups
}

// NewAt fails with ErrNotSupported.
func NewAt(path string, r *specs.LinuxResources) (*Group, error) { return nil, errNoCgroups }

// Load fails with ErrNotSupported.
func Load(ref Ref) (*Group, error) { return nil, errNoCgroups }

// Ref is empty.
func (g *Group) Ref() Ref { return Ref{} }

// Mode is "".
func (g *Group) Mode() string { return "" }

// Dir is nil.
func (g *Group) Dir() *os.File { return nil }

// TaskFiles returns nothing.
func (g *Group) TaskFiles() ([]*os.File, error) { return nil, nil }

// MountDirs is nil.
func (g *Group) MountDirs() map[string]string { return nil }

// Add fails with ErrNotSupported.
func (g *Group) Add(pid int) error { return errNoCgroups }

// Kill fails with ErrNotSupported.
func (g *Group) Kill() error { return errNoCgroups }

// Signal fails with ErrNotSupported.
func (g *Group) Signal(sig syscall.Signal) error { return errNoCgroups }

// Stats fails with ErrNotSupported.
func (g *Group) Stats() (Stats, error) { return Stats{}, errNoCgroups }

// Memory fails with ErrNotSupported.
func (g *Group) Memory() (bool, uint64, error) { return false, 0, errNoCgroups }

// Freeze fails with ErrNotSupported.
func (g *Group) Freeze() error { return errNoCgroups }

// Thaw fails with ErrNotSupported.
func (g *Group) Thaw() error { return errNoCgroups }

// Paused fails with ErrNotSupported.
func (g *Group) Paused() (bool, error) { return false, errNoCgroups }

// Pids fails with ErrNotSupported.
func (g *Group) Pids() ([]int, error) { return nil, errNoCgroups }

// Update fails with ErrNotSupported.
func (g *Group) Update(r *specs.LinuxResources) error { return errNoCgroups }

// Close does nothing.
func (g *Group) Close() error { return nil }

// Delete does nothing: there is nothing to delete.
func (g *Group) Delete() error { return nil }

// ownerName: there are no groups to sweep here.
func ownerName() string { return "" }
