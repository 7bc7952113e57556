package spawn

import (
	"os"
	"os/exec"
	"runtime/debug"
	"syscall"
	"testing"
)

// ballast is dirty heap the benchmark process holds, so that a start whose
// cost grows with the parent's memory (fork's page-table copy) shows it.
var ballast []byte

func setHeap(mib int) {
	ballast = nil
	debug.FreeOSMemory() // heap=0 must not keep the last run's pages
	if mib == 0 {
		return
	}
	ballast = make([]byte, mib<<20)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
}

// BenchmarkStart measures start+wait of /bin/true: spawn without and with
// a user namespace (and all the others), against os/exec with
// CLONE_NEWUSER, which falls back to a copying clone.
func BenchmarkStart(b *testing.B) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	variants := []struct {
		name  string
		start func() error
	}{
		{"spawn", func() error { return startWait(&Cmd{Path: "/bin/true"}) }},
		{"spawn-userns", func() error {
			return startWait(&Cmd{Path: "/bin/true", Linux: &Linux{Namespaces: allCloneFlags,
				UIDMappings: []IDMap{{0, uid, 1}}, GIDMappings: []IDMap{{0, gid, 1}}, DenySetgroups: true}})
		}},
		{"osexec-userns", func() error {
			c := exec.Command("/bin/true")
			c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(uid), Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(gid), Size: 1}}}
			return c.Run()
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			for _, mib := range []int{0, 1024} {
				setHeap(mib)
				b.Run("heap="+itoa(mib)+"MiB", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if err := v.start(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			setHeap(0)
		})
	}
}

func startWait(c *Cmd) error {
	p, err := c.Start()
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = p.Wait()
	return err
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
