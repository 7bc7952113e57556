package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
)

// createFlags are create's, shared with the OCI run verb.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "the bundle `DIR` (config.json and root)"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the container process's pid to `FILE`"},
		&cli.StringFlag{Name: "console-socket", Usage: "send the terminal's master fd to this unix `SOCKET`"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "accepted; sbx always uses pivot_root"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "accepted; sbx does not create session keyrings"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass `N` more fds (3, 4, …) to the process"},
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create an OCI container; its process waits for start",
		ArgsUsage: "ID",
		Flags:     createFlags(),
		Action:    oci(create),
	}
}

func create(c *cli.Context) error {
	ctr, err := createFrom(c, nil)
	if err != nil {
		return err
	}
	return ctr.Close()
}

func createFrom(c *cli.Context, console *os.File) (*runtime.Container, error) {
	id, err := idArg(c, 0)
	if err != nil {
		return nil, err
	}
	return runtime.Create(runtime.CreateOptions{
		Root: c.String("root"), ID: id, Bundle: c.String("bundle"),
		PidFile: c.String("pid-file"), ConsoleSocket: c.String("console-socket"),
		PreserveFDs: c.Int("preserve-fds"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Console: console,
	})
}
