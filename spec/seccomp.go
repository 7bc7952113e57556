package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxSeccompFile bounds a seccomp profile; Docker's default is under 20KiB.
const maxSeccompFile = 4 << 20

// seccompFile reports whether s.Seccomp names a profile file rather than
// "default" or "unconfined".
func (s *Sandbox) seccompFile() bool {
	switch s.Seccomp {
	case "", "default", "unconfined":
		return false
	}
	return true
}

// seccompProfile loads and checks the profile file s.Seccomp names, or
// returns nil when it names none. Its errors read
// `spec.json: seccomp: "x.json": syscalls[0].action: ...`.
func (s *Sandbox) seccompProfile() (*specs.LinuxSeccomp, error) {
	if !s.seccompFile() {
		return nil, nil
	}
	data, err := ReadRegular(s.resolve(s.Seccomp), maxSeccompFile)
	if err != nil {
		return nil, s.failPath("seccomp", s.Seccomp, err)
	}
	prof := &specs.LinuxSeccomp{}
	d := decoder{file: s.Seccomp}
	if err := d.document(data, prof); err != nil {
		var e *Error
		errors.As(err, &e) // the decoder returns only *Error
		return nil, s.fail("seccomp", "%q: %s", s.Seccomp, e.detail())
	}
	if field, problem := seccompProblem(prof); problem != "" {
		return nil, s.fail("seccomp", "%q: %s: %s", s.Seccomp, field, problem)
	}
	return prof, nil
}

// ReadRegular reads the regular file p, refusing devices, directories and
// FIFOs (which could feed or block the read forever: it opens without
// waiting for a FIFO's writer), and files larger than limit bytes (no
// bound when limit is 0).
func ReadRegular(p string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: p, Err: errors.New("not a regular file")}
	}
	if limit <= 0 {
		return io.ReadAll(f)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &os.PathError{Op: "read", Path: p, Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return data, nil
}

var (
	seccompActions = []specs.LinuxSeccompAction{
		specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
	}
	seccompOperators = []specs.LinuxSeccompOperator{
		specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
	}
)

// seccompProblem checks the names the OCI runtime-spec defines for actions
// and operators (config-linux.md, "Seccomp"); it returns the field and the
// problem, or "", "". Architectures and syscall names are left to the
// seccomp package, which knows what libseccomp supports.
func seccompProblem(p *specs.LinuxSeccomp) (field, problem string) {
	if !slices.Contains(seccompActions, p.DefaultAction) {
		return "defaultAction", "unknown action " + strconv.Quote(string(p.DefaultAction))
	}
	for i, sc := range p.Syscalls {
		field := fmt.Sprintf("syscalls[%d]", i)
		if len(sc.Names) == 0 {
			return field + ".names", "must not be empty"
		}
		if !slices.Contains(seccompActions, sc.Action) {
			return field + ".action", "unknown action " + strconv.Quote(string(sc.Action))
		}
		for j, a := range sc.Args {
			if !slices.Contains(seccompOperators, a.Op) {
				return fmt.Sprintf("%s.args[%d].op", field, j), "unknown operator " + strconv.Quote(string(a.Op))
			}
		}
	}
	return "", ""
}
