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
		Action: onContainer(func(_ *cli.Context, ctr *runtime.Container) error {
			if ctr.RunsStartHooks() {
				if err := reexecSealed(); err != nil {
					return err
				}
			}
			return ctr.Start()
		}),
	}
}
