package main

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"
)

// event is one line of `sbx events`, as runc prints them.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print a container's resource usage as JSON",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stats", Usage: "print the usage once and exit"},
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between reports"},
		},
		Action: oci(func(c *cli.Context) error {
			enc := json.NewEncoder(c.App.Writer)
			for {
				ctr, err := load(c)
				if err != nil {
					return err
				}
				st, err := ctr.Stats()
				id := ctr.ID()
				ctr.Close()
				if err != nil {
					return err
				}
				if err := enc.Encode(event{Type: "stats", ID: id, Data: st}); err != nil {
					return err
				}
				if c.Bool("stats") {
					return nil
				}
				time.Sleep(c.Duration("interval"))
			}
		}),
	}
}
