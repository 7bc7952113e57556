package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/spawn"
)

// demoCommand starts a shell in fresh user, pid, mount, network, ipc, uts,
// cgroup and time namespaces through spawn and reports how it ended: the
// spawn package at work until `sbx run spec.json` exists.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "start a shell in new namespaces through a pidfd and report on it",
		Action: func(c *cli.Context) error {
			out, ok := c.App.Writer.(*os.File)
			if !ok {
				out = os.Stdout
			}
			return demo(out)
		},
	}
}

const demoScript = `echo "hello from pid $$ (uid $(id -u)) on host $(hostname)"; ` +
	`echo "uid_map: $(cat /proc/self/uid_map)"; ip -o link 2>/dev/null | cut -d: -f2 | tr -d '\n'; echo; exit 3`

func demo(out *os.File) error {
	cmd := &spawn.Cmd{
		Path:   "/bin/sh",
		Args:   []string{"sh", "-c", demoScript},
		Env:    []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"},
		Stdout: out,
		Stderr: os.Stderr,
		Linux: &spawn.Linux{
			Namespaces:    spawn.AllNamespaces,
			UIDMappings:   []spawn.IDMap{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}},
			GIDMappings:   []spawn.IDMap{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}},
			DenySetgroups: true,
			Hostname:      "sbx-demo",
			NoNewPrivs:    true,
		},
	}
	p, err := cmd.Start()
	if err != nil {
		return err
	}
	defer p.Close()
	id, _ := json.Marshal(p.Identity())
	fmt.Fprintf(out, "started pid %d, identity %s\n", p.Pid(), id)
	st, err := p.Wait()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "child %s, user %v, system %v\n", st, st.UserTime(), st.SystemTime())
	return nil
}
