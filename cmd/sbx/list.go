package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

// listEntry is one container in `list --format json`, as runc prints it.
type listEntry struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Status  string    `json:"status"`
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "ids only"},
		},
		Action: oci(func(c *cli.Context) error {
			ids, err := runtime.List(c.String("root"))
			if err != nil {
				return err
			}
			entries := []listEntry{}
			for _, id := range ids {
				ctr, err := runtime.Load(c.String("root"), id)
				if err != nil {
					continue // being created or deleted
				}
				st := ctr.State()
				entries = append(entries, listEntry{ID: id, Pid: st.Pid, Status: string(st.Status),
					Bundle: st.Bundle, Created: ctr.Created(), Owner: fmt.Sprint(ctr.Owner())})
				ctr.Close()
			}
			w := c.App.Writer
			switch {
			case c.Bool("quiet"):
				for _, e := range entries {
					fmt.Fprintln(w, e.ID)
				}
			case c.String("format") == "json":
				return json.NewEncoder(w).Encode(entries)
			default:
				tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
				fmt.Fprintln(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, e := range entries {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
				}
				return tw.Flush()
			}
			return nil
		}),
	}
}
