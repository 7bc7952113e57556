package spawn

import "golang.org/x/sys/unix"

const closeNr = unix.SYS_CLOSE
