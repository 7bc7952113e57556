package spawn

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"sbx.dev/sbx/seccomp"
)

// TestSeccompListener: a filter with SCMP_ACT_NOTIFY is loaded before the
// gate, Start hands its listener fd to the caller, and the caller decides
// the notified call: here mkdir fails with ENOSPC, which nothing else
// would give it.
func TestSeccompListener(t *testing.T) {
	f, err := seccomp.Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		ListenerPath:  "/unused",
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	})
	if err != nil {
		t.Fatal(err)
	}
	prog := make([]SockFilter, len(f.Program))
	for i, in := range f.Program {
		prog[i] = SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	lx := &Linux{NoNewPrivs: true, Seccomp: prog, SeccompFlags: f.Flags}
	dir := filepath.Join(t.TempDir(), "made")

	if _, err := (&Cmd{Path: "/bin/mkdir", Args: []string{"mkdir", dir}, Linux: lx}).Start(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Start of a listener filter without a Gate = %v, want ErrNotSupported (the listener fd would be lost at exec)", err)
	}

	gateR, gateW, _ := os.Pipe()
	defer gateR.Close()
	errR, errW, _ := os.Pipe()
	defer errR.Close()
	p, err := (&Cmd{Path: "/bin/mkdir", Args: []string{"mkdir", dir}, Gate: gateR, Stderr: errW, Linux: lx}).Start()
	errW.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l := p.SeccompListener()
	if l == nil {
		t.Fatal("SeccompListener() = nil")
	}
	defer l.Close()
	if p.SeccompListener() != nil {
		t.Error("SeccompListener() gave the fd twice")
	}
	gateW.Write([]byte{1})
	gateW.Close()
	req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(l.Fd()))
	if err != nil {
		t.Fatalf("NotifReceive: %v", err)
	}
	if name, _ := req.Data.Syscall.GetName(); name != "mkdir" && name != "mkdirat" {
		t.Errorf("notified of %q, want mkdir", name)
	}
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(l.Fd()), &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(syscall.ENOSPC)}); err != nil {
		t.Fatalf("NotifRespond: %v", err)
	}
	st, err := p.Wait()
	out, _ := io.ReadAll(errR)
	if err != nil || st.ExitCode() != 1 || !strings.Contains(string(out), "No space left on device") {
		t.Errorf("mkdir: %v, %v, stderr %q; want exit 1 and ENOSPC from the listener", st, err, out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s was made; the listener refused it", dir)
	}
}
