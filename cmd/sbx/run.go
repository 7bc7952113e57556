package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
	"sbx.dev/sbx/spawn"
	"sbx.dev/sbx/spec"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run the sandbox a spec file describes",
		ArgsUsage: "SPEC.json | ID",
		Description: `Runs the process of a sandbox spec (see README.md) in a sandbox that shares
nothing with the caller unless the spec says so, and exits with its status:
its exit code, 128+N when signal N killed it, 124 when limits.timeout expired,
125 when sbx failed, 126 when the command cannot be executed, 127 when it is
not found.

With an ID instead of an existing .json file, it is the OCI run verb: create
and start the container of --bundle, wait for it and delete it.`,
		Flags: append(createFlags(),
			&cli.StringFlag{Name: "report", Usage: "write how the run ended, as JSON, to `FILE`"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "OCI run: do not wait for the container"},
			&cli.BoolFlag{Name: "keep", Usage: "OCI run: do not delete the container after it exits"},
		),
		Action: func(c *cli.Context) error {
			if arg := c.Args().First(); c.NArg() == 1 && strings.HasSuffix(arg, ".json") && isFile(arg) {
				return runSandbox(c)
			}
			return oci(runContainer)(c)
		},
	}
}

// runSandbox is `sbx run`; every failure of sbx itself is exit 125, and
// written to the report too.
func runSandbox(c *cli.Context) error {
	err := runSpec(c)
	var ee exitError
	if err != nil && !errors.As(err, &ee) && c.String("report") != "" {
		writeReport(c.String("report"), &runtime.Result{ExitCode: runtime.ExitFailed}, runtime.ExitFailed)
	}
	return err
}

func runSpec(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("run: want one spec file, got %d arguments", c.NArg())
	}
	path := c.Args().First()
	// Before anything is made, and for as long as sbx lives: a signal
	// sent while the sandbox starts is forwarded once it runs, and one
	// sent after it ended cannot end sbx between the report and the exit.
	sigs := runtime.ForwardSignals()
	sb, err := spec.Load(path)
	if err != nil {
		return err
	}
	oci, policy, err := sb.OCI(spec.HostIDs{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	if err != nil {
		return err
	}
	s := &runtime.Sandbox{Spec: oci, Policy: policy, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Signals: sigs}
	res, err := s.Run()
	if err != nil {
		var se *runtime.StartError
		if errors.As(err, &se) && se.Code != runtime.ExitFailed {
			fmt.Fprintf(c.App.ErrWriter, "sbx: %v\n", err)
			return writeReport(c.String("report"), &runtime.Result{ExitCode: se.Code}, se.Code)
		}
		return blame(path, sb, err)
	}
	return writeReport(c.String("report"), res, res.Status())
}

// blame names the spec field behind a failure only the sandbox could
// find (a process.cwd or a mount point its root lacks, a range newuidmap
// refuses) the way the spec's own errors do: `spec.json: process.cwd:
// chdir "/nope": no such file or directory`. Other errors pass unchanged.
func blame(file string, sb *spec.Sandbox, err error) error {
	var se *spawn.Error
	if !errors.As(err, &se) || se.Path == "" {
		return err
	}
	field := ""
	switch {
	case se.Op == "chdir" && sb.Process.Cwd != "" && path.Clean(sb.Process.Cwd) == se.Path:
		field = "process.cwd"
	case se.Op == "run" && path.Base(se.Path) == "newuidmap":
		field = "uidMappings"
	case se.Op == "run" && path.Base(se.Path) == "newgidmap":
		field = "gidMappings"
	}
	for i, m := range sb.Mounts {
		dst := path.Clean(m.Destination)
		under := se.Op == "create mount point" && strings.HasPrefix(dst, se.Path+"/")
		if field == "" && (dst == se.Path || under) {
			field = fmt.Sprintf("mounts[%d].destination", i)
		}
	}
	if field == "" {
		return err
	}
	return &spec.Error{File: file, Field: field, Problem: strings.TrimPrefix(se.Error(), "spawn: "), Err: err}
}

// writeReport writes res to file (unless ""), then ends with status.
func writeReport(file string, res *runtime.Result, status int) error {
	if file != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if status == 0 {
		return nil
	}
	return exitError{status}
}

// startFromRun starts the container run has created and returns it
// locked, as it came (nil when it is gone). Its startContainer hooks run
// in the container's namespaces, and an unprivileged sbx can enter a pid
// namespace of the container's only from the container's user namespace,
// which a process enters only as it starts (userns_linux.go): a child
// `sbx start` does it then, with the container unlocked for it.
func startFromRun(c *cli.Context, ctr *runtime.Container) (*runtime.Container, error) {
	if !ctr.RunsStartHooks() {
		return ctr, ctr.Start()
	}
	ns, err := ctr.UserNamespaceFirst()
	if err != nil {
		return ctr, err
	}
	if ns == nil {
		return ctr, ctr.Start()
	}
	ns.Close()
	id, root := ctr.ID(), c.String("root")
	ctr.Close()
	args := []string{os.Args[0], "--root", root}
	if log := c.String("log"); log != "" {
		args = append(args, "--log", log, "--log-format", c.String("log-format"))
	}
	start := &spawn.Cmd{Path: "/proc/self/exe", Args: append(args, "start", id), Env: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	p, err := start.Start()
	if err == nil {
		var st *spawn.State
		st, err = p.Wait()
		p.Close()
		if err == nil && st.ExitCode() != 0 {
			err = exitError{st.ExitCode()}
		} else if err == nil && st.Signal() != 0 {
			err = fmt.Errorf("sbx start %s: %v", id, st.Signal())
		}
	}
	ctr, lerr := runtime.Load(root, id)
	if lerr != nil {
		ctr = nil
		if err == nil {
			err = lerr
		}
	}
	return ctr, err
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// runContainer is the OCI run verb: create, start, and unless --detach
// wait for the process and delete the container, exiting with its status.
func runContainer(c *cli.Context) error {
	var mine, peer *os.File
	if c.String("console-socket") == "" && !c.Bool("detach") {
		var err error
		if mine, peer, err = runtime.ConsolePair(); err != nil {
			return err
		}
		defer mine.Close()
		defer peer.Close()
	}
	var sigs chan os.Signal
	if !c.Bool("detach") {
		sigs = runtime.ForwardSignals() // never stopped: see Foreground
	}
	ctr, err := createFrom(c, peer)
	if err != nil {
		return err
	}
	if peer != nil {
		peer.Close()
	}
	proc, id := ctr.TakeProcess(), ctr.ID()
	console := mine
	if !ctr.Terminal() {
		console = nil
	}
	if ctr, err = startFromRun(c, ctr); err != nil {
		if ctr != nil {
			ctr.Delete(true)
			ctr.Close()
		}
		if proc != nil {
			proc.Close()
		}
		return err
	}
	if c.Bool("detach") {
		if proc != nil {
			proc.Close()
		}
		return ctr.Close()
	}
	ctr.Close() // unlocked while it runs: kill and state must work
	status, err := runtime.Foreground(sigs, proc, console, os.Stdin, os.Stdout)
	if !c.Bool("keep") {
		if ctr, derr := runtime.Load(c.String("root"), id); derr == nil {
			derr = ctr.Delete(true)
			ctr.Close()
			if err == nil {
				err = derr
			}
		}
	}
	if err != nil {
		return err
	}
	if status != 0 {
		return exitError{status}
	}
	return nil
}
