package runtime

import (
	"os"
	"os/signal"
	"time"

	"sbx.dev/sbx/spawn"
)

// ForwardSignals registers for the signals Foreground passes on. Call it
// before the process is created and give the channel to Foreground: a
// signal sent in between would otherwise be lost, or end sbx by its
// default action and leave the process unsupervised.
func ForwardSignals() chan os.Signal {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	return sigs
}

// Foreground supervises a process this sbx started in a container (`sbx
// run` without --detach, `sbx exec` without --detach): it forwards the
// signals ForwardSignals registered on sigs, proxies the terminal whose
// master arrives on console (nil for none) and waits. It returns the exit
// status a shell would give: the exit code, or 128+N for signal N. It
// takes over proc; sigs stays registered (signal.Stop is the caller's:
// sbx exits with it registered, so that a signal sent after the process
// ended cannot end sbx before it exits with the status).
func Foreground(sigs chan os.Signal, proc *spawn.Process, console, stdin, stdout *os.File) (int, error) {
	r := &running{proc: proc, started: time.Now()}
	r.undo = append(r.undo, func() { proc.Close() })
	defer r.cleanup()
	if console != nil {
		t, err := openTerminal(console, stdin, stdout)
		if err != nil {
			proc.Signal(os.Kill)
			proc.Wait()
			return ExitFailed, err
		}
		r.term = t
		r.undo = append(r.undo, t.restore)
	}
	res, err := r.supervise(sigs, 0, 0)
	if err != nil {
		return ExitFailed, err
	}
	return res.Status(), nil
}

// ConsolePair is a connected socket pair for a terminal sbx proxies
// itself: give peer to the process (CreateOptions or ExecOptions) and
// mine to Foreground.
func ConsolePair() (mine, peer *os.File, err error) { return socketPair() }
