package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/runtime/cgroup"
	"sbx.dev/sbx/spawn"
)

// The errors callers match by text (go-runc, podman): keep the words.
var (
	// ErrNotExist: `container X does not exist`.
	ErrNotExist = errors.New("does not exist")
	// ErrNotRunning: `container X is not running` (go-runc matches
	// "container not running" too; both phrases are in the message).
	ErrNotRunning = errors.New("container not running")
	// ErrPaused: `cannot exec in a paused container`, runc's words: the
	// new process would freeze before its exec, holding the container's
	// lock, until a resume that the lock keeps out.
	ErrPaused = errors.New("cannot exec in a paused container; resume it first")
)

// OCI statuses (runtime-spec "State").
const (
	StatusCreating = specs.StateCreating
	StatusCreated  = specs.StateCreated
	StatusRunning  = specs.StateRunning
	StatusStopped  = specs.StateStopped
	StatusPaused   = specs.ContainerState("paused") // runc's extension, which containerd and podman know
)

// stateFile is what sbx keeps of a container in <root>/<id>/state.json.
type stateFile struct {
	ID      string         `json:"id"`
	Bundle  string         `json:"bundle"`
	Created time.Time      `json:"created"`
	Owner   int            `json:"owner"`
	Init    spawn.Identity `json:"init"`
	// Started is set by start once it has opened the gate (see status).
	Started bool        `json:"started"`
	Cgroup  *cgroup.Ref `json:"cgroup,omitempty"`
	// Config is the bundle's config.json as create read it, with
	// root.path made absolute: later verbs do not read the bundle again.
	// It stays JSON here: most verbs read only configView, and decoding a
	// whole specs.Spec costs a fresh process about 1.5 ms more (the time
	// encoding/json takes to build its tables for the spec's many types),
	// a tenth of a `start` or a `delete`.
	Config json.RawMessage `json:"config"`
}

// configView is the part of the config that verbs other than create and
// exec read.
type configView struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Process     *struct {
		Terminal bool `json:"terminal,omitempty"`
	} `json:"process,omitempty"`
	Linux *struct {
		Namespaces []specs.LinuxNamespace `json:"namespaces,omitempty"`
	} `json:"linux,omitempty"`
}

// Container is one container's state directory, locked for the life of
// the value (Close unlocks).
type Container struct {
	dir  string
	lock *os.File
	st   stateFile
	view configView     // decoded from st.Config
	spec *specs.Spec    // the whole of st.Config, once decoded (config)
	proc *spawn.Process // the process, when this sbx created it (its parent)
	cg   *cgroup.Group  // the cgroup, once reopened
}

// idChar reports whether r may appear in a container id.
func idChar(r rune) bool {
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_+-.", r))
}

func checkID(id string) error {
	if id == "" || strings.IndexFunc(id, func(r rune) bool { return !idChar(r) }) >= 0 || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: letters, digits, '_', '+', '-' and '.' only", id)
	}
	return nil
}

// DefaultRoot is where state lives without --root: /run/sbx, or
// $XDG_RUNTIME_DIR/sbx for an unprivileged user.
//
// XDG_RUNTIME_DIR is taken when sbx is not root over the host: not uid 0,
// or uid 0 of a user namespace other than the host's (rootless podman runs
// its runtime so, without --root) unless USER says it is root there, as
// runc decides. Root of the host keeps /run/sbx, whatever XDG_RUNTIME_DIR
// says (/run/user/0).
func DefaultRoot() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && Rootless() {
		if user, ok := os.LookupEnv("USER"); os.Geteuid() != 0 || !ok || user != "root" {
			return filepath.Join(d, "sbx")
		}
	}
	return "/run/sbx"
}

// Rootless tells whether sbx runs without root's privileges over the
// host: as another uid, or as uid 0 of a user namespace other than the
// host's (inside rootless podman's, say).
func Rootless() bool { return os.Geteuid() != 0 || userns.RunningInUserNS() }

// lockDir takes the container's lock, waiting for other verbs on it; only
// Create, in the directory it has just made, makes the lock file (create).
//
// The lock held is the one at dir/lock once it is held: while a verb
// waited, a delete may have removed the directory, and a create made
// another container of the same id, whose lock is another file. A verb
// that made the lock file there again, or went on with the old one, could
// remove the new container's state or read it before it is written.
func lockDir(dir string, create bool) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	flags := os.O_RDONLY | unix.O_CLOEXEC
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	for {
		f, err := os.OpenFile(path, flags, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		var held, now unix.Stat_t
		errHeld, errNow := unix.Fstat(int(f.Fd()), &held), unix.Stat(path, &now)
		if errHeld == nil && errNow == nil && held.Dev == now.Dev && held.Ino == now.Ino {
			return f, nil
		}
		f.Close()
		if create || errHeld != nil {
			return nil, fmt.Errorf("lock %s: changed while it was taken", path)
		}
		// Gone, or another container's now: take that one's, or find
		// none (ENOENT) on the next turn.
	}
}

// Load opens container id under root and locks it.
func Load(root, id string) (*Container, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	lock, err := lockDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir, lock: lock}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("container %s %w (its creation did not finish)", id, ErrNotExist)
	}
	if err == nil {
		err = json.Unmarshal(b, &c.st)
	}
	if err == nil {
		err = json.Unmarshal(c.st.Config, &c.view)
	}
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("container %s: reading its state: %w", id, err)
	}
	return c, nil
}

// Close releases the container's lock.
func (c *Container) Close() error {
	if c.proc != nil {
		c.proc.Close()
	}
	return c.lock.Close()
}

// ConfigProcess is a copy of the container's process section, the base
// of `sbx exec` without --process.
func (c *Container) ConfigProcess() (*specs.Process, error) {
	var v struct {
		Process specs.Process `json:"process"`
	}
	if err := json.Unmarshal(c.st.Config, &v); err != nil {
		return nil, fmt.Errorf("container %s: reading its config: %w", c.st.ID, err)
	}
	return &v.Process, nil
}

// Terminal tells whether the container's process has a terminal.
func (c *Container) Terminal() bool { return c.view.Process != nil && c.view.Process.Terminal }

// config is the container's whole config, decoded on first use.
func (c *Container) config() (*specs.Spec, error) {
	if c.spec == nil {
		var s specs.Spec
		if err := json.Unmarshal(c.st.Config, &s); err != nil {
			return nil, fmt.Errorf("container %s: reading its config: %w", c.st.ID, err)
		}
		c.spec = &s
	}
	return c.spec, nil
}

// warn logs what goes wrong without failing the verb (a poststart hook).
func warn(format string, args ...any) { slog.Warn(fmt.Sprintf(format, args...)) }

// ID is the container's id.
func (c *Container) ID() string { return c.st.ID }

// RunsStartHooks tells whether Start runs startContainer hooks, which start
// processes in the container's namespaces.
func (c *Container) RunsStartHooks() bool {
	h := c.view.Hooks
	return h != nil && len(h.StartContainer) > 0
}

// save writes the state file atomically.
func (c *Container) save() error {
	b, err := json.Marshal(&c.st)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(c.dir, "state.json"), b, 0o600)
}

// writeAtomic writes a file so that readers see the old or the new
// content, never a part.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// List returns the ids of the containers under root.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && checkID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// TakeProcess hands the process over to a caller that created the
// container in this sbx (`sbx run` in the foreground), nil otherwise.
func (c *Container) TakeProcess() *spawn.Process {
	p := c.proc
	c.proc = nil
	return p
}

// Created is when the container was created.
func (c *Container) Created() time.Time { return c.st.Created }

// Owner is the uid that created the container.
func (c *Container) Owner() int { return c.st.Owner }

// cgroupFile names, in a container's state directory, its cgroup while
// it is being created: what RemoveLeftover kills and removes after a
// create that did not finish (killed, say), before state.json has it.
const cgroupFile = "cgroup.json"

// RemoveLeftover removes what a create that never finished (its sbx was
// killed) left of container id: the processes in its cgroup and the
// cgroup, when it had made one (cgroupFile), and its state directory, all
// under the container's lock. A container whose creation finished is left
// alone.
func RemoveLeftover(root, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	dir := filepath.Join(root, id)
	lock, err := lockDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, cgroupFile)); err == nil {
		var ref cgroup.Ref
		if err := json.Unmarshal(b, &ref); err != nil {
			return fmt.Errorf("container %s: reading its %s: %w", id, cgroupFile, err)
		}
		if cg, err := cgroup.Load(ref); err == nil {
			cg.Kill()
			if err := cg.Delete(); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(dir)
}
