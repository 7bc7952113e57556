// Package namespaces plans what a sandboxed child does inside its new
// namespaces before it execs: assemble a new root filesystem from an OCI
// spec's root and mounts, a fresh /proc, a minimal /dev with its own devpts,
// masked and read-only paths, pivot_root into it and detach the old root;
// bring the loopback interface up; allocate a terminal inside the sandbox.
//
// The plan is a spawn.Program, a flat list of system calls that the child
// executes between clone and exec; nothing here changes the calling
// process. The one part made beforehand, in the caller, is an id-mapped
// bind (IDMapped): a detached mount the child attaches, since mapping a
// host filesystem takes privilege over it that the child lacks.
//
// Every mount uses the file-descriptor based mount API (Linux 5.12 for
// mount_setattr): sources are opened with open_tree or created with
// fsopen/fsmount, and every destination is resolved inside the new root
// with openat2(RESOLVE_IN_ROOT), so no symlink or ".." in a destination,
// or planted in a bind-mounted tree, can make a mount land outside it.
//
// It refuses what it cannot do faithfully: an option it does not know is
// an error, never ignored.
package namespaces
