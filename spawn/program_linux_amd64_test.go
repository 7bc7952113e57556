package spawn

import "golang.org/x/sys/unix"

const mkdirNr = unix.SYS_MKDIR
