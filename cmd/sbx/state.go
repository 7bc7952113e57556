package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print a container's OCI state as JSON",
		ArgsUsage: "ID",
		Action: onContainer(func(c *cli.Context, ctr *runtime.Container) error {
			b, err := json.MarshalIndent(ctr.State(), "", "  ")
			if err != nil {
				return err
			}
			_, err = c.App.Writer.Write(append(b, '\n'))
			return err
		}),
	}
}
