package spawn

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// shell runs /bin/sh -c script with lx and returns its output.
func shell(t *testing.T, script string, lx *Linux) (string, *State) {
	t.Helper()
	return output(t, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Linux: lx})
}

var missing = []syscall.Errno{unix.ENOENT}

func TestProgramFDsAndSkip(t *testing.T) {
	dir := t.TempDir()
	p := &Program{}
	p.Step("open", dir)
	d := p.Open(unix.SYS_OPENAT, Int(unix.AT_FDCWD), Str(dir), Int(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
	p.Call(unix.SYS_MKDIRAT, d.Arg(), Str("made"), Int(0o700))
	// A missing object skips its block; a present one runs it.
	gone, end := p.OpenIf(missing, unix.SYS_OPENAT, d.Arg(), Str("nope"), Int(unix.O_PATH|unix.O_CLOEXEC))
	p.Call(unix.SYS_MKDIRAT, d.Arg(), Str("skipped"), Int(0o700))
	p.Close(gone)
	end()
	present, end := p.OpenIf(missing, unix.SYS_OPENAT, d.Arg(), Str("made"), Int(unix.O_PATH|unix.O_CLOEXEC))
	p.Call(unix.SYS_MKDIRAT, present.Arg(), Str("inner"), Int(0o700))
	p.Close(present)
	end()
	// An if with an else runs exactly one of its two blocks.
	for _, name := range []string{"made", "nope"} {
		f, orElse, end := p.OpenIfElse(missing, unix.SYS_OPENAT, d.Arg(), Str(name), Int(unix.O_PATH|unix.O_CLOEXEC))
		p.Call(unix.SYS_MKDIRAT, d.Arg(), Str(name+"-then"), Int(0o700))
		p.Close(f)
		orElse()
		p.Call(unix.SYS_MKDIRAT, d.Arg(), Str(name+"-else"), Int(0o700))
		end()
	}
	p.Try(unix.SYS_MKDIRAT, d.Arg(), Str("made"), Int(0o700)) // EEXIST, ignored
	p.Close(d)
	if st := run(t, &Cmd{Path: "/bin/true", Linux: &Linux{Setup: p}}); st.ExitCode() != 0 {
		t.Fatalf("child: %v", st)
	}
	for path, want := range map[string]bool{
		"made": true, "made/inner": true, "skipped": false,
		"made-then": true, "made-else": false, "nope-then": false, "nope-else": true,
	} {
		if _, err := os.Stat(dir + "/" + path); (err == nil) != want {
			t.Errorf("after the program, %s exists = %v, want %v", path, err == nil, want)
		}
	}
}

// TestProgramIfReportsOtherErrors: OpenIf skips its block only for the
// errnos it is given; another failure (here ENOTDIR, a path under a file)
// is the child's error, not a reason to skip.
func TestProgramIfReportsOtherErrors(t *testing.T) {
	p := &Program{}
	p.Step("open if there", "/etc/passwd/x")
	f, end := p.OpenIf(missing, unix.SYS_OPENAT, Int(unix.AT_FDCWD), Str("/etc/passwd/x"), Int(unix.O_PATH|unix.O_CLOEXEC))
	p.Close(f)
	end()
	_, err := (&Cmd{Path: "/bin/true", Linux: &Linux{Setup: p}}).Start()
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("Start() = %v, want the open's ENOTDIR", err)
	}
}

func TestProgramFailureNamesStep(t *testing.T) {
	p := &Program{}
	p.Step("mount tmpfs", "/nowhere")
	p.Open(unix.SYS_OPENAT, Int(unix.AT_FDCWD), Str("/nonexistent/x"), Int(unix.O_PATH|unix.O_CLOEXEC))
	_, err := (&Cmd{Path: "/bin/true", Linux: &Linux{Setup: p}}).Start()
	if want := `spawn: mount tmpfs "/nowhere": no such file or directory`; err == nil || err.Error() != want {
		t.Fatalf("Start() = %v, want %s", err, want)
	}
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("errors.Is(%v, ENOENT) = false", err)
	}
}

func TestProgramTooManyFDs(t *testing.T) {
	p := &Program{}
	for range maxProgFDs + 1 {
		p.Open(unix.SYS_OPENAT, Int(unix.AT_FDCWD), Str("/"), Int(unix.O_PATH|unix.O_CLOEXEC))
	}
	if _, err := (&Cmd{Path: "/bin/true", Linux: &Linux{Setup: p}}).Start(); err == nil || !strings.Contains(err.Error(), "descriptors held at once") {
		t.Fatalf("Start() = %v, want the program's misuse", err)
	}
}

// TestProgramStoreAndPointers sends an fd over a socket with a msghdr
// whose pointers and SCM_RIGHTS payload are filled in by the child.
func TestProgramStoreAndPointers(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, peer := os.NewFile(uintptr(fds[0]), "mine"), os.NewFile(uintptr(fds[1]), "peer")
	defer mine.Close()
	p := &Program{}
	p.Step("send", "")
	f := p.Open(unix.SYS_OPENAT, Int(unix.AT_FDCWD), Str("/proc/version"), Int(unix.O_RDONLY|unix.O_CLOEXEC))
	le := binary.LittleEndian
	data := Bytes([]byte("x"))
	iovb := make([]byte, 16)
	le.PutUint64(iovb[8:], 1)
	iov := Bytes(iovb)
	cm := make([]byte, unix.CmsgSpace(4))
	le.PutUint64(cm, uint64(unix.CmsgLen(4)))
	le.PutUint32(cm[8:], unix.SOL_SOCKET)
	le.PutUint32(cm[12:], unix.SCM_RIGHTS)
	cmsg := Bytes(cm)
	p.StoreFD(f, cmsg, unix.CmsgLen(0))
	hdr := make([]byte, unix.SizeofMsghdr)
	le.PutUint64(hdr[24:], 1)
	le.PutUint64(hdr[40:], uint64(len(cm)))
	msg := Bytes(hdr)
	if !iov.SetPointer(0, data) || !msg.SetPointer(16, iov) || !msg.SetPointer(32, cmsg) {
		t.Fatal("SetPointer refused Bytes arguments")
	}
	p.CallNonneg(unix.SYS_SENDMSG, Int(3), msg, Int(0))
	p.Close(f)
	st := run(t, &Cmd{Path: "/bin/true", ExtraFiles: []*os.File{peer}, Linux: &Linux{Setup: p}})
	peer.Close()
	if st.ExitCode() != 0 {
		t.Fatalf("child: %v", st)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n != 1 || buf[0] != 'x' {
		t.Fatalf("Recvmsg() = %d %q, %v; want the byte x", n, buf[:n], err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages = %v, %v; want one", msgs, err)
	}
	got, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != 1 {
		t.Fatalf("fds received = %v, %v; want one", got, err)
	}
	defer unix.Close(got[0])
	link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(got[0]))
	if link != "/proc/version" {
		t.Errorf("received fd is %q, want /proc/version", link)
	}
}

func TestRlimits(t *testing.T) {
	out, st := shell(t, "ulimit -n; ulimit -Hn", &Linux{Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 100, Max: 200}}})
	if st.ExitCode() != 0 || out != "100\n200\n" {
		t.Errorf("ulimit -n, -Hn in the child = %q (%v), want 100 and 200", out, st)
	}
}

func TestCapabilities(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: capabilities are set in a child of a root parent without a user namespace")
	}
	const netRaw, chown = 1 << unix.CAP_NET_RAW, 1 << unix.CAP_CHOWN
	tests := []struct {
		name string
		cred *Credential
		nnp  bool
		caps Capabilities
		want map[string]string
	}{
		{"root with no_new_privs keeps the permitted set", nil, true, Capabilities{Bounding: netRaw | chown, Effective: netRaw, Permitted: netRaw},
			map[string]string{"CapBnd": "0000000000002001", "CapPrm": "0000000000002000", "CapEff": "0000000000002000", "CapAmb": "0000000000000000"}},
		// execve(2) gives uid 0 the whole bounding set back
		// (capabilities(7)); only no_new_privs stops that.
		{"root without no_new_privs regains the bounding set", nil, false, Capabilities{Bounding: netRaw | chown, Effective: netRaw, Permitted: netRaw},
			map[string]string{"CapBnd": "0000000000002001", "CapPrm": "0000000000002001", "CapEff": "0000000000002001"}},
		{"none", nil, true, Capabilities{},
			map[string]string{"CapBnd": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000"}},
		{"non-root through ambient", &Credential{UID: 65534, GID: 65534}, true, Capabilities{Bounding: netRaw, Effective: netRaw, Permitted: netRaw, Inheritable: netRaw, Ambient: netRaw},
			map[string]string{"CapBnd": "0000000000002000", "CapPrm": "0000000000002000", "CapEff": "0000000000002000", "CapAmb": "0000000000002000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caps := tt.caps
			out, st := shell(t, "grep ^Cap /proc/self/status", &Linux{Capabilities: &caps, Credential: tt.cred, NoNewPrivs: tt.nnp})
			if st.ExitCode() != 0 {
				t.Fatalf("child: %v: %s", st, out)
			}
			for field, want := range tt.want {
				if !strings.Contains(out, field+":\t"+want+"\n") {
					t.Errorf("%s in the child's status = %q, want %s", field, out, want)
				}
			}
		})
	}
}

func TestSeccompFilter(t *testing.T) {
	// Return EPERM for mkdirat (the shell's mkdir on x86_64 and arm64 uses
	// it or mkdir), allow everything else.
	const retErrno, retAllow = 0x00050000, 0x7fff0000
	ld := uint16(unix.BPF_LD | unix.BPF_W | unix.BPF_ABS)
	jeq := uint16(unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K)
	ret := uint16(unix.BPF_RET | unix.BPF_K)
	filter := []SockFilter{
		{Code: ld, K: 0}, // seccomp_data.nr
		{Code: jeq, K: unix.SYS_MKDIRAT, Jt: 2},
		{Code: jeq, K: mkdirNr, Jt: 1},
		{Code: ret, K: retAllow},
		{Code: ret, K: retErrno | uint32(unix.EPERM)},
	}
	dir := t.TempDir()
	out, st := shell(t, "mkdir "+dir+"/x 2>&1; grep ^Seccomp: /proc/self/status", &Linux{NoNewPrivs: true, Seccomp: filter})
	if !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("under the filter: %q (%v), want mkdir refused with EPERM and Seccomp 2", out, st)
	}
	if _, err := os.Stat(dir + "/x"); err == nil {
		t.Error("mkdir succeeded under a filter denying it")
	}
}

// TestNamespaceRootFirst maps a range that leaves out the caller's own
// ids: the child must become the namespace's root before anything else.
func TestNamespaceRootFirst(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: maps a uid range other than the caller's")
	}
	m := []IDMap{{ContainerID: 0, HostID: 100000, Size: 10}}
	out, st := shell(t, "id -u; id -g", &Linux{Namespaces: NewUser, UIDMappings: m, GIDMappings: m})
	if st.ExitCode() != 0 || out != "0\n0\n" {
		t.Errorf("ids in the child = %q (%v), want 0 and 0 (not the overflow id of an unmapped caller)", out, st)
	}
}

func TestProgramPause(t *testing.T) {
	dir := t.TempDir()
	exists := func(name string) bool { _, err := os.Stat(dir + "/" + name); return err == nil }
	build := func() *Program {
		p := &Program{}
		p.Step("open", dir)
		d := p.Open(unix.SYS_OPENAT, Int(unix.AT_FDCWD), Str(dir), Int(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
		p.Call(unix.SYS_MKDIRAT, d.Arg(), Str("before"), Int(0o700))
		p.Pause()
		// A Pause is two ops: the skips of the blocks around it count
		// them, the one skipped and the one taken.
		gone, end := p.OpenIf(missing, unix.SYS_OPENAT, d.Arg(), Str("nope"), Int(unix.O_PATH|unix.O_CLOEXEC))
		p.Pause()
		p.Close(gone)
		end()
		p.Call(unix.SYS_MKDIRAT, d.Arg(), Str("after"), Int(0o700))
		present, end := p.OpenIf(missing, unix.SYS_OPENAT, d.Arg(), Str("after"), Int(unix.O_PATH|unix.O_CLOEXEC))
		p.Pause()
		p.Close(present)
		end()
		p.Call(unix.SYS_MKDIRAT, d.Arg(), Str("last"), Int(0o700))
		p.Close(d)
		return p
	}
	var seen []string
	paused := func(pid int) error {
		seen = append(seen, strconv.FormatBool(exists("before"))+","+strconv.FormatBool(exists("after"))+","+strconv.FormatBool(exists("last")))
		return nil
	}
	if st := run(t, &Cmd{Path: "/bin/true", Linux: &Linux{Setup: build(), Paused: paused}}); st.ExitCode() != 0 {
		t.Fatalf("child: %v", st)
	}
	// before/after/last as each pause saw them: the skipped block's pause
	// never came.
	if want := []string{"true,false,false", "true,true,false"}; strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("Paused saw %v, want %v", seen, want)
	}
	if !exists("last") {
		t.Error("the program did not go on after its pauses")
	}

	os.RemoveAll(dir + "/before")
	os.RemoveAll(dir + "/after")
	os.RemoveAll(dir + "/last")
	refuse := errors.New("hook failed")
	_, err := (&Cmd{Path: "/bin/true", Linux: &Linux{Setup: build(), Paused: func(int) error { return refuse }}}).Start()
	if !errors.Is(err, refuse) {
		t.Errorf("Start with a failing Paused = %v, want its error", err)
	}
	if exists("after") {
		t.Error("the child went on after Paused failed")
	}
	if _, err := (&Cmd{Path: "/bin/true", Linux: &Linux{Setup: build()}}).Start(); err == nil || !strings.Contains(err.Error(), "Paused") {
		t.Errorf("Start of a pausing program without Paused = %v, want a refusal", err)
	}
}

// TestProgramFile names a file given to the child by the file, and refuses
// one it is not given.
func TestProgramFile(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// Two files ahead of it, so its fd is not the first extra one.
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	p := &Program{}
	p.Step("write", "pipe")
	p.CallNonneg(unix.SYS_WRITE, File(w), Str("named"), Int(5))
	if st := run(t, &Cmd{Path: "/bin/true", ExtraFiles: []*os.File{null, null, w}, Linux: &Linux{Setup: p}}); st.ExitCode() != 0 {
		t.Fatalf("child: %v", st)
	}
	w.Close()
	if got, _ := io.ReadAll(r); string(got) != "named" {
		t.Errorf("the pipe got %q, want %q", got, "named")
	}
	if _, err := (&Cmd{Path: "/bin/true", ExtraFiles: []*os.File{null}, Linux: &Linux{Setup: p}}).Start(); err == nil || !strings.Contains(err.Error(), "does not give") {
		t.Errorf("Start of a program naming a file the Cmd does not give = %v, want a refusal", err)
	}
}
