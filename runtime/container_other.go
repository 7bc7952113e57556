//go:build !linux

package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"sbx.dev/sbx/runtime/cgroup"
	"sbx.dev/sbx/spawn"
)

// CreateOptions are the arguments of `sbx create`.
type CreateOptions struct {
	Root, ID, Bundle, PidFile, ConsoleSocket string
	PreserveFDs                              int
	Stdin, Stdout, Stderr, Console           *os.File
}

// ExecOptions are the arguments of `sbx exec`.
type ExecOptions struct {
	Process                        *specs.Process
	PidFile, ConsoleSocket         string
	PreserveFDs                    int
	Stdin, Stdout, Stderr, Console *os.File
}

var errPlatform = fmt.Errorf("OCI containers on %s: %w", goruntime.GOOS, spawn.ErrNotSupported)

// Create is not implemented on this platform yet.
func Create(CreateOptions) (*Container, error) { return nil, errPlatform }

func (c *Container) State() specs.State                       { return specs.State{ID: c.st.ID, Status: StatusStopped} }
func (c *Container) Start() error                             { return errPlatform }
func (c *Container) Signal(syscall.Signal, bool) error        { return errPlatform }
func (c *Container) Delete(bool) error                        { return errPlatform }
func (c *Container) Pause() error                             { return errPlatform }
func (c *Container) Resume() error                            { return errPlatform }
func (c *Container) Update(*specs.LinuxResources) error       { return errPlatform }
func (c *Container) Pids() ([]int, error)                     { return nil, errPlatform }
func (c *Container) Stats() (cgroup.Stats, error)             { return cgroup.Stats{}, errPlatform }
func (c *Container) Exec(ExecOptions) (*spawn.Process, error) { return nil, errPlatform }
func (c *Container) UserNamespaceFirst() (*os.File, error)    { return nil, nil }
func ForwardSignals() chan os.Signal                          { return nil }
func AppArmorEnabled() bool                                   { return false }
func MemoryPolicies() (modes, flags []string)                 { return nil, nil }
func Foreground(chan os.Signal, *spawn.Process, *os.File, *os.File, *os.File) (int, error) {
	return 0, errPlatform
}
func ConsolePair() (*os.File, *os.File, error) { return nil, nil, errPlatform }
