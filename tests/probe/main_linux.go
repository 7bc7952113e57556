// Command probe runs inside a sandbox and reports facts about it as JSON, one
// line per command, for the black-box tests in sbx.dev/sbx/tests. It is
// built statically (CGO_ENABLED=0) so it runs in an empty root.
//
// Usage: probe CMD [ARG...] [-- CMD [ARG...]]...
//
// Commands that report print one JSON object on a line; the others act
// (exit, sleep, fork, allocate). A probe that cannot do what it was asked
// exits 99 with a message on stderr, so a test never mistakes a broken probe
// for a sandbox property.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// startFDs are the descriptors open when main started, before the Go
// runtime's poller or anything else in the probe opened one.
var startFDs = openFDs()

func main() {
	cmds := split(os.Args[1:])
	if len(cmds) == 0 {
		fail("usage: probe CMD [ARG...] [-- CMD [ARG...]]...")
	}
	for _, c := range cmds {
		run(c[0], c[1:])
	}
}

// split cuts args at each "--".
func split(args []string) [][]string {
	var cmds [][]string
	var cur []string
	for _, a := range args {
		if a == "--" {
			if len(cur) > 0 {
				cmds = append(cmds, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, a)
	}
	if len(cur) > 0 {
		cmds = append(cmds, cur)
	}
	return cmds
}

func run(cmd string, args []string) {
	switch cmd {
	case "facts":
		emit(facts())
	case "syscalls":
		emit(deniedSyscalls())
	case "stat":
		emit(statPaths(args))
	case "create":
		emit(forEach(args, create))
	case "openw":
		emit(forEach(args, openWrite))
	case "connect":
		emit(map[string]string{"err": connect(arg(args, 0))})
	case "loopback":
		emit(map[string]string{"err": loopback()})
	case "sethostname":
		emit(setHostname(arg(args, 0), arg(args, 1)))
	case "devio":
		emit(devIO())
	case "rawsocket":
		emit(map[string]string{"err": rawSocket()})
	case "env":
		emit(map[string][]string{"env": os.Environ()})
	case "cputime":
		emit(cpuTime(arg(args, 0), arg(args, 1)))
	case "killall":
		emit(killAll(arg(args, 0)))
	case "exit":
		os.Exit(atoi(arg(args, 0)))
	case "segv":
		segv()
	case "sleep":
		sleep(args)
	case "daemon":
		daemon(arg(args, 0), args[1:])
	case "daemon-mid":
		daemonMid(arg(args, 0))
	case "trap":
		trap() // arguments, like markers, are ignored
	case "forkbomb":
		forkBomb(arg(args, 0), arg(args, 1), atoi(arg(args, 2)))
	case "alloc":
		alloc(atoi(arg(args, 0)))
	default:
		fail("unknown command %q", cmd)
	}
}

func arg(args []string, i int) string {
	if i >= len(args) {
		fail("missing argument %d", i+1)
	}
	return args[i]
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail("%v", err)
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "probe: "+format+"\n", args...)
	os.Exit(99)
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("%v", err)
	}
	b = append(b, '\n')
	if _, err := os.Stdout.Write(b); err != nil {
		fail("writing result: %v", err)
	}
}

// errName is "" for nil and the errno's name (like "EROFS") for an error
// wrapping one; other errors keep their text.
func errName(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
		return fmt.Sprintf("errno %d", int(errno))
	}
	return err.Error()
}

// FD is an open descriptor and what it refers to.
type FD struct {
	FD     int    `json:"fd"`
	Target string `json:"target"`
}

// openFDs lists /proc/self/fd with raw system calls only, leaving out the
// descriptor it reads the directory through.
func openFDs() []FD {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return []FD{{FD: -1, Target: "open /proc/self/fd: " + err.Error()}}
	}
	defer unix.Close(dir)
	var fds []FD
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dir, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			fd, err := strconv.Atoi(name)
			if err != nil || fd == dir {
				continue
			}
			target, _ := os.Readlink("/proc/self/fd/" + name)
			fds = append(fds, FD{FD: fd, Target: target})
		}
	}
	return fds
}

// Facts is what `probe facts` reports.
type Facts struct {
	Pid        int               `json:"pid"`
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
	NS         map[string]string `json:"ns"`
	UIDMap     string            `json:"uidMap"`
	GIDMap     string            `json:"gidMap"`
	Status     map[string]string `json:"status"`
	FDs        []FD              `json:"fds"`
	Hostname   string            `json:"hostname"`
	Cwd        string            `json:"cwd"`
	Interfaces []Interface       `json:"interfaces"`
	Mounts     []Mount           `json:"mounts"`
	Root       []string          `json:"root"`
	Dev        []Entry           `json:"dev"`
	NoFile     [2]uint64         `json:"noFile"`
	Errors     []string          `json:"errors,omitempty"`
}

// Interface is a network interface of the probe's network namespace.
type Interface struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
}

// Mount is a line of /proc/self/mountinfo.
type Mount struct {
	Point        string `json:"point"`
	Root         string `json:"root"`
	FSType       string `json:"fstype"`
	Source       string `json:"source"`
	Options      string `json:"options"`
	SuperOptions string `json:"superOptions"`
}

// Entry is a directory entry, as lstat(2) sees it.
type Entry struct {
	Name  string `json:"name"`
	Type  string `json:"type"` // "char", "block", "dir", "symlink", "file", "other"
	Major uint32 `json:"major,omitempty"`
	Minor uint32 `json:"minor,omitempty"`
	Link  string `json:"link,omitempty"`
}

var namespaceNames = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

var statusKeys = []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid"}

func facts() *Facts {
	f := &Facts{
		Pid: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(),
		NS: map[string]string{}, Status: map[string]string{}, FDs: startFDs,
	}
	note := func(err error) {
		if err != nil {
			f.Errors = append(f.Errors, err.Error())
		}
	}
	for _, n := range namespaceNames {
		link, err := os.Readlink("/proc/self/ns/" + n)
		note(err)
		f.NS[n] = link
	}
	f.UIDMap, f.GIDMap = readTrim("/proc/self/uid_map", note), readTrim("/proc/self/gid_map", note)
	f.Status = procStatus(note)
	var uts unix.Utsname
	note(unix.Uname(&uts))
	f.Hostname = unix.ByteSliceToString(uts.Nodename[:])
	cwd, err := os.Getwd()
	note(err)
	f.Cwd = cwd
	f.Interfaces, err = interfaces()
	note(err)
	f.Mounts, err = mountInfo()
	note(err)
	f.Root, err = names("/")
	note(err)
	f.Dev, err = entries("/dev")
	note(err)
	var rl unix.Rlimit
	note(unix.Getrlimit(unix.RLIMIT_NOFILE, &rl))
	f.NoFile = [2]uint64{rl.Cur, rl.Max}
	return f
}

func readTrim(path string, note func(error)) string {
	b, err := os.ReadFile(path)
	note(err)
	return strings.Join(strings.Fields(string(b)), " ")
}

func procStatus(note func(error)) map[string]string {
	b, err := os.ReadFile("/proc/self/status")
	note(err)
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, want := range statusKeys {
			if k == want {
				m[k] = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// interfaces reads the interface names from /proc/net/dev and their flags
// with SIOCGIFFLAGS, avoiding netlink.
func interfaces() ([]Interface, error) {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return nil, err
	}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(sock)
	var ifs []Interface
	for _, line := range strings.Split(string(b), "\n") {
		name, _, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || strings.Contains(name, "|") {
			continue
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return nil, err
		}
		if err := unix.IoctlIfreq(sock, unix.SIOCGIFFLAGS, ifr); err != nil {
			return nil, fmt.Errorf("SIOCGIFFLAGS %s: %w", name, err)
		}
		ifs = append(ifs, Interface{Name: name, Up: ifr.Uint16()&unix.IFF_UP != 0})
	}
	return ifs, nil
}

func mountInfo() ([]Mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var ms []Mount
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			return nil, fmt.Errorf("mountinfo line %q", line)
		}
		ms = append(ms, Mount{
			Root: unescape(f[3]), Point: unescape(f[4]), Options: f[5],
			FSType: g[0], Source: unescape(g[1]), SuperOptions: g[2],
		})
	}
	return ms, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func names(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	out := []string{}
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out, err
}

func entries(dir string) ([]Entry, error) {
	ns, err := names(dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, n := range ns {
		out = append(out, lstatEntry(filepath.Join(dir, n)))
	}
	return out, nil
}

func lstatEntry(path string) Entry {
	e := Entry{Name: filepath.Base(path)}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		e.Type = "error: " + errName(err)
		return e
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		e.Type = "char"
	case unix.S_IFBLK:
		e.Type = "block"
	case unix.S_IFDIR:
		e.Type = "dir"
	case unix.S_IFLNK:
		e.Type = "symlink"
		e.Link, _ = os.Readlink(path)
	case unix.S_IFREG:
		e.Type = "file"
	default:
		e.Type = "other"
	}
	if e.Type == "char" || e.Type == "block" {
		e.Major, e.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	return e
}

// Stat is what `probe stat` reports about a path.
type Stat struct {
	Exists    bool   `json:"exists"`
	Err       string `json:"err,omitempty"`
	Type      string `json:"type,omitempty"`
	Major     uint32 `json:"major,omitempty"`
	Minor     uint32 `json:"minor,omitempty"`
	Size      int64  `json:"size"`
	FSMagic   int64  `json:"fsMagic,omitempty"`
	Entries   int    `json:"entries"`
	ReadBytes int    `json:"readBytes"`
	ReadErr   string `json:"readErr,omitempty"`
	Content   string `json:"content,omitempty"`
}

func statPaths(paths []string) map[string]Stat {
	out := map[string]Stat{}
	for _, p := range paths {
		out[p] = statPath(p)
	}
	return out
}

func statPath(p string) Stat {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return Stat{Exists: !errors.Is(err, unix.ENOENT), Err: errName(err)}
	}
	s := Stat{Exists: true, Type: typeOf(st.Mode), Size: st.Size}
	if s.Type == "char" || s.Type == "block" {
		s.Major, s.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	var fs unix.Statfs_t
	if unix.Statfs(p, &fs) == nil {
		s.FSMagic = fs.Type
	}
	if s.Type == "dir" {
		ns, err := names(p)
		s.Entries = len(ns)
		s.ReadErr = errName(err)
		return s
	}
	if s.Type == "file" || s.Type == "char" {
		s.ReadBytes, s.Content, s.ReadErr = readSome(p)
	}
	return s
}

func typeOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFREG:
		return "file"
	}
	return "other"
}

// readSome reads at most 64KiB of p without blocking on a FIFO or a tty.
func readSome(p string) (int, string, string) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return 0, "", errName(err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	total := 0
	for total < len(buf) {
		n, err := unix.Read(fd, buf[total:])
		if err != nil {
			return total, content(buf[:total]), errName(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, content(buf[:total]), ""
}

func content(b []byte) string {
	if len(b) > 256 {
		b = b[:256]
	}
	return string(b)
}

func forEach(paths []string, f func(string) error) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		out[p] = errName(f(p))
		if out[p] == "" {
			out[p] = "OK"
		}
	}
	return out
}

// create creates (or truncates) the file p and writes to it.
func create(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString("written by probe\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openWrite opens the existing file p for writing and closes it without
// writing: harmless even on /proc/sysrq-trigger.
func openWrite(p string) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

func connect(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return errName(err)
	}
	c.Close()
	return ""
}

// loopback listens on 127.0.0.1 and talks to itself: lo is up and usable.
func loopback() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "listen: " + errName(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("pong"))
			c.Close()
		}
	}()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
	if err != nil {
		return "dial: " + errName(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "pong" {
		return fmt.Sprintf("read %q: %v", buf, err)
	}
	return ""
}

// setHostname sets the host name, unless the probe's UTS namespace is
// hostUTSNS (the host's) and the name is not already the host's: a broken
// sandbox must not rename the host.
func setHostname(name, hostUTSNS string) map[string]string {
	ns, err := os.Readlink("/proc/self/ns/uts")
	if err != nil {
		fail("%v", err)
	}
	if current, _ := os.Hostname(); ns == hostUTSNS && name != current {
		fmt.Fprintf(os.Stderr, "probe: refusing sethostname(%q): UTS namespace %s is the host's\n", name, ns)
		os.Exit(97)
	}
	err = unix.Sethostname([]byte(name))
	var uts unix.Utsname
	unix.Uname(&uts)
	return map[string]string{"err": errName(err), "hostname": unix.ByteSliceToString(uts.Nodename[:])}
}

// devIO uses the minimal /dev: each value is "" on success.
func devIO() map[string]string {
	out := map[string]string{}
	out["write /dev/null"] = errName(os.WriteFile("/dev/null", []byte("x"), 0))
	out["write /dev/full"] = errName(os.WriteFile("/dev/full", []byte("x"), 0))
	zero, err := readN("/dev/zero", 16)
	out["read /dev/zero"] = errName(err)
	if err == nil && strings.Trim(string(zero), "\x00") != "" {
		out["read /dev/zero"] = fmt.Sprintf("read %q, want zeros", zero)
	}
	for _, p := range []string{"/dev/random", "/dev/urandom"} {
		b, err := readN(p, 16)
		out["read "+p] = errName(err)
		if err == nil && strings.Trim(string(b), "\x00") == "" {
			out["read "+p] = "read only zeros"
		}
	}
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	out["open /dev/ptmx"] = errName(err)
	if err == nil {
		unix.Close(fd)
	}
	out["create /dev/shm/probe"] = errName(create("/dev/shm/probe"))
	return out
}

func readN(p string, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	_, err = f.Read(b)
	return b, err
}

func rawSocket() string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err == nil {
		unix.Close(fd)
	}
	return errName(err)
}

// cpuTime spins two goroutines and reports the CPU time the probe used:
// mode "wall" spins for the wall-clock duration d, mode "cpu" until the
// probe has used d of CPU time.
func cpuTime(mode, d string) map[string]float64 {
	dur, err := time.ParseDuration(d)
	if err != nil {
		fail("%v", err)
	}
	start := time.Now()
	deadline := start.Add(dur)
	done := make(chan bool)
	for range 2 {
		go func() {
			for i := 0; ; i++ {
				if mode == "wall" && !time.Now().Before(deadline) {
					break
				}
				if mode == "cpu" && i%1000 == 0 && usedCPU() >= dur.Seconds() {
					break
				}
			}
			done <- true
		}()
	}
	<-done
	<-done
	return map[string]float64{"cpuSeconds": usedCPU(), "wallSeconds": time.Since(start).Seconds()}
}

func usedCPU() float64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// killAll sends SIGKILL to every process it may signal, unless its pid
// namespace is hostPidNS (the host's), where that would take down the host.
func killAll(hostPidNS string) map[string]string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		fail("%v", err)
	}
	if ns == hostPidNS {
		fmt.Fprintf(os.Stderr, "probe: refusing kill(-1): pid namespace %s is the host's\n", ns)
		os.Exit(97)
	}
	return map[string]string{"err": errName(unix.Kill(-1, unix.SIGKILL))}
}

// segv dies of a real SIGSEGV, which the kernel delivers even to a pid
// namespace's init: the Go runtime's handler is replaced by SIG_DFL and the
// probe made non-dumpable so no core file is written.
func segv() {
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	var act [4]uintptr // struct sigaction: handler SIG_DFL, flags, restorer, mask
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSEGV), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	if e != 0 {
		fail("rt_sigaction: %v", e)
	}
	var p *int
	runtime.KeepAlive(*p)
	fail("still alive after a nil dereference")
}

// sleep sleeps for an hour; its arguments (markers the tests look for in
// /proc/*/cmdline) are ignored. When fd 3 is open it writes "ready" there
// and closes it.
func sleep([]string) {
	if _, err := unix.Write(3, []byte("ready")); err == nil {
		unix.Close(3)
	}
	time.Sleep(time.Hour)
	os.Exit(98)
}

// daemon starts a grandchild `probe sleep MARKER` in its own session
// through an intermediate process that exits, so the grandchild is
// reparented. Once the grandchild is running, it prints {"grandchild": pid}
// and then, by mode: "exit" exits 0; "wait" sleeps; "ignore-term FILE"
// sleeps and, on SIGTERM, creates FILE and sleeps on.
func daemon(marker string, mode []string) {
	if len(mode) == 0 {
		fail("daemon: missing mode")
	}
	if mode[0] == "ignore-term" {
		file := arg(mode, 1)
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		go func() {
			for range c {
				create(file)
			}
		}()
	}
	r, w, err := os.Pipe()
	if err != nil {
		fail("%v", err)
	}
	mid := exec.Command("/proc/self/exe", "daemon-mid", marker)
	mid.Args[0] = os.Args[0]
	mid.ExtraFiles = []*os.File{w}
	mid.Stderr = os.Stderr
	if err := mid.Run(); err != nil {
		fail("daemon-mid: %v", err)
	}
	w.Close()
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "ready" {
		fail("grandchild not ready: %q", buf[:n])
	}
	emit(map[string]string{"grandchild": "ready"})
	switch mode[0] {
	case "exit":
		os.Exit(0)
	case "wait", "ignore-term":
		time.Sleep(time.Hour)
		os.Exit(98)
	}
	fail("daemon: unknown mode %q", mode[0])
}

// daemonMid starts the grandchild with the pipe on fd 3 and exits.
func daemonMid(marker string) {
	gc := exec.Command("/proc/self/exe", "sleep", marker)
	gc.Args[0] = os.Args[0]
	gc.ExtraFiles = []*os.File{os.NewFile(3, "ready")}
	gc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := gc.Start(); err != nil {
		fail("starting grandchild: %v", err)
	}
	os.Exit(0)
}

// trap prints "ready", waits for SIGINT, SIGTERM, SIGHUP, SIGQUIT or
// SIGWINCH, prints "got N" and exits 40+N: an exit status the child chose.
func trap() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGWINCH,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM)
	fmt.Println("ready")
	select {
	case s := <-c:
		n := int(s.(syscall.Signal))
		fmt.Printf("got %d\n", n)
		os.Exit(40 + n)
	case <-time.After(20 * time.Second):
		fail("trap: no signal in 20s")
	}
}

// forkBomb starts copies of sleeper (argv[0] = marker) until fork fails or
// max are running, kills four of them to make room for its own threads,
// prints {"forked": n, "err": errno}, and exits 0 leaving the rest behind.
func forkBomb(sleeper, marker string, max int) {
	var pids []int
	var ferr error
	attr := &syscall.ProcAttr{Files: []uintptr{}}
	for len(pids) < max {
		pid, err := syscall.ForkExec(sleeper, []string{marker, "1000"}, attr)
		if err != nil {
			ferr = err
			break
		}
		pids = append(pids, pid)
	}
	for i := 0; i < 4 && i < len(pids); i++ {
		var ws syscall.WaitStatus
		syscall.Kill(pids[i], syscall.SIGKILL)
		syscall.Wait4(pids[i], &ws, 0, nil)
	}
	emit(map[string]any{"forked": len(pids), "err": errName(ferr)})
	os.Exit(0)
}

// alloc allocates and touches mib MiB, one at a time, then exits 0.
func alloc(mib int) {
	var keep [][]byte
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	emit(map[string]int{"allocatedMiB": len(keep)})
	os.Exit(0)
}

// deniedSyscalls tries each system call the default seccomp profile must
// deny. The arguments are chosen so that, when the call does reach the
// kernel, it fails harmlessly with an errno other than EPERM where the
// kernel allows that (noted per call); the tests compare the default
// profile with "unconfined".
func deniedSyscalls() map[string]string {
	path := []byte("/nonexistent-probe\x00")
	pp := uintptr(unsafe.Pointer(&path[0]))
	c := byte('x')
	calls := []struct {
		name string
		nr   uintptr
		args [6]uintptr
	}{
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{9999}},                                                         // EOPNOTSUPP: unknown command
		{"add_key", unix.SYS_ADD_KEY, [6]uintptr{1}},                                                          // EFAULT: bad type pointer
		{"bpf", unix.SYS_BPF, [6]uintptr{9999}},                                                               // EINVAL: unknown command
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, ^uintptr(0), ^uintptr(0)}},             // EFAULT: NULL attr
		{"userfaultfd", unix.SYS_USERFAULTFD, [6]uintptr{3}},                                                  // EINVAL: UFFD_USER_MODE_ONLY|unknown flag
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{1, 0}},                                         // EFAULT: NULL params
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{0, 0, 0, 0xdead0001}},                                  // EPERM (CAP_SYS_BOOT), else EINVAL
		{"init_module", unix.SYS_INIT_MODULE, [6]uintptr{0, 0, pp}},                                           // EPERM (CAP_SYS_MODULE)
		{"finit_module", unix.SYS_FINIT_MODULE, [6]uintptr{^uintptr(0), pp, 0}},                               // EPERM (CAP_SYS_MODULE)
		{"mount", unix.SYS_MOUNT, [6]uintptr{0, pp, 1}},                                                       // EFAULT: bad type pointer
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{pp, 0x80000000}},                                             // EINVAL: unknown flag
		{"pivot_root", unix.SYS_PIVOT_ROOT, [6]uintptr{pp, pp}},                                               // EPERM (CAP_SYS_ADMIN)
		{"unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER}},                          // EINVAL: multithreaded
		{"clone3(CLONE_NEWUSER)", unix.SYS_CLONE3, [6]uintptr{1, 88}},                                         // EFAULT: bad pointer
		{"clone(CLONE_NEWUSER)", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWUSER | unix.CLONE_FS}},              // EINVAL: NEWUSER with FS
		{"setns(CLONE_NEWUSER)", unix.SYS_SETNS, [6]uintptr{^uintptr(0), unix.CLONE_NEWUSER}},                 // EBADF: fd -1
		{"io_uring_enter", unix.SYS_IO_URING_ENTER, [6]uintptr{^uintptr(0)}},                                  // EBADF: fd -1
		{"io_uring_register", unix.SYS_IO_URING_REGISTER, [6]uintptr{^uintptr(0)}},                            // EBADF: fd -1
		{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, [6]uintptr{^uintptr(0), ^uintptr(0), 0, 0, 0xdead0000}}, // EPERM (CAP_SYS_BOOT), else EINVAL
		{"ptrace", unix.SYS_PTRACE, [6]uintptr{0x4242, uintptr(os.Getpid())}},                                 // ESRCH: not our tracee
		{"ioctl(TIOCSTI)", unix.SYS_IOCTL, [6]uintptr{0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))}},          // ENOTTY on /dev/null
	}
	out := map[string]string{}
	for _, call := range calls {
		a := call.args
		_, _, e := unix.Syscall6(call.nr, a[0], a[1], a[2], a[3], a[4], a[5])
		if e == 0 {
			out[call.name] = "OK"
		} else {
			out[call.name] = errName(e)
		}
	}
	runtime.KeepAlive(path)
	runtime.KeepAlive(&c)
	return out
}
