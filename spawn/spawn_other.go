//go:build !linux

package spawn

import (
	"fmt"
	"os"
	"runtime"
)

// closeNr is never used here: a Program runs only on Linux.
const closeNr = 0

var errPlatform = fmt.Errorf("spawn: %s: %w", runtime.GOOS, ErrNotSupported)

// Process is a handle on a child process; this platform has no backend yet.
type Process struct{}

func (c *Cmd) Start() (*Process, error)           { return nil, errPlatform }
func Open(pid int, id Identity) (*Process, error) { return nil, errPlatform }
func (p *Process) Pid() int                       { return 0 }
func (p *Process) Fd() uintptr                    { return ^uintptr(0) }
func (p *Process) Signal(sig os.Signal) error     { return errPlatform }
func (p *Process) Wait() (*State, error)          { return nil, errPlatform }
func (p *Process) TryWait() (*State, bool, error) { return nil, false, errPlatform }
func (p *Process) Close() error                   { return errPlatform }
func (p *Process) Identity() Identity             { return Identity{} }
