package main

import (
	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a created container's process",
		ArgsUsage: "ID",
		Action: onContainer(func(c *cli.Context, ctr *runtime.Container) error {
			// startContainer hooks run in the container: as for exec, an
			// unprivileged start enters its user namespace first (a
			// re-execution, which seals sbx's binary as well), and
			// the processes it starts there must not reach a writable sbx.
			if ctr.RunsStartHooks() {
				if err := enterUserNamespaceFirst(ctr, c.String("root")); err != nil {
					return err
				}
				if err := reexecSealed(); err != nil {
					return err
				}
			}
			return ctr.Start()
		}),
	}
}
