// Command sbx runs programs in sandboxes that share nothing with their
// caller unless a spec says so. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "0.1.0-dev"

func main() {
	// Not dumpable: the children sbx starts share its memory until they
	// exec, and one that joins a container's pid namespace must not be
	// readable or traceable there in the meantime (CVE-2016-9962). Not for
	// an unprivileged create or run: a non-dumpable process's /proc files
	// belong to root, and sbx could not write its child's uid_map; `exec`
	// becomes non-dumpable itself (execAction).
	if os.Geteuid() == 0 {
		if err := setNotDumpable(); err != nil {
			fmt.Fprintln(os.Stderr, "sbx:", err)
			os.Exit(125)
		}
	}
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// revision is the VCS commit sbx was built from, "unknown" when the build
// did not record one (go build outside a checkout, or -buildvcs=false).
func revision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// exitError carries an exit status out of a command without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run is sbx with its arguments and standard streams; it returns the exit
// status: the child's, or 125 when sbx itself failed.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:      "sbx",
		Usage:     "run programs in sandboxes that share nothing unless asked",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     globalFlags(),
		Before:    setUpLog,
		Commands: []*cli.Command{
			runCommand(), createCommand(), startCommand(), stateCommand(), killCommand(),
			deleteCommand(), execCommand(), psCommand(), listCommand(), pauseCommand(),
			resumeCommand(), updateCommand(), eventsCommand(), featuresCommand(), specCommand(),
		},
		// sbx prints its own errors, one line each.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	// runc's three lines, which go-runc's parseVersion reads.
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "sbx version %s\ncommit: %s\nspec: %s\n", c.App.Version, revision(), specs.Version)
	}
	err := app.Run(args)
	var ee exitError
	var oe ociError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &oe):
		if logError(oe.err) {
			fmt.Fprintf(stderr, "sbx: %v\n", oe.err)
		}
		return 1
	default:
		fmt.Fprintf(stderr, "sbx: %v\n", err)
		return 125
	}
}
