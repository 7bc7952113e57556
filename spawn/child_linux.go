package spawn

import (
	"encoding/binary"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// buildPlan lists, in order, every system call the child makes between
// clone and exec. The order matters:
//
//  1. reset signal dispositions (all signals stay blocked until step 8);
//  2. drop its copy of the sync pipe's write end, then wait for the parent
//     to write the id maps and run Prepare (only when there is any); then
//     enter the namespaces of Join and create those clone3 left to it;
//  3. hostname;
//  4. place fds 0..n-1, move the control pipes just above them and close
//     everything else for real, so that a child parked at its gate holds no
//     other fd of the parent (another Start's error pipe among them);
//  5. session and controlling terminal (Ctty is a child fd number);
//  6. the gate, before the credential change: the child shares the
//     parent's memory until exec, and a child that has dropped to another
//     uid must not sit there for an unbounded time (commit_creds changes
//     the shared mm's dumpable flag); nobody reads the error pipe after
//     it, so a later failure is also written on the child's fd 2;
//  7. credentials, then chdir (so Dir is checked as the final user),
//     no_new_privs, parent-death signal (after the credential change,
//     which clears it), the seccomp filter (before the credentials when
//     there is no no_new_privs: see planSeccomp; before the gate, with
//     no_new_privs, when it has a listener for Start to take);
//  8. empty the signal mask and exec.
func (s *starter) buildPlan() {
	p := &s.plan
	p.errfd = int(s.errW.Fd())
	p.resetSignals()
	s.planSync()
	s.planJoin()
	if h := s.lx.Hostname; h != "" {
		p.call(p.newStep("sethostname", h), unix.SYS_SETHOSTNAME, p.str(h), lit(len(h)))
	}
	if d := s.lx.Domainname; d != "" {
		p.call(p.newStep("setdomainname", d), unix.SYS_SETDOMAINNAME, p.str(d), lit(len(d)))
	}
	s.planFiles()
	if s.lx.Setup != nil {
		p.program(s.lx.Setup, s.planPause, s.fds)
	}
	s.planRlimits()
	s.planBounding()
	s.planSession()
	if dir := s.cmd.Dir; dir != "" && s.gate != nil {
		// Checked before the gate too, so that a missing directory fails
		// Start (an OCI create) instead of a process nobody waits on; the
		// chdir after the credential change decides, as the final user.
		p.call(p.newStep("chdir", dir), unix.SYS_CHDIR, p.str(dir))
	}
	if s.listener() {
		// Loaded before the gate, so that Start can take the listener.
		s.planNoNewPrivs()
		s.planSeccomp()
	}
	s.planGate()
	if !s.lx.NoNewPrivs && !s.listener() {
		// Installing a filter without no_new_privs takes CAP_SYS_ADMIN,
		// which the capability change may drop.
		s.planSeccomp()
	}
	s.planIdentity()
	s.planCapabilities()
	if dir := s.cmd.Dir; dir != "" {
		p.call(p.newStep("chdir", dir), unix.SYS_CHDIR, p.str(dir))
	}
	s.planGuards()
	if s.lx.NoNewPrivs && !s.listener() {
		s.planSeccomp()
	}
	s.planExec()
	if s.gate != nil {
		p.tell(s.toldFrom)
	}
}

func (s *starter) planRlimits() {
	p := &s.plan
	for _, r := range s.lx.Rlimits {
		lim := make([]byte, 16)
		binary.LittleEndian.PutUint64(lim, r.Cur)
		binary.LittleEndian.PutUint64(lim[8:], r.Max)
		st := p.newStep("setrlimit", "resource "+strconv.Itoa(r.Resource))
		p.call(st, unix.SYS_PRLIMIT64, lit(0), lit(r.Resource), p.bytes(lim), lit(0))
	}
}

// planBounding drops what the bounding set must not have, while the child
// still has CAP_SETPCAP, and keeps the permitted set across a change to a
// non-zero uid.
func (s *starter) planBounding() {
	c := s.lx.Capabilities
	if c == nil {
		return
	}
	p := &s.plan
	st := p.newStep("prctl PR_CAPBSET_DROP", "")
	for n := 0; n <= s.lastCap; n++ {
		if c.Bounding&(1<<n) == 0 {
			p.call(st, unix.SYS_PRCTL, lit(unix.PR_CAPBSET_DROP), lit(n))
		}
	}
	if cred := s.lx.Credential; cred != nil && cred.UID != 0 && c.Permitted != 0 {
		p.call(p.newStep("prctl PR_SET_KEEPCAPS", ""), unix.SYS_PRCTL, lit(unix.PR_SET_KEEPCAPS), lit(1))
	}
}

// planCapabilities sets the effective, permitted and inheritable sets
// (capset(2), version 3: two 32-bit words each), then the ambient set,
// which needs its capabilities permitted and inheritable.
func (s *starter) planCapabilities() {
	c := s.lx.Capabilities
	if c == nil {
		return
	}
	p := &s.plan
	hdr := make([]byte, 8)
	binary.LittleEndian.PutUint32(hdr, unix.LINUX_CAPABILITY_VERSION_3)
	data := make([]byte, 24)
	for i, set := range []uint64{c.Effective, c.Permitted, c.Inheritable} {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(set))
		binary.LittleEndian.PutUint32(data[12+4*i:], uint32(set>>32))
	}
	p.call(p.newStep("capset", ""), unix.SYS_CAPSET, p.bytes(hdr), p.bytes(data))
	st := p.newStep("prctl PR_CAP_AMBIENT", "")
	p.call(st, unix.SYS_PRCTL, lit(unix.PR_CAP_AMBIENT), lit(unix.PR_CAP_AMBIENT_CLEAR_ALL), lit(0), lit(0), lit(0))
	for n := 0; n <= s.lastCap; n++ {
		if c.Ambient&(1<<n) != 0 {
			p.call(st, unix.SYS_PRCTL, lit(unix.PR_CAP_AMBIENT), lit(unix.PR_CAP_AMBIENT_RAISE), lit(n), lit(0), lit(0))
		}
	}
}

// planSeccomp installs the filter. With no_new_privs it comes last, so it
// constrains only the calls left: the signal mask and execve. Without, it
// comes before the credential and capability changes, which need the
// filter to allow them (as runc does).
func (s *starter) planSeccomp() {
	if s.lx.Seccomp == nil {
		return
	}
	p := &s.plan
	prog := make([]byte, 8*len(s.lx.Seccomp))
	for i, f := range s.lx.Seccomp {
		binary.LittleEndian.PutUint16(prog[8*i:], f.Code)
		prog[8*i+2], prog[8*i+3] = f.Jt, f.Jf
		binary.LittleEndian.PutUint32(prog[8*i+4:], f.K)
	}
	filter := p.bytes(prog)
	fprog := p.bytes(make([]byte, 16)) // struct sock_fprog {u16 len; filter *}
	binary.LittleEndian.PutUint16(p.arena[fprog.v:], uint16(len(s.lx.Seccomp)))
	binary.LittleEndian.PutUint64(p.arena[fprog.v+8:], filter.v)
	p.relocs = append(p.relocs, int(fprog.v)+8)
	o := p.call(p.newStep("seccomp", ""), unix.SYS_SECCOMP, lit(unix.SECCOMP_SET_MODE_FILTER), lit(s.lx.SeccompFlags), fprog)
	o.want = wantNonneg
	if s.listener() {
		o.slotOut = listenerSlot + 1
	}
}

func (s *starter) planSync() {
	if s.syncW == nil {
		return
	}
	p := &s.plan
	p.call(p.newStep("close sync pipe", ""), unix.SYS_CLOSE, lit(s.syncW.Fd()))
	if s.wait {
		st := p.newStep("wait for parent", "")
		p.callEq(st, 1, unix.SYS_READ, lit(s.syncR.Fd()), p.bytes(make([]byte, 8)), lit(1))
	}
	s.planNamespaceRoot()
}

// planNamespaceRoot makes the child root of its new user namespace, when
// the maps give the namespace a root, before anything else: the caller's
// own ids may not be mapped at all (a subuid range), and files the setup
// creates would then fail with EOVERFLOW.
func (s *starter) planNamespaceRoot() {
	if s.lx.Namespaces&unix.CLONE_NEWUSER == 0 || !mapsZero(s.lx.UIDMappings) || !mapsZero(s.lx.GIDMappings) {
		return
	}
	p := &s.plan
	p.call(p.newStep("setresgid", "0 in the new user namespace"), unix.SYS_SETRESGID, lit(0), lit(0), lit(0))
	p.call(p.newStep("setresuid", "0 in the new user namespace"), unix.SYS_SETRESUID, lit(0), lit(0), lit(0))
}

func mapsZero(m []IDMap) bool {
	for _, e := range m {
		if e.ContainerID == 0 && e.Size > 0 {
			return true
		}
	}
	return false
}

// planJoin enters the namespaces of Join, a user namespace first (the
// others are then entered with its privilege), creates the new ones that
// clone3 left to the child, and enters Root.
func (s *starter) planJoin() {
	p := &s.plan
	joins := slices.Clone(s.lx.Join)
	slices.SortStableFunc(joins, func(a, b Namespace) int { return int(b.Type&NewUser) - int(a.Type&NewUser) })
	for _, j := range joins {
		if t := j.Type &^ NewPID; t != 0 {
			p.call(p.newStep("setns", j.File.Name()), unix.SYS_SETNS, lit(j.File.Fd()), lit(t))
		}
	}
	if s.unshareNS != 0 {
		p.call(p.newStep("unshare", ""), unix.SYS_UNSHARE, lit(s.unshareNS))
	}
	if r := s.lx.Root; r != nil {
		st := p.newStep("chroot", r.Name())
		p.call(st, unix.SYS_FCHDIR, lit(r.Fd()))
		p.call(st, unix.SYS_CHROOT, p.str("."))
	}
}

func (s *starter) planIdentity() {
	p := &s.plan
	cred := s.lx.Credential
	if cred == nil {
		return
	}
	// setgroups(2) fails once "deny" is written, which only happens in a
	// new user namespace; elsewhere the groups must always be set.
	if !cred.KeepGroups && (!s.lx.DenySetgroups || s.lx.Namespaces&unix.CLONE_NEWUSER == 0) {
		groups := make([]byte, 4*len(cred.Groups))
		for i, g := range cred.Groups {
			binary.LittleEndian.PutUint32(groups[4*i:], g)
		}
		p.call(p.newStep("setgroups", ""), unix.SYS_SETGROUPS, lit(len(cred.Groups)), p.bytes(groups))
	}
	p.call(p.newStep("setresgid", ""), unix.SYS_SETRESGID, lit(cred.GID), lit(cred.GID), lit(cred.GID))
	p.call(p.newStep("setresuid", ""), unix.SYS_SETRESUID, lit(cred.UID), lit(cred.UID), lit(cred.UID))
}

// planFiles moves the sources of fds 0..n-1 out of the way (to base+i,
// above every fd involved, so no move clobbers a source not yet moved),
// then into place; then the control fds (error pipe, sync pipe, gate) to
// n, n+1, … (close-on-exec), and closes every fd above them.
func (s *starter) planFiles() {
	p := &s.plan
	n := len(s.targets)
	ctl := []*os.File{s.errW, s.syncR, s.gate}
	base := n
	for _, f := range append(append([]*os.File{}, s.targets...), append(ctl, s.syncW, s.errR)...) {
		if f != nil && int(f.Fd()) >= base {
			base = int(f.Fd()) + 1
		}
	}
	st := p.newStep("place fds", "")
	for i, f := range s.targets {
		if f != nil {
			p.callEq(st, int64(base+i), unix.SYS_DUP3, lit(f.Fd()), lit(base+i), lit(unix.O_CLOEXEC))
		}
	}
	for i, f := range s.targets {
		if f != nil {
			p.callEq(st, int64(i), unix.SYS_DUP3, lit(base+i), lit(i), lit(0))
		} else {
			p.call(st, unix.SYS_CLOSE, lit(i)).want = wantAny
		}
	}
	// The control fds, staged above base+n first for the same reason.
	s.ctl = map[*os.File]int{}
	next := n
	for j, f := range ctl {
		if f == nil {
			continue
		}
		hi := base + n + j
		p.callEq(st, int64(hi), unix.SYS_DUP3, lit(f.Fd()), lit(hi), lit(unix.O_CLOEXEC))
		s.ctl[f] = hi
	}
	for _, f := range ctl {
		if f == nil {
			continue
		}
		p.callEq(st, int64(next), unix.SYS_DUP3, lit(s.ctl[f]), lit(next), lit(unix.O_CLOEXEC))
		s.ctl[f] = next
		next++
	}
	p.ops = append(p.ops, op{kind: opErrfd, args: [6]uint64{uint64(s.ctl[s.errW])}, step: st})
	p.call(st, unix.SYS_CLOSE_RANGE, lit(next), lit(^uint32(0)), lit(0))
}

func (s *starter) planSession() {
	p := &s.plan
	if s.lx.Setsid {
		p.call(p.newStep("setsid", ""), unix.SYS_SETSID).want = wantNonneg
	}
	if s.lx.Setctty {
		p.call(p.newStep("set controlling terminal", ""), unix.SYS_IOCTL, lit(s.lx.Ctty), lit(unix.TIOCSCTTY), lit(0))
	}
}

// childFDs maps each file the child is given to its fd there.
func (s *starter) childFDs() map[*os.File]int {
	fds := map[*os.File]int{}
	for i, f := range s.targets {
		if f != nil {
			fds[f] = i
		}
	}
	return fds
}

// planPause is a Program's Pause: a PAUSE report on the error pipe, then
// one byte from the sync pipe, written once Linux.Paused has returned.
func (s *starter) planPause(st int32) {
	p := &s.plan
	msg := make([]byte, reportSize)
	binary.LittleEndian.PutUint32(msg, msgPause)
	binary.LittleEndian.PutUint32(msg[4:], uint32(st))
	p.callEq(st, reportSize, unix.SYS_WRITE, lit(s.ctl[s.errW]), p.bytes(msg), lit(reportSize))
	p.callEq(st, 1, unix.SYS_READ, lit(s.ctl[s.syncR]), p.bytes(make([]byte, 8)), lit(1))
}

func (s *starter) planGate() {
	if s.gate == nil {
		return
	}
	p := &s.plan
	st := p.newStep("wait at gate", "")
	msg := make([]byte, reportSize)
	binary.LittleEndian.PutUint32(msg, msgReady)
	ready := p.bytes(msg)
	if s.listener() {
		// The report's last word carries the listener's fd number.
		p.ops = append(p.ops, op{kind: opStore, step: st, ptrMask: 2, args: [6]uint64{listenerSlot, ready.v + 8}})
	}
	p.callEq(st, reportSize, unix.SYS_WRITE, lit(s.ctl[s.errW]), ready, lit(reportSize))
	p.callEq(st, 1, unix.SYS_READ, lit(s.ctl[s.gate]), p.bytes(make([]byte, 8)), lit(1))
	s.toldFrom = int32(len(p.steps))
}

func (s *starter) planNoNewPrivs() {
	if p := &s.plan; s.lx.NoNewPrivs {
		p.call(p.newStep("prctl PR_SET_NO_NEW_PRIVS", ""), unix.SYS_PRCTL, lit(unix.PR_SET_NO_NEW_PRIVS), lit(1), lit(0), lit(0), lit(0))
	}
}

func (s *starter) planGuards() {
	p := &s.plan
	if !s.listener() {
		s.planNoNewPrivs()
	}
	if sig := s.lx.Pdeathsig; sig != 0 {
		st := p.newStep("prctl PR_SET_PDEATHSIG", "")
		p.call(st, unix.SYS_PRCTL, lit(unix.PR_SET_PDEATHSIG), lit(uint64(sig)))
		// The parent may have died before the signal was armed. It holds
		// the sync pipe's write end until the child execs, so a hang-up
		// there (poll returning 1) means it is gone.
		pfd := make([]byte, 8)
		binary.LittleEndian.PutUint32(pfd, uint32(s.ctl[s.syncR]))
		binary.LittleEndian.PutUint16(pfd[4:], unix.POLLIN)
		p.callEq(st, 0, unix.SYS_POLL, p.bytes(pfd), lit(1), lit(0))
	}
}

// planExec empties the signal mask and tries each exec candidate; only if
// all fail does the last op report the most telling error.
func (s *starter) planExec() {
	p := &s.plan
	p.call(p.newStep("sigprocmask", ""), unix.SYS_RT_SIGPROCMASK, lit(unix.SIG_SETMASK), p.bytes(make([]byte, sigsetSize)), lit(0), lit(sigsetSize))
	argv := p.strv(s.cmd.argv())
	envp := p.strv(s.cmd.Env)
	var st int32
	for _, path := range execCandidates(s.cmd.Path, s.cmd.Env) {
		st = p.newStep("exec", path)
		p.call(st, unix.SYS_EXECVE, p.str(path), argv, envp).kind = opSoft
	}
	p.ops = append(p.ops, op{kind: opFail, step: st})
}
