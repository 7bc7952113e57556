package spawn

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the child program: `<test binary> spawn-helper
// MODE` runs helperMain instead of the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "spawn-helper" {
		os.Exit(helperMain(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

func helperMain(mode string, args []string) int {
	switch mode {
	case "fds":
		fmt.Println(strings.Join(openFds(), " "))
	case "ns":
		for _, ns := range allNamespaces {
			link, _ := os.Readlink("/proc/self/ns/" + ns)
			fmt.Println(ns, link)
		}
		b, _ := os.ReadFile("/proc/self/uid_map")
		fmt.Print(string(b))
	case "pdeath":
		return helperPdeath()
	case "private":
		return helperPrivate()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	return 0
}

// openFds lists the fds of this process with raw system calls only, so that
// nothing the Go runtime or package os opens shows up.
func openFds() []string {
	dfd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return []string{"error:" + err.Error()}
	}
	var fds []string
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Getdents(dfd, buf)
		if err != nil || n <= 0 {
			break
		}
		var names []string
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if name != strconv.Itoa(dfd) {
				fds = append(fds, name)
			}
		}
	}
	sort.Slice(fds, func(i, j int) bool { a, _ := strconv.Atoi(fds[i]); b, _ := strconv.Atoi(fds[j]); return a < b })
	return fds
}

func helperPdeath() int {
	p, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "1000"},
		Linux: &Linux{Pdeathsig: syscall.SIGKILL}}).Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(p.Identity())
	select {} // until the test kills us
}

var allNamespaces = []string{"user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"}

// allCloneFlags checks AllNamespaces against x/sys's values.
const allCloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWNET |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// Both differences must be non-negative: compiles only if they are equal.
const _ = uint(AllNamespaces-allCloneFlags) + uint(allCloneFlags-AllNamespaces)

func helperCmd(t *testing.T, mode string) *Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Cmd{Path: exe, Args: []string{exe, "spawn-helper", mode}}
}

// output runs c to completion and returns its stdout and state.
func output(t *testing.T, c *Cmd) (string, *State) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c.Stdout = w
	p, err := c.Start()
	w.Close()
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	defer p.Close()
	out, _ := io.ReadAll(r)
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait() = %v", err)
	}
	return string(out), st
}

func run(t *testing.T, c *Cmd) *State {
	t.Helper()
	p, err := c.Start()
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	defer p.Close()
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait() = %v", err)
	}
	return st
}

// children lists the pids of this process's unreaped children.
func children(t *testing.T) []string {
	t.Helper()
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var out []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		script   string
		wantCode int
		wantSig  syscall.Signal
	}{
		{"exit 0", 0, 0},
		{"exit 1", 1, 0},
		{"exit 42", 42, 0},
		{"kill -9 $$", -1, syscall.SIGKILL},
		{"kill -TERM $$", -1, syscall.SIGTERM},
	}
	for _, adoptable := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/adoptable=%v", tt.script, adoptable), func(t *testing.T) {
				st := run(t, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", tt.script}, Adoptable: adoptable})
				if st.ExitCode() != tt.wantCode || st.Signal() != tt.wantSig || !st.Known() {
					t.Errorf("Wait() = code %d signal %v known %v, want %d %v true", st.ExitCode(), st.Signal(), st.Known(), tt.wantCode, tt.wantSig)
				}
			})
		}
	}
}

// TestPrivateChild: no SIGCHLD reaches the program and a waitpid(-1) loop
// elsewhere in it never reaps a spawn child, while every Wait still gets
// the right status.
func TestPrivateChild(t *testing.T) {
	// In a process of its own: earlier tests' adoptable children raise
	// SIGCHLD in this one, and their delivery can trail their Wait.
	out, err := exec.Command(os.Args[0], "spawn-helper", "private").CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "statuses ok, reaped 0, SIGCHLD 0" {
		t.Errorf("50 private children: %s; want statuses ok, reaped 0, SIGCHLD 0", got)
	}
}

// helperPrivate starts 50 private children while a goroutine loops on
// waitpid(-1, WNOHANG) and SIGCHLD is watched, and reports what it saw.
func helperPrivate() int {
	sigc := make(chan os.Signal, 128)
	signal.Notify(sigc, syscall.SIGCHLD)
	stop := make(chan struct{})
	stolen := make(chan int, 1)
	go func() {
		n := 0
		defer func() { stolen <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var ws unix.WaitStatus
			if pid, _ := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid > 0 {
				n++
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	statuses := "ok"
	for i := 0; i < 50; i++ {
		p, err := (&Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "exit " + strconv.Itoa(i)}}).Start()
		if err != nil {
			fmt.Println("Start:", err)
			return 1
		}
		st, err := p.Wait()
		p.Close()
		if err != nil || st.ExitCode() != i {
			statuses = fmt.Sprintf("child %d: %v, %v", i, st, err)
		}
	}
	close(stop)
	reaped := <-stolen
	time.Sleep(20 * time.Millisecond)
	fmt.Printf("statuses %s, reaped %d, SIGCHLD %d\n", statuses, reaped, len(sigc))
	return 0
}

func TestOnlyChosenFds(t *testing.T) {
	// Hundreds of fds without O_CLOEXEC, as careless code leaves them.
	for i := 0; i < 300; i++ {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
	}
	extra, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	defer w.Close()

	tests := []struct {
		name  string
		extra []*os.File
		want  string
	}{
		{"stdio only", nil, "0 1 2"},
		{"two extra", []*os.File{extra, w}, "0 1 2 3 4"},
		{"hole", []*os.File{nil, w}, "0 1 2 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := helperCmd(t, "fds")
			// Since Go 1.25 the runtime keeps cgroup CPU files open to
			// follow limits; that is the helper's own doing, not spawn's.
			c.Env = []string{"GODEBUG=containermaxprocs=0,updatemaxprocs=0"}
			c.ExtraFiles = tt.extra
			out, _ := output(t, c)
			if got := strings.TrimSpace(out); got != tt.want {
				t.Errorf("child fds = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtraFileIsUsable(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st := run(t, &Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "echo via-fd3 >&3"}, ExtraFiles: []*os.File{w}})
	w.Close()
	got, _ := io.ReadAll(r)
	if st.ExitCode() != 0 || string(got) != "via-fd3\n" {
		t.Errorf("child wrote %q (status %v), want %q", got, st, "via-fd3\n")
	}
}

func TestSignalsDefaultAndUnblocked(t *testing.T) {
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGHUP, syscall.SIGPIPE)
	out, _ := output(t, &Cmd{Path: "/bin/grep", Args: []string{"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}})
	want := "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
	if out != want {
		t.Errorf("child signal state = %q, want %q", out, want)
	}
}

func TestEnvironmentIsExactlyEnv(t *testing.T) {
	os.Setenv("SBX_PARENT_ONLY", "leak")
	defer os.Unsetenv("SBX_PARENT_ONLY")
	tests := []struct {
		env  []string
		want string
	}{
		{nil, ""},
		{[]string{"A=1", "B=two words"}, "A=1\nB=two words\n"},
	}
	for _, tt := range tests {
		out, _ := output(t, &Cmd{Path: "/usr/bin/env", Env: tt.env})
		if out != tt.want {
			t.Errorf("env with Env=%q printed %q, want %q", tt.env, out, tt.want)
		}
	}
}

func TestPathSearch(t *testing.T) {
	st := run(t, &Cmd{Path: "true", Env: []string{"PATH=/nonexistent:/bin"}})
	if st.ExitCode() != 0 {
		t.Errorf("true via PATH: %v", st)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	uid := uint32(os.Getuid())
	tests := []struct {
		name    string
		cmd     Cmd
		want    string
		wantErr error
	}{
		{"missing binary", Cmd{Path: "/nope"}, `spawn: exec "/nope": no such file or directory`, fs.ErrNotExist},
		{"not found in PATH", Cmd{Path: "sbx-no-such-cmd", Env: []string{"PATH=/bin"}},
			`spawn: exec "/bin/sbx-no-such-cmd": no such file or directory`, syscall.ENOENT},
		{"not executable", Cmd{Path: notExec}, fmt.Sprintf("spawn: exec %q: permission denied", notExec), syscall.EACCES},
		{"bad dir", Cmd{Path: "/bin/true", Dir: "/nope"}, `spawn: chdir "/nope": no such file or directory`, syscall.ENOENT},
		{"setup step", Cmd{Path: "/bin/true", Linux: &Linux{
			Namespaces:  unix.CLONE_NEWUSER,
			UIDMappings: []IDMap{{0, uid, 1}}, GIDMappings: []IDMap{{0, uint32(os.Getgid()), 1}}, DenySetgroups: true,
			Credential: &Credential{UID: 4242, GID: 4242}}},
			"spawn: setresgid: invalid argument", syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.cmd.Start()
			if err == nil {
				p.Wait()
				t.Fatalf("Start() succeeded, want %q", tt.want)
			}
			if err.Error() != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("Start() = %q, want %q (wrapping %v)", err, tt.want, tt.wantErr)
			}
			if c := children(t); len(c) != 0 {
				t.Errorf("children left after failed Start: %v", c)
			}
		})
	}
}

func TestAllNamespacesAndMaps(t *testing.T) {
	c := helperCmd(t, "ns")
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	c.Linux = &Linux{Namespaces: allCloneFlags,
		UIDMappings: []IDMap{{0, uid, 1}}, GIDMappings: []IDMap{{0, gid, 1}}, DenySetgroups: true}
	out, st := output(t, c)
	if st.ExitCode() != 0 {
		t.Fatalf("helper: %v", st)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(allNamespaces)+1 {
		t.Fatalf("helper printed %q", out)
	}
	for i, ns := range allNamespaces {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		got := strings.TrimPrefix(lines[i], ns+" ")
		if got == host || got == "" {
			t.Errorf("namespace %s of child = %q, want different from host %q", ns, got, host)
		}
	}
	if got, want := strings.Fields(lines[len(allNamespaces)]), []string{"0", strconv.Itoa(int(uid)), "1"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("child uid_map = %q, want %q", got, want)
	}
}

func TestSignalAndTryWait(t *testing.T) {
	p, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "100"}}).Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if st, ok, err := p.TryWait(); ok || err != nil || st != nil {
		t.Fatalf("TryWait() on a running child = %v, %v, %v; want nil, false, nil", st, ok, err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM) = %v", err)
	}
	st, err := p.Wait()
	if err != nil || st.Signal() != syscall.SIGTERM || st.ExitCode() != -1 {
		t.Fatalf("Wait() = %v, %v; want killed by SIGTERM", st, err)
	}
	if st2, ok, _ := p.TryWait(); !ok || st2 != st {
		t.Errorf("TryWait() after Wait = %v, %v; want the same state", st2, ok)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after Wait = %v, want os.ErrProcessDone", err)
	}
}

func TestGate(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := (&Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 7"}, Gate: r}).Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	time.Sleep(50 * time.Millisecond)
	if _, ok, _ := p.TryWait(); ok {
		t.Fatal("child passed the gate before it was opened")
	}
	w.Write([]byte{1})
	w.Close()
	if st, err := p.Wait(); err != nil || st.ExitCode() != 7 {
		t.Errorf("Wait() after opening the gate = %v, %v; want exit status 7", st, err)
	}
}

// TestFailureAfterGate: nobody reads the error pipe once Start has
// returned, so the failure of exec after the gate is told on the child's
// stderr, and the child ends with status 127.
func TestFailureAfterGate(t *testing.T) {
	gateR, gateW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer gateR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer errR.Close()
	p, err := (&Cmd{Path: "/nonexistent/program", Gate: gateR, Stderr: errW}).Start()
	errW.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	gateW.Write([]byte{1})
	gateW.Close()
	if st, err := p.Wait(); err != nil || st.ExitCode() != 127 {
		t.Errorf("Wait() = %v, %v; want exit status 127", st, err)
	}
	out, _ := io.ReadAll(errR)
	want := `spawn: exec "/nonexistent/program": no such file or directory` + "\n"
	if string(out) != want {
		t.Errorf("child's stderr = %q, want %q", out, want)
	}
}

// TestKillAtGate: a child waiting at its gate is a process like any other.
func TestKillAtGate(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p, err := (&Cmd{Path: "/bin/true", Gate: r}).Start()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Signal() != syscall.SIGKILL {
		t.Errorf("Wait() = %v, %v; want killed by SIGKILL", st, err)
	}
}

func TestIdentityForged(t *testing.T) {
	p, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "100"}}).Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Signal(syscall.SIGKILL); p.Wait(); p.Close() }()
	id := p.Identity()
	if id.StartTime == 0 {
		t.Fatalf("Identity() = %+v, want a start time", id)
	}
	if _, ok := pidfsInode(int(p.Fd())); !ok {
		t.Errorf("this kernel (≥ 6.9 here) should put pidfds on pidfs")
	}
	tests := []struct {
		name string
		id   Identity
		ok   bool
	}{
		{"true identity", id, true},
		{"start time only", Identity{Pid: id.Pid, StartTime: id.StartTime}, true},
		{"forged inode", Identity{Pid: id.Pid, Inode: id.Inode + 1, StartTime: id.StartTime}, false},
		{"forged start time", Identity{Pid: id.Pid, StartTime: id.StartTime + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := Open(id.Pid, tt.id)
			if tt.ok {
				if err != nil {
					t.Fatalf("Open(%+v) = %v", tt.id, err)
				}
				q.Close()
				return
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Open(%+v) = %v, want ErrNotFound", tt.id, err)
			}
		})
	}
}

// TestIdentityRecycledPid makes the kernel give a dead child's pid to a new
// process (ns_last_pid, as CRIU does) and checks Open tells them apart.
func TestIdentityRecycledPid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write /proc/sys/kernel/ns_last_pid")
	}
	for try := 0; try < 20; try++ {
		first, err := (&Cmd{Path: "/bin/true"}).Start()
		if err != nil {
			t.Fatal(err)
		}
		old := first.Identity()
		first.Wait()
		first.Close()
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(old.Pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		second, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "100"}, Adoptable: true}).Start()
		if err != nil {
			t.Fatal(err)
		}
		if second.Pid() != old.Pid {
			second.Signal(syscall.SIGKILL)
			second.Wait()
			second.Close()
			continue // another process took the pid first; try again
		}
		defer func() { second.Signal(syscall.SIGKILL); second.Wait(); second.Close() }()
		if _, err := Open(old.Pid, old); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(recycled pid %d, old identity) = %v, want ErrNotFound", old.Pid, err)
		}
		q, err := Open(old.Pid, second.Identity())
		if err != nil {
			t.Fatalf("Open(pid %d, new identity) = %v", old.Pid, err)
		}
		q.Close()
		return
	}
	t.Fatal("could not get a pid recycled in 20 tries")
}

func TestOpenGone(t *testing.T) {
	p, err := (&Cmd{Path: "/bin/true"}).Start()
	if err != nil {
		t.Fatal(err)
	}
	id := p.Identity()
	p.Wait()
	p.Close()
	if _, err := Open(id.Pid, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(exited and reaped pid) = %v, want ErrNotFound", err)
	}
}

// TestPdeathsig kills the parent of a child started with Pdeathsig and
// checks the child dies within a second.
func TestPdeathsig(t *testing.T) {
	exe, _ := os.Executable()
	helper := exec.Command(exe, "spawn-helper", "pdeath")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var id Identity
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&id); err != nil {
		helper.Process.Kill()
		t.Fatalf("reading the helper's child identity: %v", err)
	}
	child, err := Open(id.Pid, id)
	if err != nil {
		helper.Process.Kill()
		t.Fatal(err)
	}
	defer child.Close()
	helper.Process.Kill()
	helper.Wait()
	done := make(chan struct{})
	go func() { child.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		child.Signal(syscall.SIGKILL)
		t.Fatal("child still alive 1s after its parent was killed")
	}
}

// TestPdeathsigOutlivesThread: PR_SET_PDEATHSIG fires when the *thread*
// that created the child exits, and Go ends the thread of a goroutine that
// returns while locked to it. Start must not tie the child's life to such
// a thread, only to the process: a child started from a locked goroutine
// that then returns lives on.
func TestPdeathsigOutlivesThread(t *testing.T) {
	for _, adoptable := range []bool{false, true} {
		t.Run(fmt.Sprintf("adoptable=%v", adoptable), func(t *testing.T) {
			started := make(chan *Process, 1)
			go func() {
				runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
				p, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Adoptable: adoptable,
					Linux: &Linux{Pdeathsig: syscall.SIGKILL}}).Start()
				if err != nil {
					t.Error(err)
				}
				started <- p
			}()
			p := <-started
			if p == nil {
				return
			}
			defer func() {
				p.Signal(syscall.SIGKILL)
				p.Wait()
				p.Close()
			}()
			time.Sleep(300 * time.Millisecond) // the goroutine's thread is gone by now
			if st, exited, err := p.TryWait(); err != nil || exited {
				t.Fatalf("child ended when the thread that started it did: %v, %v", st, err)
			}
		})
	}
}

func TestIntoCgroup(t *testing.T) {
	dir, err := newTestCgroup(t)
	if err != nil {
		t.Skipf("no writable cgroup v2 directory: %v", err)
	}
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	out, st := output(t, &Cmd{Path: "/bin/cat", Args: []string{"cat", "/proc/self/cgroup"}, Linux: &Linux{Cgroup: cg}})
	rel := "/" + filepath.Base(dir)
	if st.ExitCode() != 0 || !strings.Contains(out, "0::"+rel+"\n") {
		t.Errorf("child /proc/self/cgroup = %q, want a line 0::%s", out, rel)
	}
}

// newTestCgroup makes an empty cgroup v2 directory beside this process's
// own and removes it when the test ends.
func newTestCgroup(t *testing.T) (string, error) {
	root, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var own string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			own = rest
		}
	}
	dir := filepath.Join(root, own, fmt.Sprintf("sbx-spawn-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir, nil
}

func cgroup2Mount() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && f[i+1] == "cgroup2" {
				return f[4], nil
			}
		}
	}
	return "", errors.New("no cgroup2 mount")
}

// TestGateDoesNotStallOtherStarts: a child parked at its gate holds no fd
// of the parent but its own, so another Start (whose error pipe it would
// otherwise keep open) still returns at once.
func TestGateDoesNotStallOtherStarts(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	gated, err := (&Cmd{Path: "/bin/true", Gate: r}).Start()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.Write([]byte{1}); gated.Wait(); gated.Close() }()
	done := make(chan error, 1)
	go func() { done <- startWait(&Cmd{Path: "/bin/true"}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start blocked while another child waits at its gate")
	}
}

func TestDumpableRestored(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change uid")
	}
	before, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	run(t, &Cmd{Path: "/bin/true", Linux: &Linux{Credential: &Credential{UID: 65534, GID: 65534}}})
	if after, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); after != before {
		t.Errorf("PR_GET_DUMPABLE after a Start with Credential = %d, want %d", after, before)
	}
}

func TestCloseAndTryWaitDuringWait(t *testing.T) {
	p, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "2"}}).Start()
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { p.Wait(); close(waited) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if _, ok, err := p.TryWait(); ok || err != nil {
		t.Errorf("TryWait() during Wait = %v, %v; want false, nil", ok, err)
	}
	p.Signal(syscall.SIGKILL)
	<-waited
	p.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("TryWait and Close took %v while Wait ran, want no blocking", d)
	}
}

// TestJoin enters every namespace but time of a running child: through
// its pidfd (all at once) and through /proc/PID/ns files (one each).
func TestJoin(t *testing.T) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	target, err := (&Cmd{Path: "/bin/sleep", Args: []string{"sleep", "100"}, Linux: &Linux{
		Namespaces:  allCloneFlags,
		UIDMappings: []IDMap{{0, uid, 1}}, GIDMappings: []IDMap{{0, gid, 1}}, DenySetgroups: true,
	}}).Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { target.Signal(syscall.SIGKILL); target.Wait(); target.Close() }()
	joined := []string{"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}
	want := map[string]string{}
	for _, ns := range joined {
		want[ns], _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", target.Pid(), ns))
	}
	dup, err := unix.FcntlInt(target.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	pidfd := os.NewFile(uintptr(dup), "pidfd") // its own copy: target closes its fd
	defer pidfd.Close()
	all := uintptr(AllNamespaces &^ NewTime)
	var files []Namespace
	for _, ns := range joined {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", target.Pid(), ns))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, Namespace{File: f, Type: nsTypes[ns]})
	}
	for name, join := range map[string][]Namespace{"pidfd": {{File: pidfd, Type: all}}, "files": files} {
		t.Run(name, func(t *testing.T) {
			c := helperCmd(t, "ns")
			c.Path = "/proc/self/exe" // the test binary, reachable in the target's mount namespace through /proc
			c.Args[0] = c.Path
			c.Adoptable = true
			c.Linux = &Linux{Join: join}
			out, st := output(t, c)
			if st.ExitCode() != 0 {
				t.Fatalf("helper: %v\n%s", st, out)
			}
			seen := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				ns, link, _ := strings.Cut(line, " ")
				if w, ok := want[ns]; ok {
					seen++
					if link != w {
						t.Errorf("namespace %s of the joining child = %q, want the target's %q", ns, link, w)
					}
				}
			}
			if seen != len(joined) {
				t.Errorf("helper printed %d of the %d namespaces:\n%s", seen, len(joined), out)
			}
		})
	}
}

var nsTypes = map[string]uintptr{"user": NewUser, "pid": NewPID, "mnt": NewMount, "net": NewNet,
	"ipc": NewIPC, "uts": NewUTS, "cgroup": NewCgroup, "time": NewTime}

func TestJoinRefused(t *testing.T) {
	open := func(ns string) *os.File {
		f, err := os.Open("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	timeNS, netNS, userNS := open("time"), open("net"), open("user")
	// Each is refused by Start's checks, before any child exists: the
	// kernel would accept the files as they are (or fail differently).
	for name, tc := range map[string]struct {
		lx   *Linux
		want string
	}{
		"time":            {&Linux{Join: []Namespace{{File: timeNS, Type: NewTime}}}, "cannot enter a time namespace"},
		"joined and new":  {&Linux{Join: []Namespace{{File: netNS, Type: NewNet}}, Namespaces: NewNet}, "both joined and created"},
		"new pid in user": {&Linux{Join: []Namespace{{File: userNS, Type: NewUser}}, Namespaces: NewPID}, "new pid or time namespace under a joined user namespace"},
		// (uid_t)-1 is "unchanged" to setresuid(2): the child kept root.
		"uid -1": {&Linux{Credential: &Credential{UID: 1<<32 - 1}}, "4294967295 is not a valid id"},
		"gid -1": {&Linux{Credential: &Credential{GID: 1<<32 - 1}}, "4294967295 is not a valid id"},
	} {
		_, err := (&Cmd{Path: "/bin/true", Adoptable: true, Linux: tc.lx}).Start()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Start() = %v, want the refusal %q", name, err, tc.want)
		}
	}
}

// TestRoot: Linux.Root becomes the child's root and working directory
// before it runs its program, which is then found inside it.
func TestRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot(2) needs CAP_SYS_CHROOT")
	}
	bb, err := os.ReadFile("/bin/busybox") // static: it runs without libraries
	if err != nil {
		t.Fatalf("needs a static /bin/busybox (apt-get install busybox-static): %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c := &Cmd{Path: "/busybox", Args: []string{"busybox", "sh", "-c", "ls /; pwd"}, Linux: &Linux{Root: root}}
	if out, st := output(t, c); st.ExitCode() != 0 || out != "busybox\ninside\n/\n" {
		t.Errorf("child with Root: %v, output %q; want the directory's entries and /", st, out)
	}
	c = &Cmd{Path: "/busybox", Args: []string{"busybox", "pwd"}, Dir: "/inside", Linux: &Linux{Root: root}}
	if out, st := output(t, c); st.ExitCode() != 0 || out != "/inside\n" {
		t.Errorf("child with Root and Dir /inside: %v, output %q", st, out)
	}
}
