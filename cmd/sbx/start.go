package main

import "github.com/urfave/cli/v2"

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a created container's process",
		ArgsUsage: "ID",
		Action: oci(func(c *cli.Context) error {
			ctr, err := load(c)
			if err != nil {
				return err
			}
			defer ctr.Close()
			return ctr.Start()
		}),
	}
}
