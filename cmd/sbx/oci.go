package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/runtime"
)

// The OCI runtime's global flags, as runc has them.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Value: runtime.DefaultRoot(), Usage: "state directory of the OCI runtime"},
		&cli.StringFlag{Name: "log", Usage: "write the OCI runtime's log to `FILE` (default stderr)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use systemd's cgroup driver (not supported)"},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignored: sbx finds out itself"},
	}
}

// ociError is the failure of an OCI verb: runc exits 1 on those, and
// callers (go-runc, conmon) read the message from the log.
type ociError struct{ err error }

func (e ociError) Error() string { return e.err.Error() }
func (e ociError) Unwrap() error { return e.err }

// setUpLog points slog at --log in --log-format, runc-style: one line per
// message, {"level","msg","time"} in JSON.
func setUpLog(c *cli.Context) error {
	if c.Bool("systemd-cgroup") {
		return errors.New("--systemd-cgroup: the systemd cgroup driver is not supported; configure the caller for cgroupfs")
	}
	var w io.Writer = c.App.ErrWriter
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		w = f
		logFile = path
	}
	level := slog.LevelWarn
	if c.Bool("debug") {
		level = slog.LevelDebug
	}
	o := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.LevelKey:
			// runc's (logrus's) names: "warning", not slog's "warn".
			name := strings.ToLower(a.Value.String())
			if name == "warn" {
				name = "warning"
			}
			return slog.String("level", name)
		case slog.TimeKey:
			return slog.String("time", a.Value.Time().Format(time.RFC3339Nano))
		}
		return a
	}}
	switch c.String("log-format") {
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, o)))
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, o)))
	default:
		return fmt.Errorf("--log-format: %q is not text or json", c.String("log-format"))
	}
	return nil
}

// logFile is --log, "" for stderr.
var logFile string

// logError writes a failed verb's error to the log, where go-runc and
// podman read it; stderr gets it too unless the log is stderr.
func logError(err error) bool {
	slog.Default().Log(context.Background(), slog.LevelError, err.Error())
	return logFile != ""
}

// oci wraps an OCI verb's action: its failure is logged and exit 1.
func oci(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := action(c); err != nil {
			var ee exitError
			if errors.As(err, &ee) {
				return err
			}
			return ociError{err}
		}
		return nil
	}
}

// idArg is the verb's container id argument.
func idArg(c *cli.Context, extra int) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: a container id is required", c.Command.Name)
	}
	if c.NArg() > 1+extra {
		return "", fmt.Errorf("%s: unexpected arguments %q", c.Command.Name, c.Args().Slice()[1:])
	}
	return c.Args().First(), nil
}

// load opens the verb's container, locked.
func load(c *cli.Context) (*runtime.Container, error) {
	id, err := idArg(c, 0)
	if err != nil {
		return nil, err
	}
	return runtime.Load(c.String("root"), id)
}

// onContainer is an OCI verb's action on its one container, which it
// holds locked while fn runs.
func onContainer(fn func(*cli.Context, *runtime.Container) error) cli.ActionFunc {
	return oci(func(c *cli.Context) error {
		ctr, err := load(c)
		if err != nil {
			return err
		}
		defer ctr.Close()
		return fn(c, ctr)
	})
}

// parseSignal takes 15, TERM or SIGTERM.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
