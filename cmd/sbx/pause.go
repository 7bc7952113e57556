package main

import (
	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of a container",
		ArgsUsage: "ID",
		Action: onContainer(func(_ *cli.Context, ctr *runtime.Container) error {
			return ctr.Pause()
		}),
	}
}

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "thaw a paused container",
		ArgsUsage: "ID",
		Action: onContainer(func(_ *cli.Context, ctr *runtime.Container) error {
			return ctr.Resume()
		}),
	}
}
