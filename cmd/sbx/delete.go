package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a stopped (with --force, any) container",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container's processes first"},
		},
		Action: oci(func(c *cli.Context) error {
			id, err := idArg(c, 0)
			if err != nil {
				return err
			}
			ctr, err := runtime.Load(c.String("root"), id)
			if errors.Is(err, runtime.ErrNotExist) && c.Bool("force") {
				return runtime.RemoveLeftover(c.String("root"), id)
			}
			if err != nil {
				return err
			}
			defer ctr.Close()
			return ctr.Delete(c.Bool("force"))
		}),
	}
}
