//go:build !linux

package cgroup

import (
	"errors"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Group is one sandbox's cgroup; only Linux has them.
type Group struct{}

var errNoCgroups = &Error{Op: "creating", Kind: ErrNotSupported,
	Err: errors.New("cgroups exist only on Linux, not on " + runtime.GOOS)}

// New fails with ErrNotSupported: only Linux has cgroups.
func New(name string, r *specs.LinuxResources) (*Group, error) { return nil, errNoCgroups }

// Mode is "".
func (g *Group) Mode() string { return "" }

// Dir is nil.
func (g *Group) Dir() *os.File { return nil }

// Add fails with ErrNotSupported.
func (g *Group) Add(pid int) error { return errNoCgroups }

// Kill fails with ErrNotSupported.
func (g *Group) Kill() error { return errNoCgroups }

// Stats fails with ErrNotSupported.
func (g *Group) Stats() (Stats, error) { return Stats{}, errNoCgroups }

// Delete does nothing: there is nothing to delete.
func (g *Group) Delete() error { return nil }
