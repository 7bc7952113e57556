// The only C in sbx: clone3 on a private stack and an interpreter that runs, in
// the child, the flat list of system calls the Go side planned (plan_linux.go).
// It decides nothing; every path, flag, fd number and expected result comes
// from the plan.
//
// The child shares the parent's memory (CLONE_VM) until it execs or exits, so
// it must not touch anything the parent may change: it reads the plan, writes
// only its own stack and the plan's scratch words, and makes raw system calls
// only. It never calls libc, whose errno and locks live in the parent's thread.

#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "clone_linux.h"

#if defined(__x86_64__)
static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

// clone3 returns twice. In the child, on the new stack, call fn(arg) and
// exit with its result; nothing of the parent's stack frame is used there.
static long clone3_run(void *args, long size, int (*fn)(void *), void *arg)
{
	register long r12 __asm__("r12") = (long)fn;
	register long r13 __asm__("r13") = (long)arg;
	long ret;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov $231, %%eax\n\t" // exit_group
			 "syscall\n\t"
			 "hlt\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "a"((long)SYS_clone3), "D"(args), "S"(size), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

static long clone3_run(void *args, long size, int (*fn)(void *), void *arg)
{
	register long x8 __asm__("x8") = SYS_clone3;
	register long x0 __asm__("x0") = (long)args;
	register long x1 __asm__("x1") = size;
	register long x19 __asm__("x19") = (long)fn;
	register long x20 __asm__("x20") = (long)arg;
	__asm__ volatile("svc #0\n\t"
			 "cbnz x0, 1f\n\t"
			 "mov x29, xzr\n\t"
			 "mov x0, x20\n\t"
			 "blr x19\n\t"
			 "mov x8, #94\n\t" // exit_group
			 "svc #0\n\t"
			 "brk #0\n"
			 "1:\n\t"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x19), "r"(x20)
			 : "x30", "memory");
	return x0;
}
#else
#error "spawn: clone3 trampoline not written for this architecture"
#endif

// append copies the C string s to buf at *n, leaving room for a newline.
static void append(char *buf, long size, long *n, const char *s)
{
	while (s && *s && *n < size - 1)
		buf[(*n)++] = *s++;
}

// report sends {step, errno} to the parent and ends the child. A step
// that has a message comes after a gate, where nobody reads the error pipe
// (writing it could raise SIGPIPE, unblocked just before exec): it is told
// on fd 2 instead.
static int report(const struct sbx_plan *p, int errfd, int32_t step, int32_t err)
{
	if (!p->msgs || step < 0 || (uint32_t)step >= p->nmsgs || !p->msgs[step]) {
		struct sbx_report r = { SBX_MSG_ERROR, step, err };
		raw6(SYS_write, errfd, (long)&r, sizeof r, 0, 0, 0);
	} else {
		char buf[512];
		long n = 0;
		append(buf, sizeof buf, &n, p->msgs[step]);
		if (err > 0 && (uint32_t)err < p->nerrmsgs)
			append(buf, sizeof buf, &n, p->errmsgs[err]);
		else
			append(buf, sizeof buf, &n, "unexpected result");
		buf[n++] = '\n';
		raw6(SYS_write, 2, (long)buf, n, 0, 0, 0);
	}
	return p->failcode;
}

static int check(const struct sbx_op *op, long ret)
{
	switch (op->want) {
	case SBX_WANT_ZERO:
		return ret == 0;
	case SBX_WANT_NONNEG:
		return ret >= 0;
	case SBX_WANT_EQ:
		return ret == (long)op->want_value;
	case SBX_WANT_ANY:
		return 1;
	}
	return 0;
}

// child runs the plan. Soft failures (execve of one PATH candidate) are
// remembered and reported by the next SBX_OP_FAIL, the way execvp prefers
// EACCES over ENOENT.
static int child(void *arg)
{
	const struct sbx_plan *p = arg;
	long slots[SBX_SLOTS] = { 0 };
	int32_t soft_step = -1, soft_err = 0;
	int errfd = p->errfd;

	for (uint32_t i = 0; i < p->nops; i++) {
		const struct sbx_op *op = &p->ops[i];
		long a[6];
		if (op->kind == SBX_OP_FAIL)
			return report(p, errfd, soft_step >= 0 ? soft_step : op->step, soft_err);
		if (op->kind == SBX_OP_ERRFD) { // the error pipe was moved
			errfd = (int)op->args[0];
			continue;
		}
		if (op->kind == SBX_OP_JUMP) { // the end of an if block with an else
			i += op->skip;
			continue;
		}
		if (op->kind == SBX_OP_STORE) {
			*(int32_t *)(uintptr_t)op->args[1] = (int32_t)slots[op->args[0]];
			continue;
		}
		for (int j = 0; j < 6; j++)
			a[j] = (op->slot_in >> (4 * j) & 0xf) ? slots[(op->slot_in >> (4 * j) & 0xf) - 1] : (long)op->args[j];
		long ret = raw6(op->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		// openat2 fails with EAGAIN when a mount or rename anywhere
		// raced with a RESOLVE_IN_ROOT lookup; it is safe to retry.
		for (int tries = 0; ret == -11 /* EAGAIN */ && op->nr == SYS_openat2 && tries < 64; tries++)
			ret = raw6(op->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (op->slot_out)
			slots[op->slot_out - 1] = ret;
		if (check(op, ret))
			continue;
		int32_t err = ret < 0 && ret > -4096 ? (int32_t)-ret : 0;
		if (op->kind == SBX_OP_IF && err > 0 && err < 64 && ((uint64_t)op->want_value >> err & 1)) {
			i += op->skip; // absent: skip the block
			continue;
		}
		if (op->kind == SBX_OP_SOFT) {
			if (soft_err != 13 /* EACCES */ || err == 13) {
				soft_step = op->step;
				soft_err = err;
			}
			continue;
		}
		return report(p, errfd, op->step, err);
	}
	return p->failcode;
}

// keeper makes the child and waits for it. It never execs, so it keeps the
// exit signal 0 it was created with; execve resets a process's exit signal
// to SIGCHLD (de_thread() in fs/exec.c), which is why the child itself
// cannot be the private one.
static int keeper(void *arg)
{
	struct sbx_spawn *s = arg;
	long pid = -3; // ESRCH: the parent died before we could arm PDEATHSIG

	// Die with the thread that made us (it is pinned for life), so a
	// keeper never outlives its parent holding the parent's memory.
	raw6(SYS_prctl, 1 /* PR_SET_PDEATHSIG */, SIGKILL, 0, 0, 0, 0);
	if (raw6(SYS_getppid, 0, 0, 0, 0, 0, 0) == s->parent_pid)
		pid = clone3_run(&s->inner, sizeof s->inner, child, s->plan);
	s->child_pid = (int32_t)pid;
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	raw6(SYS_futex, (long)&s->ready, 1 /* FUTEX_WAKE */ | 128 /* PRIVATE */, 1, 0, 0, 0);
	if (pid < 0)
		return 0;

	int32_t si[32] = { 0 }; // siginfo_t: si_code at [2], si_pid [4], si_status [6]
	while (raw6(SYS_waitid, 1 /* P_PID */, pid, (long)si, 4 /* WEXITED */, 0, 0) == -4 /* EINTR */)
		;
	s->end_code = si[2];
	s->end_status = si[6];
	return 0;
}

// wait_keeper blocks until the keeper has cloned the child, or has died.
static void wait_keeper(struct sbx_spawn *s)
{
	struct { long sec, nsec; } tick = { 0, 10 * 1000 * 1000 };
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE)) {
		raw6(SYS_futex, (long)&s->ready, 0 /* FUTEX_WAIT */ | 128, 0, (long)&tick, 0, 0);
		struct { int fd; short events, revents; } pfd = { s->outer_pidfd, 1 /* POLLIN */, 0 };
		if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE) &&
		    raw6(SYS_poll, (long)&pfd, 1, 0, 0, 0, 0) == 1) {
			s->child_pid = -10; // ECHILD: the keeper died first
			return;
		}
	}
}

long sbx_clone(struct sbx_spawn *s)
{
	char *m = mmap(NULL, SBX_STACKS_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return -12; // ENOMEM
	raw6(SYS_mprotect, (long)m, 4096, PROT_NONE, 0, 0, 0);
	raw6(SYS_mprotect, (long)(m + 4096 + SBX_KEEPER_STACK), 4096, PROT_NONE, 0, 0, 0);
	s->stacks = (uint64_t)(uintptr_t)m;
	s->outer.stack = (uint64_t)(uintptr_t)(m + 4096);
	s->outer.stack_size = SBX_KEEPER_STACK;
	s->inner.stack = (uint64_t)(uintptr_t)(m + 4096 + SBX_KEEPER_STACK + 4096);
	s->inner.stack_size = SBX_CHILD_STACK;

	// Block every signal on this thread so the child starts with all of
	// them blocked; the plan unblocks them just before execve.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	long ret;
	if (s->keeper) {
		ret = clone3_run(&s->outer, sizeof s->outer, keeper, s);
		if (ret > 0)
			wait_keeper(s);
	} else {
		ret = clone3_run(&s->inner, sizeof s->inner, child, s->plan);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		munmap(m, SBX_STACKS_SIZE);
		s->stacks = 0;
	}
	return ret;
}

void sbx_free_stacks(uint64_t stacks)
{
	if (stacks)
		munmap((void *)(uintptr_t)stacks, SBX_STACKS_SIZE);
}
