#!/bin/sh
# runtimes.sh [HARNESS FLAGS]: time /bin/true from one BusyBox rootfs under
# sbx, bubblewrap, crun and runc, alternating them in one run, and print
# medians and sbx's ratios to the others (tests/bench/runtimes/main.go).
#
# As root it installs what is missing from Debian's packages (bubblewrap,
# crun, runc, busybox-static, and libseccomp-dev and gcc for sbx), builds the
# rootfs in bin/bench/rootfs, sbx in bin/sbx (unless SBX names one) and the
# harness, and runs the harness inside `unshare -m` with
# /sys/fs/cgroup/unified unmounted there: crun 1.8 refuses hybrid cgroup
# layouts, and every runtime runs that way for fairness. Nothing changes
# outside that mount namespace.
#
# Flags go to the harness: -n ROUNDS (200), -case run|lifecycle, -warmup N,
# -runtimes sbx,bwrap,crun,runc, -strict; `runtimes.sh -h` lists them all.
# Environment: SBX=path to an sbx binary to time instead of building one;
# GO=go command.
set -eu
cd "$(dirname "$0")/../.."
GO=${GO:-go}

if [ "$(id -u)" != 0 ]; then
	echo "runtimes.sh: needs root (cgroup limits for crun and runc, unshare -m, apt-get): run 'sudo $0'" >&2
	exit 1
fi
command -v "$GO" >/dev/null || { echo "runtimes.sh: Go is not installed (https://go.dev/dl, >= 1.26)" >&2; exit 1; }
command -v unshare >/dev/null || { echo "runtimes.sh: unshare is missing (util-linux)" >&2; exit 1; }

# Debian packages that are missing.
missing=
command -v bwrap >/dev/null || missing="$missing bubblewrap"
command -v crun >/dev/null || missing="$missing crun"
command -v runc >/dev/null || missing="$missing runc"
dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
if [ -z "${SBX:-}" ]; then
	[ -f /usr/include/seccomp.h ] || missing="$missing libseccomp-dev"
	command -v gcc >/dev/null || missing="$missing gcc"
fi
if [ -n "$missing" ]; then
	echo "runtimes.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -qq $missing >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq $missing >/dev/null; } ||
		echo "runtimes.sh: warning: could not install$missing; the harness skips what is missing" >&2
fi

mkdir -p bin/bench
sh tests/busybox-rootfs.sh bin/bench/rootfs
"$GO" build -o bin/bench/runtimes ./tests/bench/runtimes

if [ -n "${SBX:-}" ]; then
	sbx=$SBX
elif "$GO" build -o bin/sbx ./cmd/sbx; then
	sbx=bin/sbx
else
	echo "runtimes.sh: warning: sbx does not build; timing the others" >&2
	sbx=
fi

# The harness replaces sh in the new mount namespace; propagation is private
# so that the unmount stays there.
exec unshare -m --propagation private sh -c '
	if [ -d /sys/fs/cgroup/unified ] && umount /sys/fs/cgroup/unified 2>/dev/null; then
		echo "(in a private mount namespace, /sys/fs/cgroup/unified unmounted)"
	fi
	exec "$@"' sh bin/bench/runtimes -rootfs bin/bench/rootfs -sbx "$sbx" "$@"
