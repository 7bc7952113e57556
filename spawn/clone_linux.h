// Shared between clone_linux.c and the Go side (cgo). See plan_linux.go for
// how a plan is built; the layout here is the wire format.
#ifndef SBX_CLONE_LINUX_H
#define SBX_CLONE_LINUX_H

#include <stddef.h>
#include <stdint.h>

// struct clone_args of linux/sched.h, as of Linux 5.7 (CLONE_ARGS_SIZE_VER2).
struct sbx_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};

// CALL: check the result, report a failure. SOFT: remember a failure for
// the next FAIL. FAIL: report the remembered failure. ERRFD: the error pipe
// moved to args[0]. IF: on a failure whose errno e has bit e set in
// want_value (the object is absent) skip the next `skip` ops; report any
// other failure. STORE: write
// slot args[0] as an int32 at address args[1].
enum { SBX_OP_CALL = 0, SBX_OP_SOFT = 1, SBX_OP_FAIL = 2, SBX_OP_ERRFD = 3, SBX_OP_IF = 4, SBX_OP_STORE = 5, SBX_OP_JUMP = 6 };
enum { SBX_WANT_ZERO = 0, SBX_WANT_NONNEG = 1, SBX_WANT_EQ = 2, SBX_WANT_ANY = 3 };
enum { SBX_MSG_ERROR = 1, SBX_MSG_READY = 2 };
#define SBX_SLOTS 15

// One planned system call. args[j] is replaced by a slot's value when the
// j-th nibble of slot_in is non-zero (slot = nibble-1); the result is stored
// in slot slot_out-1 when slot_out is non-zero.
struct sbx_op {
	int64_t nr;
	uint64_t args[6];
	int64_t want_value;
	uint32_t slot_in;
	int32_t step;
	uint8_t kind;
	uint8_t want;
	uint8_t slot_out;
	uint8_t pad;
	uint32_t skip;
};

// msgs, when not NULL, holds for each step after a gate the text written
// to fd 2 when it fails ("sbx: capset: "), and errmsgs the text of each
// errno below nerrmsgs: a child past its gate has nobody reading its error
// pipe, so its own stderr is where a failure can still be seen.
struct sbx_plan {
	int32_t errfd;
	int32_t failcode;
	uint32_t nops;
	uint32_t nmsgs;
	struct sbx_op *ops;
	const char *const *msgs;
	const char *const *errmsgs;
	uint32_t nerrmsgs;
	uint32_t pad;
};

// What the child writes on the error pipe.
struct sbx_report {
	int32_t kind;
	int32_t step;
	int32_t err;
};

// One spawn. With keeper set, clone3 creates a keeper process (outer: exit
// signal 0, CLONE_VM|CLONE_FILES, never execs, so it stays invisible to
// SIGCHLD and waitpid(-1)), which creates the child (inner) and reaps it,
// leaving its status here. Without keeper the child is our own child.
struct sbx_spawn {
	struct sbx_clone_args outer;
	struct sbx_clone_args inner;
	struct sbx_plan *plan;
	uint64_t stacks; // one mapping: guard, keeper stack, guard, child stack
	int32_t keeper;
	int32_t parent_pid;
	uint32_t ready;      // futex word: 1 once the keeper has cloned the child
	int32_t child_pid;   // or -errno of the keeper's clone3
	int32_t child_pidfd;
	int32_t outer_pidfd;
	int32_t end_code;    // how the child ended (siginfo si_code, si_status),
	int32_t end_status;  // written by the keeper before it exits
};

#define SBX_KEEPER_STACK (16 << 10)
#define SBX_CHILD_STACK (128 << 10)
#define SBX_STACKS_SIZE (4096 + SBX_KEEPER_STACK + 4096 + SBX_CHILD_STACK)

long sbx_clone(struct sbx_spawn *s);
void sbx_free_stacks(uint64_t stacks);

#endif
