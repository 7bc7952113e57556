package tests

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// TestOCISeccompNotify: with an SCMP_ACT_NOTIFY rule, create and exec each
// connect to linux.seccomp.listenerPath once and send the container process
// state with the listener fd, as the runtime-spec says; the agent holding
// the fd decides the notified calls (here mkdir fails with ENOSPC, which
// nothing else would give it).
func TestOCISeccompNotify(t *testing.T) {
	o := newOCI(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	states := make(chan specs.ContainerProcessState, 4)
	go serveNotify(t, ln, states)

	b := o.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, ListenerPath: sock, ListenerMetadata: "from-the-test",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	}, "sh", "-c", "mkdir /tmp/made; echo mkdir=$?")
	ctr := id("notify")
	o.cleanup(ctr)
	out, errs, code := o.run("run", "--bundle", b, ctr)
	if code != 0 || out != "mkdir=1\n" || !strings.Contains(errs, "No space left on device") {
		t.Errorf("run: exit %d, stdout %q, stderr %q; want mkdir=1 and ENOSPC from the agent", code, out, errs)
	}
	st := receive(t, states)
	if st.Version == "" || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName || st.Pid <= 0 ||
		st.Metadata != "from-the-test" || st.State.ID != ctr || st.State.Status != specs.StateCreating || st.State.Pid != st.Pid {
		t.Errorf("container process state sent by create: %+v", st)
	}

	sleeper := o.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, ListenerPath: sock,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	}, "sleep", "1000")
	ctr = id("notify-exec")
	o.cleanup(ctr)
	o.must("create", "--bundle", sleeper, ctr)
	initState := receive(t, states)
	o.must("start", ctr)
	out, errs, code = o.run("exec", ctr, "sh", "-c", "mkdir /tmp/made; echo mkdir=$?")
	if code != 0 || out != "mkdir=1\n" || !strings.Contains(errs, "No space left on device") {
		t.Errorf("exec: exit %d, stdout %q, stderr %q; want mkdir=1 and ENOSPC from the agent", code, out, errs)
	}
	st = receive(t, states)
	if st.State.Status != specs.StateRunning || st.State.Pid != initState.Pid || st.Pid == initState.Pid || st.Pid <= 0 {
		t.Errorf("container process state sent by exec: %+v (the container's: %+v)", st, initState)
	}
	o.must("kill", ctr, "KILL")
	o.waitStatus(ctr, specs.StateStopped)
	o.must("delete", ctr)

	noListener := o.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	}, "true")
	if _, errs, code := o.run("create", "--bundle", noListener, id("notify-none")); code == 0 || !strings.Contains(errs, "listenerPath") {
		t.Errorf("create with SCMP_ACT_NOTIFY but no listenerPath: exit %d, %q; want an error naming listenerPath", code, errs)
	}
	gone := o.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: sock + ".absent",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	}, "true")
	if _, errs, code := o.run("create", "--bundle", gone, id("notify-gone")); code == 0 || !strings.Contains(errs, "listenerPath") {
		t.Errorf("create with no agent at listenerPath: exit %d, %q; want an error naming listenerPath", code, errs)
	}
	if _, _, code := o.run("state", id("notify-gone")); code == 0 {
		t.Error("a create that could not reach the agent left its container behind")
	}
}

func receive(t *testing.T, states chan specs.ContainerProcessState) specs.ContainerProcessState {
	t.Helper()
	select {
	case st := <-states:
		return st
	case <-time.After(10 * time.Second):
		t.Fatal("no container process state reached the agent")
	}
	return specs.ContainerProcessState{}
}

// serveNotify is the agent: for each connection it reads the state and
// the fd, then answers every notification with ENOSPC until the filter's
// processes are gone.
func serveNotify(t *testing.T, ln *net.UnixListener, states chan<- specs.ContainerProcessState) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		conn.Close()
		if err != nil {
			t.Errorf("agent: reading the state: %v", err)
			return
		}
		var st specs.ContainerProcessState
		if err := json.Unmarshal(buf[:n], &st); err != nil {
			t.Errorf("agent: state %q: %v", buf[:n], err)
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		var fds []int
		if len(msgs) == 1 {
			fds, _ = unix.ParseUnixRights(&msgs[0])
		}
		states <- st
		if len(fds) != 1 {
			t.Errorf("agent: %d fds came with the state, want 1", len(fds))
			continue
		}
		go func(fd libseccomp.ScmpFd) {
			defer unix.Close(int(fd))
			for {
				req, err := libseccomp.NotifReceive(fd)
				if err != nil {
					return
				}
				libseccomp.NotifRespond(fd, &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(syscall.ENOSPC)})
			}
		}(libseccomp.ScmpFd(fds[0]))
	}
}
