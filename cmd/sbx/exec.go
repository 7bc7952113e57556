package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
	"sbx.dev/sbx/spec"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a new process in a running container",
		ArgsUsage: "ID [COMMAND [ARG...]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "the OCI process JSON in `FILE`"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to `FILE`"},
			&cli.StringFlag{Name: "console-socket", Usage: "send the terminal's master fd to this unix `SOCKET`"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the process a terminal"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add `NAME=VALUE` to the environment"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "`UID[:GID]` to run as"},
			&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "supplementary group ids"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding, effective and permitted sets (and inheritable and ambient, when the process has inheritable ones)"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
			&cli.StringFlag{Name: "apparmor", Usage: "the AppArmor `PROFILE` to run under instead of the container's"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass `N` more fds (3, 4, …) to the process"},
		},
		Action: oci(execAction),
	}
}

func execAction(c *cli.Context) error {
	if c.NArg() < 1 {
		return fmt.Errorf("exec: a container id is required")
	}
	// Its child joins the container's pid namespace while it still shares
	// sbx's memory: see main.
	if err := setNotDumpable(); err != nil {
		return err
	}
	ctr, err := runtime.Load(c.String("root"), c.Args().First())
	if err != nil {
		return err
	}
	if err := enterUserNamespaceFirst(ctr, c.String("root")); err != nil {
		ctr.Close()
		return err
	}
	p, err := execProcess(c, ctr)
	if err != nil {
		ctr.Close()
		return err
	}
	var sigs chan os.Signal
	if !c.Bool("detach") {
		sigs = runtime.ForwardSignals() // never stopped: see Foreground
	}
	o := runtime.ExecOptions{Process: p, PidFile: c.String("pid-file"), ConsoleSocket: c.String("console-socket"),
		PreserveFDs: c.Int("preserve-fds"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	var mine *os.File
	if p.Terminal && o.ConsoleSocket == "" && !c.Bool("detach") {
		var peer *os.File
		if mine, peer, err = runtime.ConsolePair(); err != nil {
			ctr.Close()
			return err
		}
		defer peer.Close()
		o.Console = peer
	}
	proc, err := ctr.Exec(o)
	ctr.Close() // other verbs (kill, delete) must not wait for this process
	if err != nil {
		return err
	}
	if c.Bool("detach") {
		return proc.Close()
	}
	if o.Console != nil {
		o.Console.Close()
	}
	status, err := runtime.Foreground(sigs, proc, mine, os.Stdin, os.Stdout)
	if mine != nil {
		mine.Close()
	}
	if err != nil {
		return err
	}
	if status != 0 {
		return exitError{status}
	}
	return nil
}

// execProcess is --process, or the container's own process with the
// command line and flags applied, as runc does.
func execProcess(c *cli.Context, ctr *runtime.Container) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		b, err := spec.ReadRegular(path, 0)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, fmt.Errorf("exec: a command (or --process) is required")
	}
	p, err := ctr.ConfigProcess()
	if err != nil {
		return nil, err
	}
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	p.Env = append(p.Env, c.StringSlice("env")...)
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		uid, gid, hasGID := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: a numeric UID[:GID] is required", u)
		}
		p.User.UID = uint32(n)
		if hasGID {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: a numeric UID[:GID] is required", u)
			}
			p.User.GID = uint32(g)
		}
	}
	for _, g := range c.StringSlice("additional-gids") {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		pc := p.Capabilities
		pc.Bounding = append(pc.Bounding, caps...)
		pc.Effective = append(pc.Effective, caps...)
		pc.Permitted = append(pc.Permitted, caps...)
		// An ambient capability must be inheritable too, which --cap
		// does not add: as runc, only a process that has inheritable
		// capabilities gets them ambient (else a warning that they
		// were not raised would follow every such exec).
		if pc.Inheritable != nil {
			pc.Inheritable = append(pc.Inheritable, caps...)
			pc.Ambient = append(pc.Ambient, caps...)
		}
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if profile := c.String("apparmor"); profile != "" {
		p.ApparmorProfile = profile
	}
	return p, nil
}
