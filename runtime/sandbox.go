// Package runtime runs sandboxes and OCI containers on the platform's
// backend: on Linux a spawn.Cmd built from an OCI spec (namespaces, the
// filesystem plan of package namespaces, capabilities, seccomp, rlimits)
// and a cgroup for its limits. A sandbox (Sandbox.Run) has a supervisor
// that forwards signals, enforces the timeout, proxies the terminal and
// makes sure nothing the sandbox started outlives it; a container
// (Create, Load) outlives sbx and is found again through its state
// directory.
package runtime

import (
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"sbx.dev/sbx/spec"
)

// Sandbox is one sandboxed run: an OCI spec and sbx's policy for it (from
// spec.Sandbox.OCI), and the streams to connect.
type Sandbox struct {
	Spec   *specs.Spec
	Policy *spec.Policy
	// Stdin, Stdout and Stderr are given to the process as they are (nil
	// means /dev/null); with a terminal, sbx copies between them and the
	// terminal instead.
	Stdin, Stdout, Stderr *os.File
	// Grace is how long the process has between SIGTERM and SIGKILL when
	// the timeout expires; 0 means 2 seconds.
	Grace time.Duration
	// Signals, when set, is a channel the caller registered with
	// ForwardSignals before anything else: Run forwards what arrives on
	// it, a signal sent while the sandbox was being made included, and
	// leaves it registered, so that one sent after the sandbox ended
	// cannot end the caller before it reports (sbx run does so, and exits
	// with it registered). Nil: Run registers for the signals itself
	// before it makes anything, and unregisters when it returns.
	Signals chan os.Signal
}

// Result is how a sandbox run ended; its JSON is `sbx run --report`.
type Result struct {
	ExitCode      int     `json:"exitCode"`
	Signal        int     `json:"signal"`
	TimedOut      bool    `json:"timedOut"`
	OOMKilled     bool    `json:"oomKilled"`
	WallSeconds   float64 `json:"wallSeconds"`
	UserSeconds   float64 `json:"userSeconds"`
	SystemSeconds float64 `json:"systemSeconds"`
	// PeakMemoryBytes is the sandbox cgroup's peak; 0 without a cgroup
	// (neither limits nor share.pid): the process's own max RSS would count the memory it
	// shared with sbx until exec.
	PeakMemoryBytes int64 `json:"peakMemoryBytes"`
}

// Exit codes of `sbx run` besides the process's own (DESIGN.md).
const (
	ExitTimeout     = 124
	ExitFailed      = 125
	ExitCannotExec  = 126
	ExitNotFound    = 127
	defaultGrace    = 2 * time.Second
	signalExitShift = 128
)

// StartError is a failure to start the process: Code is 126 (it cannot be
// executed), 127 (not found) or 125 (anything else: sbx or the host).
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Status is the exit status `sbx run` returns for res.
func (res *Result) Status() int {
	if res.TimedOut {
		return ExitTimeout
	}
	return res.ExitCode
}
