package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"
)

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print a container's OCI state as JSON",
		ArgsUsage: "ID",
		Action: oci(func(c *cli.Context) error {
			ctr, err := load(c)
			if err != nil {
				return err
			}
			defer ctr.Close()
			b, err := json.MarshalIndent(ctr.State(), "", "  ")
			if err != nil {
				return err
			}
			_, err = c.App.Writer.Write(append(b, '\n'))
			return err
		}),
	}
}
