package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkNewAddDelete times what sbx run spends on its cgroup on this
// host: New with memory and pids limits, the sandbox's process joining
// it, Delete once the process has left. It reports each phase too.
//
//   - add: the parent writes the pid to cgroup.procs (Add), as sbx run
//     does today on v1;
//   - join: a single-threaded child writes "0" to the TaskFiles.
//
// "cold" pauses 100 ms between iterations, untimed, so that every join
// finds the kernel's cgroup_threadgroup_rwsem idle, as a fresh sbx run
// does; the first cgroup.procs write then waits for an RCU grace period.
// "warm" does not pause: back-to-back moves share one grace period.
func BenchmarkNewAddDelete(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, way := range []string{"add", "join"} {
		for _, pause := range []time.Duration{0, 100 * time.Millisecond} {
			name := way + "/warm"
			if pause > 0 {
				name = way + "/cold"
			}
			b.Run(name, func(b *testing.B) { benchJoin(b, way, pause) })
		}
	}
}

func benchJoin(b *testing.B, way string, pause time.Duration) {
	limit, pids := int64(256<<20), int64(512)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: &pids}}
	var tNew, tJoin, tDel time.Duration
	for b.Loop() {
		b.StopTimer()
		time.Sleep(pause)
		b.StartTimer()
		t0 := time.Now()
		g, err := New("", r)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var d time.Duration
		if way == "add" {
			d = benchAdd(b, g)
		} else {
			d = benchTaskFiles(b, g)
		}
		tNew, tJoin = tNew+t1.Sub(t0), tJoin+d
		t2 := time.Now()
		if err := g.Delete(); err != nil {
			b.Fatal(err)
		}
		tDel += time.Since(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tNew.Microseconds())/n, "new-µs/op")
	b.ReportMetric(float64(tJoin.Microseconds())/n, "join-µs/op")
	b.ReportMetric(float64(tDel.Microseconds())/n, "delete-µs/op")
}

// benchAdd moves a sleeping process in with Add, timed, and out again,
// untimed.
func benchAdd(b *testing.B, g *Group) time.Duration {
	b.StopTimer()
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	b.StartTimer()
	start := time.Now()
	if err := g.Add(cmd.Process.Pid); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	b.StopTimer()
	pid := []byte(strconv.Itoa(cmd.Process.Pid))
	for _, dir := range g.dirs {
		os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.procs"), pid, 0)
	}
	b.StartTimer()
	return d
}

// benchTaskFiles has a shell, started untimed, join through TaskFiles,
// timed, and exit, untimed.
func benchTaskFiles(b *testing.B, g *Group) time.Duration {
	start := time.Now()
	files, err := g.TaskFiles()
	if err != nil {
		b.Fatal(err)
	}
	opened := time.Since(start)
	b.StopTimer()
	var script strings.Builder
	script.WriteString("read x; ")
	for i := range files {
		fmt.Fprintf(&script, "echo 0 >&%d; ", 3+i)
	}
	script.WriteString("echo joined")
	cmd := exec.Command("/bin/sh", "-c", script.String())
	cmd.ExtraFiles = files
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start = time.Now()
	io.WriteString(in, "go\n")
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "joined\n" {
		b.Fatalf("sh said %q", line)
	}
	d := time.Since(start)
	b.StopTimer()
	in.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return opened + d
}
