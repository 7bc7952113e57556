package spawn

import (
	"errors"
	"os"
	"strconv"
)

// errHeld ends the helper of UserNamespace once its namespace is open.
var errHeld = errors.New("user namespace held")

// UserNamespace returns a new user namespace, owned by the caller's, with
// the given id maps and no process in it: what mount_setattr(2) takes to
// make an id-mapped mount (MOUNT_ATTR_IDMAP). A child that never runs a
// step is created in it, its maps are written, its namespace is opened,
// and the child is killed; the open file keeps the namespace alive.
// Writing maps other than one's own ids needs CAP_SETUID and CAP_SETGID.
func UserNamespace(uid, gid []IDMap) (*os.File, error) {
	var ns *os.File
	c := &Cmd{Path: "/", Linux: &Linux{
		Namespaces: NewUser, UIDMappings: uid, GIDMappings: gid,
		Prepare: func(pid int) error {
			f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/user")
			if err != nil {
				return err
			}
			ns = f
			return errHeld
		},
	}}
	// Start fails either way: with errHeld once ns is open, which is
	// success here, or before.
	if _, err := c.Start(); ns == nil {
		return nil, err
	}
	return ns, nil
}
