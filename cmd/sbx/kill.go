package main

import (
	"syscall"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default SIGTERM) to a container's process",
		ArgsUsage: "ID [SIGNAL]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process of the container"},
		},
		Action: oci(func(c *cli.Context) error {
			id, err := idArg(c, 1)
			if err != nil {
				return err
			}
			sig := syscall.SIGTERM
			if c.NArg() == 2 {
				if sig, err = parseSignal(c.Args().Get(1)); err != nil {
					return err
				}
			}
			ctr, err := runtime.Load(c.String("root"), id)
			if err != nil {
				return err
			}
			defer ctr.Close()
			return ctr.Signal(sig, c.Bool("all"))
		}),
	}
}
