// Sealing sbx's binary before the Go runtime starts: see seal_linux.go.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <linux/nsfs.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef ST_RDONLY
#define ST_RDONLY 1
#endif

struct sbx_mount_attr {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

// has_arg tells whether one of sbx's arguments is word.
static int has_arg(int argc, char **argv, const char *word)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], word))
			return 1;
	return 0;
}

// starts_processes tells whether the verb starts processes in a container:
// run, create and exec. start does only when the container has
// startContainer hooks, which it reads after the Go runtime has started:
// cmd/sbx calls sbx_sealed_self then (reexecSealed).
static int starts_processes(int argc, char **argv)
{
	return has_arg(argc, argv, "run") || has_arg(argc, argv, "create") || has_arg(argc, argv, "exec");
}

// read_only_self is a read-only detached bind mount of the binary.
static int read_only_self(void)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -1;
	struct sbx_mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

// memfd_self is a sealed in-memory copy of the binary.
static int memfd_self(void)
{
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	struct stat st;
	int fd = memfd_create("sbx", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || fstat(self, &st) < 0)
		goto fail;
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = sendfile(fd, self, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		goto fail;
	close(self);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	close(self);
	return -1;
}

// sealed_memfd tells whether the binary is a memfd sealed against writes:
// memfd_self's copy, once re-executed.
static int sealed_memfd(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int seals = fcntl(fd, F_GET_SEALS);
	close(fd);
	return seals >= 0 && (seals & F_SEAL_WRITE);
}

// USERNS_FD names the fd of a user namespace `sbx exec` enters before the
// Go runtime starts (see userns_linux.go).
#define USERNS_FD "_SBX_USERNS_FD"

// enter_userns joins the user namespace whose fd USERNS_FD names, for
// `exec` and `start` only, and tells whether it did: setns(2) into a user
// namespace takes a single-threaded process, which sbx is only here, before
// the Go runtime starts threads.
static int enter_userns(int argc, char **argv)
{
	const char *v = getenv(USERNS_FD);
	if (v == NULL)
		return 0;
	char *end;
	long fd = strtol(v, &end, 10);
	if (!(has_arg(argc, argv, "exec") || has_arg(argc, argv, "start")) || *v == '\0' || *end != '\0' || fd < 3 ||
	    fd > 1 << 20) {
		fprintf(stderr, "sbx: %s=%s: not an fd given to `sbx exec` or `sbx start`\n", USERNS_FD, v);
		exit(125);
	}
	if (ioctl((int)fd, NS_GET_NSTYPE) != CLONE_NEWUSER) {
		fprintf(stderr, "sbx: %s=%s: not a user namespace\n", USERNS_FD, v);
		exit(125);
	}
	// Not dumpable before it is in the container's user namespace, whose
	// root could otherwise trace it (execAction makes it so again).
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || setns((int)fd, CLONE_NEWUSER) < 0) {
		fprintf(stderr, "sbx: entering the container's user namespace: %s\n", strerror(errno));
		exit(125);
	}
	close((int)fd);
	unsetenv(USERNS_FD);
	return 1;
}

// sbx_sealed_self returns an fd of a view of sbx's binary that cannot be
// written, to re-execute sbx from; -1 with errno 0 when sbx runs from such
// a view already or its binary is not writable at all; -1 with errno set
// when it cannot make one.
int sbx_sealed_self(void)
{
	struct statfs sf;
	if (statfs("/proc/self/exe", &sf) == 0 && (sf.f_flags & ST_RDONLY)) {
		errno = 0;
		return -1; // on a read-only mount (installed so, or read_only_self's bind): nothing to protect
	}
	if (sealed_memfd()) {
		errno = 0;
		return -1;
	}
	int fd = read_only_self();
	if (fd >= 0)
		return fd;
	if (access("/proc/self/exe", W_OK) != 0) {
		errno = 0;
		return -1; // not writable by the caller, nor by what it starts
	}
	fd = memfd_self();
	if (fd < 0 && errno == 0)
		errno = EIO;
	return fd;
}

__attribute__((constructor)) static void sbx_seal(int argc, char **argv, char **envp)
{
	(void)envp;
	// A start enters the container's user namespace only to run its
	// startContainer hooks there.
	int entered = enter_userns(argc, argv);
	if (!entered && !starts_processes(argc, argv))
		return;
	int fd = sbx_sealed_self();
	if (fd < 0 && errno == 0)
		return;
	if (fd >= 0)
		syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	fprintf(stderr, "sbx: cannot re-execute from a read-only copy of its binary: %s\n", strerror(errno));
	exit(125);
}
