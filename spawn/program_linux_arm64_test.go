package spawn

import "golang.org/x/sys/unix"

// arm64 has no mkdir(2), only mkdirat.
const mkdirNr = unix.SYS_MKDIRAT
