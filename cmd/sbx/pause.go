package main

import "github.com/urfave/cli/v2"

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of a container",
		ArgsUsage: "ID",
		Action: oci(func(c *cli.Context) error {
			ctr, err := load(c)
			if err != nil {
				return err
			}
			defer ctr.Close()
			return ctr.Pause()
		}),
	}
}

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "thaw a paused container",
		ArgsUsage: "ID",
		Action: oci(func(c *cli.Context) error {
			ctr, err := load(c)
			if err != nil {
				return err
			}
			defer ctr.Close()
			return ctr.Resume()
		}),
	}
}
