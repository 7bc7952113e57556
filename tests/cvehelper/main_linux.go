//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command cvehelper is the program the CVE tests (tests/cve_linux_test.go)
// run inside containers, as an attacker would: it is built statically
// (CGO_ENABLED=0) so that the BusyBox root can run it, prints one JSON
// object per command, and takes several commands separated by "--"; "-o
// FILE" first sends its output to FILE.
//
// Go 1.25's runtime reads the container's CPU limit at start-up and keeps
// those cgroup files open to notice changes; the helper counts every fd
// the runtime left it, so its go:debug lines ask for neither.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const oPath = 0x200000 // O_PATH on amd64 and arm64

// startFDs are the descriptors open when the program started, before it
// opened anything.
var startFDs = listFDs()

var out io.Writer = os.Stdout

func main() {
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == "-o" {
		f, err := os.Create(args[1])
		if err != nil {
			fail("%v", err)
		}
		defer f.Close()
		out, args = f, args[2:]
	}
	for len(args) > 0 {
		n := 0
		for n < len(args) && args[n] != "--" {
			n++
		}
		if n > 0 {
			run(args[0], args[1:n])
		}
		if n < len(args) {
			n++
		}
		args = args[n:]
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "helper: "+format+"\n", args...)
	os.Exit(99)
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("%v", err)
	}
	out.Write(append(b, '\n'))
}

func num(args []string, i int) uint64 {
	if i >= len(args) {
		fail("missing argument %d", i)
	}
	n, err := strconv.ParseUint(args[i], 10, 64)
	if err != nil {
		fail("%v", err)
	}
	return n
}

func run(cmd string, args []string) {
	switch cmd {
	case "fds":
		emit(fdsReport())
	case "stat":
		m := map[string]Stat{}
		for _, p := range args {
			m[p] = statPath(p)
		}
		emit(m)
	case "openw": // open for writing, write nothing
		m := map[string]string{}
		for _, p := range args {
			fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
			if err == nil {
				syscall.Close(fd)
			}
			m[p] = errName(err)
		}
		emit(m)
	case "write": // append "pwned" to an existing file
		m := map[string]string{}
		for _, p := range args {
			fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
			if err == nil {
				_, err = syscall.Write(fd, []byte("pwned\n"))
				syscall.Close(fd)
			}
			m[p] = errName(err)
		}
		emit(m)
	case "peek":
		emit(peek(num(args, 0), num(args, 1), int(num(args, 2))))
	case "watch":
		if len(args) != 3 {
			fail("usage: watch DEV INO DIR")
		}
		watch(num(args, 0), num(args, 1), args[2])
	default:
		fail("unknown command %q", cmd)
	}
}

var errnoNames = map[syscall.Errno]string{
	syscall.EACCES: "EACCES", syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.EROFS: "EROFS",
	syscall.ETXTBSY: "ETXTBSY", syscall.ESRCH: "ESRCH", syscall.ENOTDIR: "ENOTDIR", syscall.ELOOP: "ELOOP",
	syscall.EISDIR: "EISDIR", syscall.ENXIO: "ENXIO", syscall.EINVAL: "EINVAL", syscall.EBADF: "EBADF",
}

func errName(err error) string {
	if err == nil {
		return "OK"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n, ok := errnoNames[errno]; ok {
			return n
		}
	}
	return err.Error()
}

func readNames(fd int) []string {
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err != nil || n <= 0 {
			return names
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
}

func pids() []int {
	dir, err := syscall.Open("/proc", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		fail("open /proc: %v", err)
	}
	defer syscall.Close(dir)
	var ps []int
	for _, name := range readNames(dir) {
		if p, err := strconv.Atoi(name); err == nil {
			ps = append(ps, p)
		}
	}
	sort.Ints(ps)
	return ps
}

func typeOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFCHR:
		return "char"
	case syscall.S_IFBLK:
		return "block"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	}
	return "other"
}

func major(d uint64) uint32 { return uint32(((d >> 8) & 0xfff) | ((d >> 32) &^ 0xfff)) }
func minor(d uint64) uint32 { return uint32((d & 0xff) | ((d >> 12) &^ 0xff)) }

type Stat struct {
	Exists       bool
	Err          string
	Type         string
	Major, Minor uint32
	Dev, Ino     uint64
	FSMagic      int64
	Size         int64
	Content      string
}

// statPath stats p as the container sees it, following symlinks.
func statPath(p string) Stat {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return Stat{Err: errName(err)}
	}
	s := Stat{Exists: true, Type: typeOf(st.Mode), Dev: st.Dev, Ino: st.Ino, Size: st.Size}
	if s.Type == "char" || s.Type == "block" {
		s.Major, s.Minor = major(st.Rdev), minor(st.Rdev)
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(p, &fs) == nil {
		s.FSMagic = fs.Type
	}
	if s.Type == "file" {
		if fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0); err == nil {
			buf := make([]byte, 256)
			n, _ := syscall.Read(fd, buf)
			if n > 0 {
				s.Content = string(buf[:n])
			}
			syscall.Close(fd)
		}
	}
	return s
}

type FD struct {
	FD       int
	Target   string
	Type     string
	Dev, Ino uint64
}

func listFDs() []FD {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return []FD{{FD: -1, Target: "open /proc/self/fd: " + err.Error()}}
	}
	defer syscall.Close(dir)
	var fds []FD
	for _, name := range readNames(dir) {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == dir {
			continue
		}
		f := FD{FD: fd}
		f.Target, _ = os.Readlink("/proc/self/fd/" + name)
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil {
			f.Type, f.Dev, f.Ino = typeOf(st.Mode), st.Dev, st.Ino
		}
		fds = append(fds, f)
	}
	sort.Slice(fds, func(i, j int) bool { return fds[i].FD < fds[j].FD })
	return fds
}

type FDs struct {
	FDs       []FD
	Exe       string
	Cwd       string
	CwdInRoot bool
	CwdWhy    string
}

func fdsReport() FDs {
	r := FDs{FDs: startFDs}
	r.Exe, _ = os.Readlink("/proc/self/exe")
	r.Cwd, _ = os.Readlink("/proc/self/cwd")
	r.CwdInRoot, r.CwdWhy = cwdInRoot()
	return r
}

// cwdInRoot walks up from the working directory with openat(".."): from
// inside the root it reaches "/"; from a directory outside the root
// (CVE-2024-21626) it ends at another directory that is its own parent.
func cwdInRoot() (bool, string) {
	var root syscall.Stat_t
	if err := syscall.Stat("/", &root); err != nil {
		return false, "stat /: " + err.Error()
	}
	fd, err := syscall.Open(".", oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false, "open .: " + err.Error()
	}
	for i := 0; i < 4096; i++ {
		var st, up syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return false, "fstat: " + err.Error()
		}
		if st.Dev == root.Dev && st.Ino == root.Ino {
			syscall.Close(fd)
			return true, ""
		}
		parent, err := syscall.Openat(fd, "..", oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		syscall.Close(fd)
		if err != nil {
			return false, "open ..: " + err.Error()
		}
		if err := syscall.Fstat(parent, &up); err != nil {
			return false, "fstat: " + err.Error()
		}
		if up.Dev == st.Dev && up.Ino == st.Ino {
			syscall.Close(parent)
			return false, fmt.Sprintf("after %d steps up, reached a directory (dev %d ino %d) that is its own parent but not / (dev %d ino %d)", i, st.Dev, st.Ino, root.Dev, root.Ino)
		}
		fd = parent
	}
	syscall.Close(fd)
	return false, "no root after 4096 steps up"
}

func isFile(fd int, dev, ino uint64) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Dev == dev && st.Ino == ino
}

type Peek struct{ Exe, Mem string }

// peek tries to reach process pid: its exe (PTRACE_MODE_READ) and its
// memory for writing (PTRACE_MODE_ATTACH).
func peek(dev, ino uint64, pid int) Peek {
	dir := "/proc/" + strconv.Itoa(pid)
	var r Peek
	fd, err := syscall.Open(dir+"/exe", oPath|syscall.O_CLOEXEC, 0)
	if err != nil {
		r.Exe = errName(err)
	} else {
		r.Exe = "other"
		if isFile(fd, dev, ino) {
			r.Exe = "runtime"
		}
		syscall.Close(fd)
	}
	m, err := syscall.Open(dir+"/mem", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err == nil {
		syscall.Close(m)
	}
	r.Mem = errName(err)
	return r
}

type Watch struct {
	SelfExe       string
	Loops         int
	Denied        int      // probes of a live process the kernel refused
	DeniedPids    []int    // the pids they were about
	RuntimeSeen   int      // probes that found a process running the runtime's binary
	Runtime       []string // the first of them
	WritableCount int      // opens of the runtime's binary for writing that succeeded
	Writable      []string // the first of them
	MemCount      int      // opens of /proc/PID/mem read-write while PID ran the runtime's binary
	Mem           []string // the pids of the first of them
	OtherWritable []string // another process's program opened for writing
	PidsAtEnd     []int
}

type watcher struct {
	dev, ino uint64
	self     int
	next     int
	seen     map[int]bool
	denied   map[int]bool
	held     []int // O_PATH descriptors of the runtime's binary
	r        Watch
}

// watch is CVE-2019-5736's and CVE-2016-9962's attacker: until DIR/stop
// exists it opens /proc/PID/exe of the container's processes, the next
// pids first, and reports to DIR/report.json.
func watch(dev, ino uint64, dir string) {
	runtime.LockOSThread()
	w := &watcher{dev: dev, ino: ino, self: os.Getpid(), next: 2,
		seen: map[int]bool{}, denied: map[int]bool{}}
	w.r.SelfExe, _ = os.Readlink("/proc/self/exe")
	if err := os.WriteFile(dir+"/ready", nil, 0o644); err != nil {
		fail("%v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.r.Loops++
		from := w.next
		for p := from; p < from+6; p++ {
			w.probe(p, false)
		}
		if w.r.Loops%16 == 0 {
			for _, p := range pids() {
				w.probe(p, true)
			}
			w.reopen()
		}
		if w.r.Loops%256 == 0 {
			var st syscall.Stat_t
			if syscall.Stat(dir+"/stop", &st) == nil || time.Now().After(deadline) {
				break
			}
		}
	}
	w.reopen()
	w.r.PidsAtEnd = pids()
	for p := range w.denied {
		w.r.DeniedPids = append(w.r.DeniedPids, p)
	}
	sort.Ints(w.r.DeniedPids)
	b, err := json.Marshal(w.r)
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(dir+"/report.json.tmp", b, 0o644); err != nil {
		fail("%v", err)
	}
	if err := os.Rename(dir+"/report.json.tmp", dir+"/report.json"); err != nil {
		fail("%v", err)
	}
}

func (w *watcher) done(pid int) {
	if pid >= w.next {
		w.next = pid + 1
	}
}

func (w *watcher) probe(pid int, write bool) {
	if pid == w.self {
		return
	}
	exe := "/proc/" + strconv.Itoa(pid) + "/exe"
	fd, err := syscall.Open(exe, oPath|syscall.O_CLOEXEC, 0)
	if err == syscall.ENOENT || err == syscall.ESRCH {
		if w.seen[pid] {
			w.done(pid)
		}
		return
	}
	w.seen[pid] = true
	if err != nil {
		w.r.Denied++
		w.denied[pid] = true
		return
	}
	if isFile(fd, w.dev, w.ino) {
		w.caught(pid, exe, fd)
		return
	}
	syscall.Close(fd)
	w.done(pid)
	if write {
		w.openWrite(exe)
	}
}

func (w *watcher) caught(pid int, exe string, fd int) {
	w.r.RuntimeSeen++
	if len(w.r.Runtime) < 8 {
		target, _ := os.Readlink(exe)
		w.r.Runtime = append(w.r.Runtime, fmt.Sprintf("pid %d: %s", pid, target))
	}
	mem, err := syscall.Open("/proc/"+strconv.Itoa(pid)+"/mem", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err == nil {
		// Still the runtime after the open: the descriptor is its memory.
		if again, err := syscall.Open(exe, oPath|syscall.O_CLOEXEC, 0); err == nil {
			if isFile(again, w.dev, w.ino) {
				w.r.MemCount++
				if len(w.r.Mem) < 4 {
					w.r.Mem = append(w.r.Mem, fmt.Sprintf("/proc/%d/mem opened read-write%s", pid, w.readELF(pid, mem)))
				}
			}
			syscall.Close(again)
		}
		syscall.Close(mem)
	}
	w.openWrite(exe)
	if len(w.held) < 16 {
		w.held = append(w.held, fd)
	} else {
		syscall.Close(fd)
	}
}

// readELF reads, through mem, the first bytes of the runtime's binary as
// mapped in process pid (its maps line with the binary's inode and
// offset 0): proof that the descriptor reaches the runtime's memory.
func (w *watcher) readELF(pid, mem int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[2] != "00000000" || f[4] != strconv.FormatUint(w.ino, 10) {
			continue
		}
		start, _, _ := strings.Cut(f[0], "-")
		addr, err := strconv.ParseUint(start, 16, 64)
		if err != nil {
			return ""
		}
		buf := make([]byte, 4)
		if n, err := syscall.Pread(mem, buf, int64(addr)); err == nil && n == 4 {
			return fmt.Sprintf(", read %q at %#x, the start of the runtime's binary in its memory", buf, addr)
		}
		return ""
	}
	return ""
}

// openWrite opens a program for writing and closes it at once, writing
// nothing.
func (w *watcher) openWrite(exe string) {
	fd, err := syscall.Open(exe, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	rt := isFile(fd, w.dev, w.ino)
	syscall.Close(fd)
	if rt {
		w.writable(exe + " opened with O_WRONLY")
	} else if len(w.r.OtherWritable) < 8 {
		w.r.OtherWritable = append(w.r.OtherWritable, exe)
	}
}

// reopen tries to reopen each held descriptor of the runtime's binary for
// writing through /proc/self/fd, as the CVE-2019-5736 exploits do once
// the runtime has exited.
func (w *watcher) reopen() {
	keep := w.held[:0]
	for _, fd := range w.held {
		wfd, err := syscall.Open("/proc/self/fd/"+strconv.Itoa(fd), syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			keep = append(keep, fd)
			continue
		}
		syscall.Close(wfd)
		syscall.Close(fd)
		w.writable("an O_PATH descriptor of the runtime's binary reopened with O_WRONLY through /proc/self/fd")
	}
	w.held = keep
}

func (w *watcher) writable(how string) {
	w.r.WritableCount++
	if len(w.r.Writable) < 4 {
		w.r.Writable = append(w.r.Writable, how)
	}
}
