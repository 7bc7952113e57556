package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list a container's processes (host pids)",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
		},
		Action: onContainer(func(c *cli.Context, ctr *runtime.Container) error {
			pids, err := ctr.Pids()
			if err != nil {
				return err
			}
			switch c.String("format") {
			case "json":
				return json.NewEncoder(c.App.Writer).Encode(pids)
			case "table":
				fmt.Fprintln(c.App.Writer, "PID")
				for _, p := range pids {
					fmt.Fprintln(c.App.Writer, p)
				}
				return nil
			}
			return fmt.Errorf("--format: %q is not table or json", c.String("format"))
		}),
	}
}
