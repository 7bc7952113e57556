package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

// IDMapped makes, in the calling process, the id-mapped bind mounts of
// spec (options "idmap", "ridmap", or uidMappings and gidMappings on the
// mount): for each, a detached clone of the source (open_tree) given the
// mapping (mount_setattr MOUNT_ATTR_IDMAP), keyed by the mount's index in
// spec.Mounts. It is the one part of the plan made outside the child: the
// child, root only in its own user namespace, cannot id-map a filesystem
// that belongs to the host's. It can attach the result, which
// Options.IDMapped hands it. The caller closes the files once the child
// has started (or on failure); IDMapped closes them itself on error.
//
// A mount without mappings of its own takes the container's
// (linux.uidMappings and gidMappings), as runc does. Making one needs root:
// the mapping is a user namespace that someone must be allowed to write.
func IDMapped(spec *specs.Spec) (_ map[int]*os.File, err error) {
	mounts := map[int]*os.File{}
	defer func() {
		if err != nil {
			for _, f := range mounts {
				f.Close()
			}
		}
	}()
	userns := map[string]*os.File{} // one namespace per distinct mapping
	defer func() {
		for _, f := range userns {
			f.Close()
		}
	}()
	for i, m := range spec.Mounts {
		o, err := parseOptions(m.Options)
		if err != nil || !o.idmapped(m) {
			continue // Setup reports bad options
		}
		f, err := idmapMount(spec, m, o, userns)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		mounts[i] = f
	}
	return mounts, nil
}

// idmapped reports whether m asks for an id-mapped mount.
func (o *mountOptions) idmapped(m specs.Mount) bool {
	return o.idmap || len(m.UIDMappings)+len(m.GIDMappings) > 0
}

func idmapMount(spec *specs.Spec, m specs.Mount, o *mountOptions, userns map[string]*os.File) (*os.File, error) {
	if !o.bind && m.Type != "bind" {
		return nil, errors.New("id-mapped mounts are bind mounts only (add \"bind\" or \"rbind\")")
	}
	uids, gids := m.UIDMappings, m.GIDMappings
	if len(uids)+len(gids) == 0 && spec.Linux != nil {
		uids, gids = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	if len(uids) == 0 || len(gids) == 0 {
		return nil, errors.New("an id-mapped mount needs both uidMappings and gidMappings, on the mount or on the container's user namespace (linux.uidMappings, linux.gidMappings)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("id-mapped mounts need root: mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN over the source's filesystem")
	}
	if !filepath.IsAbs(m.Source) {
		return nil, fmt.Errorf("bind source %q is not absolute", m.Source)
	}
	key := fmt.Sprint(uids, gids)
	ns := userns[key]
	if ns == nil {
		var err error
		if ns, err = spawn.UserNamespace(idMaps(uids), idMaps(gids)); err != nil {
			return nil, fmt.Errorf("user namespace for the id mapping: %w", err)
		}
		userns[key] = ns
	}
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if o.recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, uint(flags))
	if err != nil {
		return nil, fmt.Errorf("bind source: open_tree %s: %w", m.Source, err)
	}
	f := os.NewFile(uintptr(fd), m.Source)
	at := unix.AT_EMPTY_PATH
	if o.idmapRecursive {
		at |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(fd, "", uint(at), &attr); err != nil {
		f.Close()
		if err == unix.EINVAL {
			return nil, fmt.Errorf("mount_setattr(MOUNT_ATTR_IDMAP) %s: %w (its filesystem may not support id-mapped mounts, or a mount under it, with ridmap)", m.Source, err)
		}
		return nil, fmt.Errorf("mount_setattr(MOUNT_ATTR_IDMAP) %s: %w", m.Source, err)
	}
	return f, nil
}

func idMaps(ms []specs.LinuxIDMapping) []spawn.IDMap {
	out := make([]spawn.IDMap, len(ms))
	for i, m := range ms {
		out[i] = spawn.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size}
	}
	return out
}
