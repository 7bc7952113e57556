package runtime

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

// writeState makes container id's state directory under root, with its
// lock and config as its config.
func writeState(t *testing.T, root, id, config string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := `{"id":"` + id + `","bundle":"/b","init":{"pid":1},"config":` + config + `}`
	for name, content := range map[string]string{"state.json": state, "lock": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
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
}

// Damage to what every verb reads (the view) is refused when the
// container is loaded; damage elsewhere only when exec decodes the whole
// config, so that kill and delete still work.
func TestLoadDamagedConfig(t *testing.T) {
	root := t.TempDir()
	writeState(t, root, "c", `{"hooks":{"poststop":"not a list"}}`)
	if c, err := Load(root, "c"); err == nil {
		c.Close()
		t.Fatal("Load of a state whose config.hooks.poststop is a string succeeded")
	} else if !strings.Contains(err.Error(), "container c: reading its state") {
		t.Errorf("Load: %v, want it to name the container's state", err)
	}
	writeState(t, root, "d", `{"linux":{"namespaces":[{"type":"pid"}],"seccomp":"not an object"}}`)
	c, err := Load(root, "d")
	if err != nil {
		t.Fatalf("Load of a state damaged outside the view: %v", err)
	}
	defer c.Close()
	if !c.ownPIDNamespace() {
		t.Error("the view of a state damaged elsewhere lost its pid namespace")
	}
	if _, err := c.config(); err == nil || !strings.Contains(err.Error(), "container d: reading its config") {
		t.Errorf("config() of a state whose linux.seccomp is a string: %v, want an error naming the container's config", err)
	}
}

// A state written by sbx before the config stayed JSON (json.Marshal of
// the whole specs.Spec) loads the same.
func TestLoadMarshaledSpec(t *testing.T) {
	root := t.TempDir()
	old := specs.Spec{Version: "1.2.0", Annotations: map[string]string{"k": "v"},
		Root:    &specs.Root{Path: "/b/rootfs"},
		Process: &specs.Process{Terminal: true, Args: []string{"/bin/true"}, Cwd: "/"},
		Hooks:   &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}}}}
	b, err := json.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, root, "c", string(b))
	c, err := Load(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.config()
	if err != nil || !reflect.DeepEqual(*s, old) {
		t.Errorf("config() = %+v, %v; want %+v", s, err, old)
	}
	if !c.Terminal() || !c.ownPIDNamespace() || c.view.Annotations["k"] != "v" || len(c.view.Hooks.Poststop) != 1 {
		t.Errorf("view = %+v: want the terminal, the pid namespace, annotation k=v and one poststop hook", c.view)
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
	// Its mount point too.
	if err := blameMount(mounts, &spawn.Error{Op: "create mount point", Path: "/scratch", Err: unix.EROFS}); !strings.HasPrefix(err.Error(), "config.json: mounts[1] ") {
		t.Errorf("blameMount of its mount point = %q, want it to name mounts[1]", err)
	}
	// Not a step of that mount (a /dev node bound there, say), a
	// destination two mounts share, or none: as it was.
	for _, e := range []error{
		&spawn.Error{Op: "chdir", Path: "/scratch", Err: unix.ENOENT},
		&spawn.Error{Op: "bind device", Path: "/scratch", Err: unix.ENOENT},
		&spawn.Error{Op: "mount proc", Path: "/scratch", Err: unix.EINVAL},
		&spawn.Error{Op: "mount tmpfs", Path: "/twice", Err: unix.EINVAL},
		&spawn.Error{Op: "bind /x on", Path: "/elsewhere", Err: unix.ENOENT},
		unix.EPERM,
	} {
		if got := blameMount(mounts, e); got != e {
			t.Errorf("blameMount(%v) = %v, want it unchanged", e, got)
		}
	}
}

// An ambient capability the kernel would not raise is dropped with a
// warning that names it.
func TestAmbientWarning(t *testing.T) {
	var logged strings.Builder
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	c, err := capabilities(&specs.LinuxCapabilities{
		Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Permitted: []string{"CAP_KILL", "CAP_CHOWN"},
		Inheritable: []string{"CAP_CHOWN"}, Ambient: []string{"CAP_KILL", "CAP_CHOWN"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ambient != 1<<unix.CAP_CHOWN {
		t.Errorf("ambient = %#x, want CAP_CHOWN only", c.Ambient)
	}
	if want := "process.capabilities.ambient: CAP_KILL not both permitted and inheritable"; !strings.Contains(logged.String(), want) {
		t.Errorf("logged %q, want %q", logged.String(), want)
	}
}

// A verb that waited for a container's lock while a delete removed it and
// a create made another of the same id takes the new container's lock,
// after that create lets it go; it took the deleted one's, and went on
// (or removed the new state directory) while the create still ran.
func TestLockFollowsRecreatedContainer(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "c")
	first, err := newStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	type taken struct {
		f   *os.File
		err error
	}
	got := make(chan taken, 1)
	go func() {
		f, err := lockDir(dir, false)
		got <- taken{f, err}
	}()
	time.Sleep(50 * time.Millisecond) // the waiter blocks in flock
	// delete, then create, while the waiter waits.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	second, err := newStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	select {
	case w := <-got:
		t.Fatalf("the waiter went on while the new container was locked (err %v)", w.err)
	case <-time.After(200 * time.Millisecond):
	}
	second.Close()
	w := <-got
	if w.err != nil {
		t.Fatalf("lockDir: %v", w.err)
	}
	defer w.f.Close()
	var held, now unix.Stat_t
	unix.Fstat(int(w.f.Fd()), &held)
	if err := unix.Stat(filepath.Join(dir, "lock"), &now); err != nil || held.Ino != now.Ino {
		t.Errorf("the waiter holds lock inode %d; the container's is %d (%v)", held.Ino, now.Ino, err)
	}
}

// Only create makes a lock file: a verb that found none (the state
// directory half removed, or half made by an sbx before this one) made
// one again, and a delete's RemoveAll then failed on a directory that was
// not empty, leaving an id nothing could use.
func TestLoadMakesNoLock(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "c"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load of a state directory without a lock: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(root, "c", "lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load made a lock file: %v", err)
	}
	if err := RemoveLeftover(root, "c"); err != nil {
		t.Errorf("RemoveLeftover: %v", err)
	}
	// newStateDir refuses an id taken, even by a directory without a lock.
	if _, err := newStateDir(filepath.Join(root, "c")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("newStateDir over an existing directory: %v, want already exists", err)
	}
	// It leaves nothing of its own then; List sees only ids.
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("the root holds %d entries, want only c", len(entries))
	}
}
