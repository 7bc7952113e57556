#!/usr/bin/env bash
# run.sh: build the OCI runtime-tools v0.9.0 validation programs and run each
# of them against every runtime given, printing one table and a summary.
#
#   run.sh [--runtime NAME=PATH ...] [--only REGEX] [--timeout SEC] [--json FILE]
#
# Without --runtime it compares runc (installed with apt-get when missing)
# and bin/sbx (built when missing). --only selects programs by name (grep
# -E); --timeout bounds each program (default 60 s; runc's slowest takes 14);
# --json also writes the results for a Go test to assert on.
#
# The programs, runtimetest and the rootfs go to $CONFORMANCE_DIR (default
# bin/conformance, or /var/tmp/sbx-conformance-UID for a checkout under
# /tmp or /run); each program's TAP and stderr go to
# $CONFORMANCE_DIR/logs/RUNTIME/PROGRAM.{tap,stderr}, and what it left
# behind to PROGRAM.leaks.
#
# Everything runs in a throwaway mount and PID namespace with tmpfs on /tmp
# and /run, so bundles, runtime state (/run/runc, ...), stray mounts and
# stray processes vanish with it. After each program the harness deletes the
# containers the runtime still lists, kills processes the runtime left,
# unmounts what it mounted, removes the empty cgroup directories the program
# created (cgroups are not namespaced), and reports all of it.
#
# Judging, per program: "pass" is exit status 0, no "not ok" (TODO aside),
# no "Bail out!", as many tests as the plans announce (some programs print
# two TAP streams; their plans add up), and at least one test that ran.
# The seven hook programs (hooks, prestart, poststart, poststop and their
# _fail variants) print no test lines, only a YAML diagnostic when the
# runtime got it wrong: for them "pass" is exit status 0 and no diagnostic.
# "skip" is a pass with nothing counted: plan 1..0, only "# SKIP" lines, or
# no output at all from process_capabilities_fail and process_rlimits_fail,
# which is how they say the runtime rejected their config. Any other program that
# prints no TAP fails. prove(1) cannot be the judge: it rejects the JSON the
# programs put in their YAML blocks. "FAIL" is anything else; "timeout" is a
# program killed at --timeout.
#
# Exit status: 0 when every program ran (whatever the results), 2 when the
# harness itself could not build or run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${CONFORMANCE_DIR:-$repo/bin/conformance}
# A checkout under /tmp or /run (a CI clone, say) would be hidden by the
# run's own tmpfs there: the default moves to /var/tmp then.
if [ -z "${CONFORMANCE_DIR:-}" ]; then
	case $(realpath -m "$dir")/ in
	/tmp/* | /run/*) dir=/var/tmp/sbx-conformance-$(id -u) ;;
	esac
fi
only=.
timeout_s=60
json=
runtimes=()

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

die() {
	echo "conformance: $*" >&2
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--runtime) [ $# -ge 2 ] || usage; runtimes+=("$2"); shift 2 ;;
		--runtime=*) runtimes+=("${1#*=}"); shift ;;
		--only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
		--only=*) only=${1#*=}; shift ;;
		--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
		--timeout=*) timeout_s=${1#*=}; shift ;;
		--json) [ $# -ge 2 ] || usage; json=$2; shift 2 ;;
		--json=*) json=${1#*=}; shift ;;
		-h | --help) usage ;;
		*) echo "conformance: unknown argument $1" >&2; usage ;;
		esac
	done
	[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "--timeout wants whole seconds, got $timeout_s"
	case $json in '' | /*) ;; *) json=$PWD/$json ;; esac
}

# apt_install PKG installs a Debian package, refreshing the lists only when
# the first attempt fails.
apt_install() {
	command -v apt-get >/dev/null || die "$1 is missing and there is no apt-get to install it"
	echo "conformance: installing $1" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null; } ||
		die "apt-get install $1 failed"
}

# resolve_runtimes fills in the default runtimes and makes every path
# absolute: the programs run from $dir/work and look RUNTIME up with
# exec.LookPath.
resolve_runtimes() {
	[ ${#runtimes[@]} -gt 0 ] || runtimes=(runc=runc "sbx=$repo/bin/sbx")
	local i name path
	for i in "${!runtimes[@]}"; do
		name=${runtimes[$i]%%=*}
		path=${runtimes[$i]#*=}
		[[ ${runtimes[$i]} == *=* && $name =~ ^[A-Za-z0-9_.-]+$ && -n $path ]] ||
			die "--runtime wants NAME=PATH, got ${runtimes[$i]}"
		if [ "$path" = runc ] && ! command -v runc >/dev/null; then
			apt_install runc
		fi
		if [ "$path" = "$repo/bin/sbx" ] && [ ! -x "$path" ]; then
			echo "conformance: building bin/sbx" >&2
			(cd "$repo" && go build -o bin/sbx ./cmd/sbx) || die "building bin/sbx failed"
		fi
		case $path in
		*/*) path=$(realpath -e "$path" 2>/dev/null) || die "runtime $name: ${runtimes[$i]#*=} not found" ;;
		*) path=$(command -v "$path") || die "runtime $name: $path not found in PATH" ;;
		esac
		[ -x "$path" ] || die "runtime $name: $path is not executable"
		runtimes[i]=$name=$(reachable "$name" "$path")
	done
}

# reachable NAME PATH prints a path to the runtime binary PATH that the run's
# namespace does not hide under its tmpfs on /tmp and /run: PATH itself, or
# a copy in $dir/runtimes/NAME (go test builds its binaries under /tmp).
reachable() {
	case $2 in
	/tmp/* | /run/*)
		mkdir -p "$dir/runtimes/$1"
		install -m 755 "$2" "$dir/runtimes/$1/" || die "copying runtime $1 out of ${2%/*}"
		echo "$dir/runtimes/$1/${2##*/}"
		;;
	*) echo "$2" ;;
	esac
}

# build compiles runtimetest and the 58 programs (the tool directives of
# go.mod) into $dir/bin, statically as runtime-tools' Makefile builds
# runtimetest, since it is copied into a BusyBox rootfs. $dir/work is the
# programs' working directory: they read ./runtimetest and
# ./rootfs-amd64.tar.gz (shipped in the runtime-tools module) from it.
build() {
	command -v go >/dev/null || die "Go is not installed"
	mkdir -p "$dir/bin" "$dir/work"
	local stamp=$dir/bin/.built src arch
	if [ ! -f "$stamp" ] || [ "$here/go.mod" -nt "$stamp" ] || [ "$here/go.sum" -nt "$stamp" ] ||
		[ "$here/runtimetest/go.mod" -nt "$stamp" ]; then
		echo "conformance: building the runtime-tools validation programs into $dir/bin" >&2
		(cd "$here" && CGO_ENABLED=0 GOWORK=off go build -trimpath -o "$dir/bin/" tool) ||
			die "building the validation programs failed"
		# runtimetest again, with Go 1.18 (the go command fetches that
		# toolchain from the module proxy): see runtimetest/tools.go.
		(cd "$here/runtimetest" && CGO_ENABLED=0 GOWORK=off GOTOOLCHAIN=go1.18.10 \
			go build -trimpath -o "$dir/bin/runtimetest" github.com/opencontainers/runtime-tools/cmd/runtimetest) ||
			die "building runtimetest with Go 1.18 failed"
		touch "$stamp"
	fi
	src=$(cd "$here" && GOWORK=off go list -m -f '{{.Dir}}' github.com/opencontainers/runtime-tools) ||
		die "locating the runtime-tools module"
	arch=$(go env GOARCH)
	[ -f "$src/rootfs-$arch.tar.gz" ] || die "runtime-tools has no rootfs-$arch.tar.gz"
	install -m 644 "$src/rootfs-$arch.tar.gz" "$dir/work/"
	install -m 755 "$dir/bin/runtimetest" "$dir/work/runtimetest"
}

# programs lists the validation programs --only selects, sorted.
programs() {
	sed -n 's|^[[:space:]]*github.com/opencontainers/runtime-tools/validation/\([a-z0-9_]*\)$|\1|p' "$here/go.mod" |
		sort | grep -E -- "$only" || true
}

# ---- inside the namespaces ----

# silent lists the programs that print nothing, by design, when the runtime
# rejects their config as it should: they print TAP only to show what ran.
silent=' process_capabilities_fail process_rlimits_fail '

# diagonly lists the programs that test without TAP test lines: they print
# a YAML diagnostic when the runtime got it wrong and nothing (plan 1..0)
# when it got it right.
diagonly=' hooks prestart prestart_fail poststart poststart_fail poststop poststop_fail '

# judge TAP RC prints "STATUS<TAB>OK<TAB>NOTOK<TAB>SKIP<TAB>PLANNED<TAB>RAN<TAB>REASON"
# for one program's TAP output and exit status; the header comment says how.
judge() {
	local p=${1##*/}
	p=${p%.tap}
	awk -v rc="$2" -v errfile="${1%.tap}.stderr" -v silent="$([[ $silent == *" $p "* ]] && echo 1)" \
		-v diagonly="$([[ $diagonly == *" $p "* ]] && echo 1)" '
	/^ok([ \t]|$)/ { ran++; ok++; if (tolower($0) ~ /#[ \t]*skip/) skip++; next }
	/^not ok([ \t]|$)/ {
		ran++
		if (tolower($0) ~ /#[ \t]*todo/) { ok++; next }
		if (!notok++) { first = $0; sub(/^not ok[ \t]*[0-9]*[ \t]*-?[ \t]*/, "", first) }
		next
	}
	/^1\.\.[0-9]+/ { planned += substr($1, 4); plans++; next }
	/^Bail out!/ { bail = $0; next }
	/^[ \t]+---/ { yaml++; next }
	/^[ \t]+"error": / && diag == "" { diag = $0; sub(/^[ \t]+"error": "?/, "", diag); sub(/",?$/, "", diag) }
	END {
		while ((getline line < errfile) > 0)
			if (line ~ /[^ \t]/ && line !~ /^exit status [0-9]+$/) lasterr = line
		sub(/^time="?[^" ]*"? level=[a-z]+ msg=/, "", lasterr)
		status = "pass"
		if (rc == 124 || rc == 137) { status = "timeout"; reason = "killed after the timeout" }
		else if (rc != 0) { status = "FAIL"; reason = "exit " rc }
		if (diagonly && yaml) why = "diagnostic: " diag
		else if (notok) why = "not ok: " first
		else if (bail != "") why = bail
		else if (!plans && !ran && !silent) why = "no TAP output"
		else if (!plans && ran) why = "no TAP plan"
		else if (planned != ran) why = "planned " planned ", ran " ran
		if (why != "") { if (status == "pass") status = "FAIL"; reason = reason (reason == "" ? "" : "; ") why }
		if (status == "pass" && diagonly) {
			reason = "no diagnostic: judged by the program itself"
		} else if (status == "pass" && ok == skip) {
			status = "skip"
			reason = (!plans ? "silent: the runtime rejected the config" : ran ? "every test skipped" : "plan 1..0")
		}
		if (status != "pass" && (!notok || first ~ /^exit status/) && lasterr != "") reason = reason ": " lasterr
		gsub(/[\t\r\n]/, " ", reason)
		printf "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", status, ok, notok, skip, planned, ran, reason
	}' "$1"
}

cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort; }
mount_points() { awk '{print $5}' /proc/self/mountinfo | sort; }

# stray_pids lists the processes of this PID namespace that the harness did
# not start itself: the harness's own processes carry CONFORMANCE_INNER and
# no RUNTIME (only the validation programs and what they start get RUNTIME).
stray_pids() {
	local p env
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		if [ "$p" = 1 ] || [ "$p" = "$BASHPID" ]; then continue; fi
		! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null || continue
		env=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null) || continue
		if ! grep -q '^CONFORMANCE_INNER=' <<<"$env" || grep -q '^RUNTIME=' <<<"$env"; then
			echo "$p"
		fi
	done
}

# snapshot records what exists before a program runs, for sweep to compare.
snapshot() {
	cgroup_dirs >/run/conformance/cgroups
	mount_points >/run/conformance/mounts
}

# sweep RUNTIME removes what a program left behind and prints one line per
# kind of leftover: containers the runtime still lists, processes, mounts in
# this namespace, cgroup directories.
sweep() {
	local rt=$1 ids p left=() d
	# Through a file, not a pipe: a daemon the runtime leaves behind may
	# hold its stdout open for good.
	timeout 5 "$rt" list -q >/run/conformance/list 2>/dev/null </dev/null || true
	ids=$(tr '\n' ' ' </run/conformance/list)
	for p in $ids; do timeout 10 "$rt" delete -f "$p" >/dev/null 2>&1 </dev/null || true; done
	[ -z "${ids// /}" ] || echo "containers: $ids"
	left=()
	for p in $(stray_pids); do
		left+=("$p($(cat "/proc/$p/comm" 2>/dev/null))")
		kill -KILL "$p" 2>/dev/null || true
	done
	[ ${#left[@]} -eq 0 ] || echo "processes: ${left[*]}"
	left=()
	for d in $(mount_points | comm -13 /run/conformance/mounts - | sort -r); do
		left+=("$d")
		umount -l "$d" 2>/dev/null || true
	done
	[ ${#left[@]} -eq 0 ] || echo "mounts: ${left[*]}"
	# Cgroups are shared with the rest of the machine: look only at the new
	# ones named as the programs name them (a container ID from uuid.NewV4,
	# or the cgroups tests' cgrouptest and testdir), and remove the empty ones.
	left=()
	for d in $(cgroup_dirs | comm -13 /run/conformance/cgroups - | sort -r); do
		[[ $d =~ /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-|/cgrouptest|/testdir ]] || continue
		left+=("$d")
		rmdir "$d" 2>/dev/null || left+=("(not empty, kept)")
	done
	[ ${#left[@]} -eq 0 ] || echo "cgroups: ${left[*]}"
	find /tmp -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
}

cell() { # STATUS OK NOTOK SKIP
	local s="$1 $2/$3"
	[ "$4" -eq 0 ] || s="$s s$4"
	printf '%s' "$s"
}

# run_one NAME PATH PROGRAM runs one program against one runtime and prints
# its result line: NAME PROGRAM STATUS OK NOTOK SKIP PLANNED RAN EXIT SECONDS
# REASON LEAKS, tab-separated.
run_one() {
	local name=$1 rt=$2 p=$3 log=$dir/logs/$1/$3 rc=0 start=$SECONDS secs verdict leaks
	snapshot
	(cd "$dir/work" && RUNTIME=$rt exec timeout -k 5 "$timeout_s" "$dir/bin/$p" \
		>"$log.tap" 2>"$log.stderr" </dev/null) || rc=$?
	secs=$((SECONDS - start))
	sweep "$rt" >"$log.leaks"
	[ -s "$log.leaks" ] || rm -f "$log.leaks"
	verdict=$(judge "$log.tap" "$rc")
	leaks=$([ -f "$log.leaks" ] && tr '\n' ';' <"$log.leaks" | sed 's/;$//')
	local status ok notok skip planned ran reason
	IFS=$'\t' read -r status ok notok skip planned ran reason <<<"$verdict"
	printf '%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n' "$name" "$p" "$status" \
		"$ok" "$notok" "$skip" "$planned" "$ran" "$rc" "$secs" "${reason:--}" "${leaks:--}"
}

inner() {
	exec 9>&- # the lock stays with the outer run.sh, not with what the programs start
	mount -t tmpfs -o mode=1777 conformance-tmp /tmp
	mount -t tmpfs -o mode=755 conformance-run /run
	mkdir /run/conformance
	export TMPDIR=/tmp

	local progs=() names=() paths=() results=() r p i row f
	mapfile -t progs <<<"$CONFORMANCE_PROGRAMS"
	for r in "${runtimes[@]}"; do
		names+=("${r%%=*}")
		paths+=("${r#*=}")
		rm -rf "${dir:?}/logs/${r%%=*}"
		mkdir -p "$dir/logs/${r%%=*}"
	done

	local w=32 cw=22 line
	line=$(printf '%*s' "$w" '' | tr ' ' -)
	printf '%-*s' "$w" program
	for r in "${names[@]}"; do
		printf ' | %-*s' "$cw" "$r"
		line="$line-+-$(printf '%*s' "$cw" '' | tr ' ' -)"
	done
	printf '\n%s\n' "$line"
	for p in "${progs[@]}"; do
		printf '%-*s' "$w" "$p"
		for i in "${!names[@]}"; do
			row=$(run_one "${names[$i]}" "${paths[$i]}" "$p")
			results+=("$row")
			IFS=$'\t' read -r -a f <<<"$row"
			printf ' | %-*s' "$cw" "$(cell "${f[2]}" "${f[3]}" "${f[4]}" "${f[5]}")"
		done
		printf '\n'
	done
	printf '%s\n' "$line"
	echo "cells: status ok/not-ok, sN = N of the ok are SKIP; TAP in $dir/logs"
	report "${#progs[@]}" "${results[@]}"
	# The outer run.sh copies it to --json: that path may be under /tmp.
	[ -z "$json" ] || write_json "${#progs[@]}" "${results[@]}" >"$dir/logs/results.json"
}

# report TOTAL RESULT... prints why programs did not pass, what they left
# behind, and the summary line.
report() {
	local total=$1 r name row f pass skip summary='' skips=
	shift
	echo
	echo "not passed, or passed without testing (first \"not ok\", or exit status and last stderr line):"
	for row in "$@"; do
		IFS=$'\t' read -r -a f <<<"$row"
		[ "${f[2]}" = pass ] || printf '  %-7s %s %s: %s\n' "${f[2]}" "${f[0]}" "${f[1]}" "${f[10]}" | cut -c1-220
	done
	local header=0
	for row in "$@"; do
		IFS=$'\t' read -r -a f <<<"$row"
		[ "${f[11]}" != - ] || continue
		[ $header = 1 ] || { echo; echo "left behind (and removed):"; header=1; }
		printf '  %s %s: %s\n' "${f[0]}" "${f[1]}" "${f[11]}" | cut -c1-220
	done
	echo
	for r in "${runtimes[@]}"; do
		name=${r%%=*}
		read -r pass skip < <(tally "$name" "$@")
		summary="$summary${summary:+, }$name: $pass/$total pass"
		skips="$skips${skips:+, }$name $skip"
	done
	echo "skip (exit 0 without testing anything, not counted as pass): $skips"
	echo "$summary"
}

# tally NAME RESULT... prints how many programs runtime NAME passed and
# how many it skipped.
tally() {
	local name=$1 row f pass=0 skip=0
	shift
	for row in "$@"; do
		IFS=$'\t' read -r -a f <<<"$row"
		[ "${f[0]}" = "$name" ] || continue
		case ${f[2]} in pass) pass=$((pass + 1)) ;; skip) skip=$((skip + 1)) ;; esac
	done
	echo "$pass $skip"
}

json_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"
}

# write_json TOTAL RESULT... prints
# {"suite":..,"total":58,"timeout":60,"runtimes":{"runc":{"path":..,"pass":28,"skip":8,
#   "programs":{"create":{"status":"pass","ok":4,...},..}},..}}
write_json() {
	local total=$1 i r name row f first pass skip
	shift
	printf '{"suite":"github.com/opencontainers/runtime-tools v0.9.0","total":%d,"timeout":%d,"runtimes":{' "$total" "$timeout_s"
	for i in "${!runtimes[@]}"; do
		r=${runtimes[$i]}
		name=${r%%=*}
		read -r pass skip < <(tally "$name" "$@")
		[ "$i" -eq 0 ] || printf ','
		printf '%s:{"path":%s,"pass":%d,"skip":%d,"programs":{' "$(json_string "$name")" "$(json_string "${r#*=}")" "$pass" "$skip"
		first=1
		for row in "$@"; do
			IFS=$'\t' read -r -a f <<<"$row"
			[ "${f[0]}" = "$name" ] || continue
			[ $first = 1 ] || printf ','
			first=0
			[ "${f[10]}" != - ] || f[10]=
			[ "${f[11]}" != - ] || f[11]=
			printf '"%s":{"status":"%s","ok":%d,"not_ok":%d,"skip":%d,"planned":%d,"ran":%d,"exit":%d,"seconds":%d,"reason":%s,"leaks":%s}' \
				"${f[1]}" "${f[2]}" "${f[3]}" "${f[4]}" "${f[5]}" "${f[6]}" "${f[7]}" "${f[8]}" "${f[9]}" \
				"$(json_string "${f[10]}")" "$(json_string "${f[11]}")"
		done
		printf '}}'
	done
	printf '}}\n'
}

# ---- outside ----

outer() {
	[ "$(id -u)" = 0 ] || die "needs root (mount and PID namespaces, cgroups, runc)"
	local t rc=0 start=$SECONDS
	for t in unshare timeout tar realpath awk flock; do
		command -v "$t" >/dev/null || die "$t is missing"
	done
	case $(realpath -m "$dir")/ in
	/tmp/* | /run/*) die "CONFORMANCE_DIR $dir is hidden in the run's namespace by tmpfs on /tmp and /run: put it elsewhere" ;;
	esac
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock -n 9 || die "another run is using $dir"
	resolve_runtimes
	build
	# Listed here: a checkout under /tmp is hidden inside the run.
	local progs
	progs=$(programs)
	[ -n "$progs" ] || die "no validation program matches --only $only"
	[ -z "$json" ] || rm -f "$json" "$dir/logs/results.json"
	CONFORMANCE_INNER=1 CONFORMANCE_DIR=$dir CONFORMANCE_RUNTIMES=$(printf '%s\n' "${runtimes[@]}") \
		CONFORMANCE_ONLY=$only CONFORMANCE_PROGRAMS=$progs CONFORMANCE_TIMEOUT=$timeout_s CONFORMANCE_JSON=$json \
		unshare --mount --propagation private --pid --fork --mount-proc bash "${BASH_SOURCE[0]}" || rc=$?
	if [ -n "$json" ] && [ "$rc" = 0 ]; then
		cp "$dir/logs/results.json" "$json" || die "writing $json"
	fi
	echo "conformance: took $((SECONDS - start))s" >&2
	return "$rc"
}

if [ -n "${CONFORMANCE_INNER:-}" ]; then
	dir=$CONFORMANCE_DIR
	only=$CONFORMANCE_ONLY
	timeout_s=$CONFORMANCE_TIMEOUT
	json=$CONFORMANCE_JSON
	mapfile -t runtimes <<<"$CONFORMANCE_RUNTIMES"
	inner
else
	parse_args "$@"
	outer
fi
