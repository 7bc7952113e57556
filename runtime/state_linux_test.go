package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

// writeState makes container id's state directory under root with config
// as its config.
func writeState(t *testing.T, root, id, config string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := `{"id":"` + id + `","bundle":"/b","init":{"pid":1},"config":` + config + `}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The config stays JSON in the state; verbs read a view of it and exec
// the whole of it, both from the same bytes.
func TestLoadConfigView(t *testing.T) {
	root := t.TempDir()
	writeState(t, root, "c", `{"ociVersion":"1.3.0","annotations":{"a":"b"},
		"process":{"terminal":true,"args":["/bin/sh"],"cwd":"/"},
		"hooks":{"startContainer":[{"path":"/bin/true"}]},
		"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}`)
	c, err := Load(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Terminal() || !c.RunsStartHooks() || !c.ownPIDNamespace() || c.view.Annotations["a"] != "b" {
		t.Errorf("view = %+v: want a terminal, a startContainer hook, an own pid namespace and annotation a=b", c.view)
	}
	if got := c.namespaceTypes(); got != unix.CLONE_NEWPID|unix.CLONE_NEWNS {
		t.Errorf("namespaceTypes = %#x, want CLONE_NEWPID|CLONE_NEWNS", got)
	}
	s, err := c.config()
	if err != nil || s.Process == nil || s.Process.Args[0] != "/bin/sh" || len(s.Linux.Namespaces) != 2 {
		t.Fatalf("config() = %+v, %v: want the whole config", s, err)
	}
	p, err := c.ConfigProcess()
	if err != nil || !p.Terminal || p.Args[0] != "/bin/sh" {
		t.Errorf("ConfigProcess() = %+v, %v", p, err)
	}
	// ConfigProcess is a copy: exec changes it, not the container.
	p.Args[0] = "/bin/ls"
	if q, _ := c.ConfigProcess(); q.Args[0] != "/bin/sh" {
		t.Errorf("ConfigProcess shares its args with the state: %q", q.Args[0])
	}
}

// A damaged state is refused when the container is loaded, not later.
func TestLoadDamagedConfig(t *testing.T) {
	root := t.TempDir()
	writeState(t, root, "c", `{"hooks":{"poststop":"not a list"}}`)
	if c, err := Load(root, "c"); err == nil {
		c.Close()
		t.Fatal("Load of a state whose config.hooks.poststop is a string succeeded")
	} else if !strings.Contains(err.Error(), "container c: reading its state") {
		t.Errorf("Load: %v, want it to name the container's state", err)
	}
}

func TestBlameMount(t *testing.T) {
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc"},
		{Destination: "/scratch/", Type: "tmpfs", Options: []string{"nosuid", "size=abc"}},
		{Destination: "/twice", Type: "tmpfs"},
		{Destination: "/twice", Type: "tmpfs"},
	}
	refused := &spawn.Error{Op: "mount tmpfs", Path: "/scratch", Err: unix.EINVAL}
	err := blameMount(mounts, refused)
	want := `config.json: mounts[1] (tmpfs on /scratch/, options "nosuid,size=abc"): spawn: mount tmpfs "/scratch": invalid argument`
	if err.Error() != want || !errors.Is(err, unix.EINVAL) {
		t.Errorf("blameMount = %q, want %q (wrapping EINVAL)", err, want)
	}
	// Not a mount step, a destination two mounts share, or none: as it was.
	for _, e := range []error{
		&spawn.Error{Op: "chdir", Path: "/scratch", Err: unix.ENOENT},
		&spawn.Error{Op: "mount tmpfs", Path: "/twice", Err: unix.EINVAL},
		&spawn.Error{Op: "bind /x on", Path: "/elsewhere", Err: unix.ENOENT},
		unix.EPERM,
	} {
		if got := blameMount(mounts, e); got != e {
			t.Errorf("blameMount(%v) = %v, want it unchanged", e, got)
		}
	}
}
