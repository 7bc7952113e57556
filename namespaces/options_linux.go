package namespaces

import (
	"fmt"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountOptions are OCI mount options (mount(8) words) sorted into what
// the new mount API takes: attributes for fsmount/mount_setattr, on the
// mount itself (set, clr) or on it and everything under it (rset, rclr:
// runc's "rro"-style options), propagation, and fsconfig data.
type mountOptions struct {
	bind, recursive bool
	// idmap: an id-mapped bind ("idmap"); idmapRecursive maps the
	// mounts under it too ("ridmap").
	idmap, idmapRecursive bool
	// copyUp: "tmpcopyup" (runc's and crun's extension), a tmpfs the
	// caller fills with what the image has at its destination while the
	// child is paused (CopyUp).
	copyUp        bool
	set, clr      uint64
	rset, rclr    uint64
	propagation   uint64
	propRecursive bool
	data          []string
}

// attrOptions: option → attributes it sets and clears.
var attrOptions = map[string][2]uint64{
	"ro":          {unix.MOUNT_ATTR_RDONLY, 0},
	"rw":          {0, unix.MOUNT_ATTR_RDONLY},
	"nosuid":      {unix.MOUNT_ATTR_NOSUID, 0},
	"suid":        {0, unix.MOUNT_ATTR_NOSUID},
	"nodev":       {unix.MOUNT_ATTR_NODEV, 0},
	"dev":         {0, unix.MOUNT_ATTR_NODEV},
	"noexec":      {unix.MOUNT_ATTR_NOEXEC, 0},
	"exec":        {0, unix.MOUNT_ATTR_NOEXEC},
	"nodiratime":  {unix.MOUNT_ATTR_NODIRATIME, 0},
	"diratime":    {0, unix.MOUNT_ATTR_NODIRATIME},
	"nosymfollow": {unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
	"symfollow":   {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
	// The access-time mode is one field: setting one clears the others.
	"noatime":     {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"relatime":    {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"strictatime": {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
}

var propagationOptions = map[string]uint64{
	"private": unix.MS_PRIVATE, "slave": unix.MS_SLAVE,
	"shared": unix.MS_SHARED, "unbindable": unix.MS_UNBINDABLE,
}

// unsupportedOptions have no equivalent in the new mount API; they are
// refused rather than dropped.
var unsupportedOptions = map[string]bool{
	"sync": true, "async": true, "dirsync": true, "mand": true, "nomand": true,
	"remount": true, "lazytime": true, "nolazytime": true, "silent": true,
	"loud": true, "iversion": true, "noiversion": true,
}

func parseOptions(opts []string) (*mountOptions, error) {
	o := &mountOptions{}
	for _, opt := range opts {
		if err := o.add(opt); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *mountOptions) add(opt string) error {
	switch {
	case opt == "bind":
		o.bind = true
	case opt == "rbind":
		o.bind, o.recursive = true, true
	case opt == "idmap":
		o.idmap = true
	case opt == "ridmap":
		o.idmap, o.idmapRecursive = true, true
	case opt == "defaults":
	case opt == "tmpcopyup":
		o.copyUp = true
	case unsupportedOptions[opt]:
		return fmt.Errorf("option %q is not supported", opt)
	case strings.Contains(opt, "="):
		o.data = append(o.data, opt)
	default:
		return o.addWord(opt)
	}
	return nil
}

func (o *mountOptions) addWord(opt string) error {
	if a, ok := attrOptions[opt]; ok {
		o.set, o.clr = o.set&^a[1]|a[0], o.clr&^a[0]|a[1]
		return nil
	}
	if p, ok := propagationOptions[opt]; ok {
		o.propagation = p
		return nil
	}
	rest, recursive := strings.CutPrefix(opt, "r")
	if p, ok := propagationOptions[rest]; ok && recursive {
		o.propagation, o.propRecursive = p, true
		return nil
	}
	if a, ok := attrOptions[rest]; ok && recursive {
		o.rset, o.rclr = o.rset&^a[1]|a[0], o.rclr&^a[0]|a[1]
		return nil
	}
	// A filesystem flag such as devpts's "newinstance"; fsconfig(2)
	// refuses one the filesystem does not know.
	o.data = append(o.data, opt)
	return nil
}

// CopyUps are the destinations of spec's tmpfs mounts with the option
// "tmpcopyup", in order: their caller must copy into each, while the
// child is paused (Options.Pause) with its mounts made, what the image
// has there (runc's and crun's extension, which podman's --read-only
// puts on /tmp, /var/tmp and /run).
func CopyUps(mounts []specs.Mount) []string {
	var dsts []string
	for _, m := range mounts {
		if slices.Contains(m.Options, "tmpcopyup") {
			dsts = append(dsts, path.Clean("/"+m.Destination))
		}
	}
	return dsts
}
