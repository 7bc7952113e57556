package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
	"sbx.dev/sbx/spec"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a container's resource limits",
		ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "OCI linux.resources JSON from `FILE` (- for stdin)"},
		},
		Action: onContainer(func(c *cli.Context, ctr *runtime.Container) error {
			path := c.String("resources")
			if path == "" {
				return fmt.Errorf("update: --resources is required (only it is supported)")
			}
			var r io.Reader = c.App.Reader
			if path != "-" {
				b, err := spec.ReadRegular(path, 0)
				if err != nil {
					return fmt.Errorf("--resources: %w", err)
				}
				r = bytes.NewReader(b)
			}
			// Strictly: a field sbx does not know, or a second value,
			// would otherwise be dropped without a word.
			var res specs.LinuxResources
			dec := json.NewDecoder(r)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&res); err != nil {
				return fmt.Errorf("--resources %s: %w", path, err)
			}
			if _, err := dec.Token(); err != io.EOF {
				return fmt.Errorf("--resources %s: more than one JSON value", path)
			}
			return ctr.Update(&res)
		}),
	}
}
