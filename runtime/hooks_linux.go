package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

// hookOutputMax bounds what a failing hook's error quotes of its output.
const hookOutputMax = 4096

// runHooks runs hooks in order in sbx's namespaces, each with the state
// on its stdin; the first failure (an exit status other than 0, a
// timeout) stops them and is returned.
func runHooks(hooks []specs.Hook, state specs.State) error {
	for i, h := range hooks {
		if err := runHook(h, state, nil); err != nil {
			return fmt.Errorf("hook %d (%s): %w", i, h.Path, err)
		}
	}
	return nil
}

// warnHooks runs every hook, in order, warning of each that fails: the
// runtime-spec's poststart (v1.0) and poststop hooks, whose failures do not
// stop the others or the lifecycle.
func warnHooks(kind string, hooks []specs.Hook, state specs.State) {
	for i, h := range hooks {
		if err := runHook(h, state, nil); err != nil {
			warn("%s hook %d (%s): %v", kind, i, h.Path, err)
		}
	}
}

// runHook runs one hook; lx, when set, places it (the container's
// namespaces, for startContainer hooks, which run at "/" with the env
// they set and nothing else). The others run in the bundle directory.
func runHook(h specs.Hook, state specs.State, lx *spawn.Linux) error {
	in, err := json.Marshal(state)
	if err != nil {
		return err
	}
	stdin, err := fileWith(in)
	if err != nil {
		return err
	}
	defer stdin.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer outR.Close()
	var timeout <-chan time.Time
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d is not positive", *h.Timeout)
		}
		timeout = time.After(time.Duration(*h.Timeout) * time.Second)
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	env, dir := h.Env, "/"
	if lx == nil {
		// As runc runs them, which hooks are written against: in the
		// bundle directory and, when the hook sets no env, with sbx's own
		// environment (its PATH above all).
		if env == nil {
			env = os.Environ()
		}
		if state.Bundle != "" {
			dir = state.Bundle
		}
	}
	cmd := &spawn.Cmd{Path: h.Path, Args: args, Env: env, Dir: dir, Stdin: stdin, Stdout: outW, Stderr: outW, Linux: lx}
	if lx != nil {
		cmd.Adoptable = true // a joined pid namespace needs it
	}
	p, err := cmd.Start()
	outW.Close()
	if err != nil {
		return err
	}
	defer p.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := outR.Read(buf)
			if out.Len() < hookOutputMax {
				out.Write(buf[:n])
			}
			if err != nil {
				break
			}
		}
		close(copied)
	}()
	done := make(chan *spawn.State, 1)
	go func() { st, _ := p.Wait(); done <- st }()
	select {
	case st := <-done:
		select {
		case <-copied:
		case <-time.After(hookDrainWait):
			// A process the hook left behind holds its output open.
			outR.SetReadDeadline(time.Now())
			<-copied
		}
		if st == nil || st.ExitCode() != 0 {
			return fmt.Errorf("%v: %s", st, strings.TrimSpace(out.String()))
		}
		return nil
	case <-timeout:
		p.Signal(unix.SIGKILL)
		<-done
		return fmt.Errorf("timed out after %d s", *h.Timeout)
	}
}

// hookDrainWait bounds the wait for a hook's output once it has exited.
const hookDrainWait = time.Second

// fileWith is a readable file holding b (a memfd), for a child's stdin
// that must not block the parent however little the child reads.
func fileWith(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("hook-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "hook-state")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// runInside runs hooks in the container's namespaces (startContainer: the
// path resolves in the container).
func (c *Container) runInside(hooks []specs.Hook, state specs.State) error {
	return runEntered("startContainer", hooks, state, c.enter)
}

// runEntered runs hooks, each placed by what enter returns (the
// namespaces of a container's process), in order; the first failure stops
// them.
func runEntered(kind string, hooks []specs.Hook, state specs.State, enter func() (*spawn.Linux, func(), error)) error {
	for i, h := range hooks {
		lx, closeAll, err := enter()
		if err != nil {
			return err
		}
		err = runHook(h, state, lx)
		closeAll()
		if err != nil {
			return fmt.Errorf("%s hook %d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// creationHooks are the hooks create runs while the process is paused
// before its pivot_root (namespaces.Options.Pause), with its mounts made,
// in the runtime-spec's order: prestart and createRuntime in sbx's
// namespaces, then createContainer in the container's, where "/" is still
// the host's tree and the container's root is mounted at root.path (as
// runc runs them), so a hook's path and its libraries resolve on the host.
func (c *Container) creationHooks(h *specs.Hooks) func(pid int) error {
	if h == nil || len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer) == 0 { //nolint:staticcheck // prestart is deprecated, still run
		return nil
	}
	return func(pid int) error {
		state := c.ociState(StatusCreated, pid)
		for _, hk := range [][]specs.Hook{h.Prestart, h.CreateRuntime} { //nolint:staticcheck // prestart is deprecated, still run
			if err := runHooks(hk, state); err != nil {
				return err
			}
		}
		// The paused process is sbx's own unreaped child: its pid cannot
		// be recycled while the hooks run.
		enter := func() (*spawn.Linux, func(), error) {
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
			}
			return c.enterPidfd(os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid)))
		}
		return runEntered("createContainer", h.CreateContainer, state, enter)
	}
}
