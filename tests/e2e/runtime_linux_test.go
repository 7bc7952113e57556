package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fieldSep separates the fields of a line of the call log; the runtime's
// arguments never contain it.
const fieldSep = "\x1f"

// runtimeLog is the runtime under test as one daemon's clients see it: a
// shell script with the runtime's base name (podman matches it against
// runtime_supports_json) that appends its caller's name and its arguments
// to a log, then execs the runtime.
type runtimeLog struct {
	path    string // the script
	name    string // its base name
	logPath string
}

// wrapRuntime writes the script into a new directory of t's.
func wrapRuntime(t *testing.T) *runtimeLog {
	t.Helper()
	dir := t.TempDir()
	rt := runtimePath(t)
	r := &runtimeLog{name: filepath.Base(rt), logPath: filepath.Join(dir, "calls.log")}
	r.path = filepath.Join(dir, "bin", r.name)
	script := fmt.Sprintf(`#!/bin/sh
# Records the call, then runs the runtime under test.
read -r caller </proc/$PPID/comm || caller=unknown
line=$caller
for a; do line="$line%s$a"; done
printf '%%s\n' "$line" >>%s
exec %s "$@"
`, fieldSep, shellQuote([]string{r.logPath}), shellQuote([]string{rt}))
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.save(t) })
	return r
}

// call is one recorded call of the runtime.
type call struct {
	caller string   // the calling process's name
	args   []string // argv
}

func (c call) String() string {
	return c.caller + ": " + shellQuote(c.args)
}

// calls reads the log.
func (r *runtimeLog) calls() []call {
	b, _ := os.ReadFile(r.logPath)
	var cs []call
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, fieldSep)
		cs = append(cs, call{caller: f[0], args: append([]string{r.name}, f[1:]...)})
	}
	return cs
}

// watch registers a cleanup on t that, when t has failed, logs the calls
// made since watch was called.
func (r *runtimeLog) watch(t *testing.T) {
	t.Helper()
	from := len(r.calls())
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		cs := r.calls()[from:]
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&b, "\n\t%v", c)
		}
		t.Logf("the runtime was called %d times during %s:%s", len(cs), t.Name(), b.String())
	})
}

var argvLogMu sync.Mutex

// save appends the calls, each prefixed with the test's name, to
// $SBX_E2E_ARGV_LOG when it is set.
func (r *runtimeLog) save(t *testing.T) {
	if env.argvLog == "" {
		return
	}
	argvLogMu.Lock()
	defer argvLogMu.Unlock()
	f, err := os.OpenFile(env.argvLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Errorf("SBX_E2E_ARGV_LOG: %v", err)
		return
	}
	defer f.Close()
	for _, c := range r.calls() {
		fmt.Fprintf(f, "%s\t%v\n", t.Name(), c)
	}
}
