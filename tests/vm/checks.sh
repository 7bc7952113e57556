#!/bin/sh
# checks.sh runs as pid 1 of the test VM (tests/vm_linux_test.go): Debian's
# kernel with a pure cgroup v2 hierarchy, as most hosts have it. It prints
# TAP between "vm: begin" and "vm: end" on the console and powers off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
exec </dev/null
cg=/sys/fs/cgroup

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1)); echo "not ok $n - $1"; shift
	printf '%s\n' "$@" | sed 's/^/# /'
}
# expect DESC WANT GOT [OUTPUT]: ok when GOT equals WANT.
expect() {
	if [ "$3" = "$2" ]; then ok "$1"; else notok "$1" "got '$3', want '$2'" ${4:+"$4"}; fi
}
# spec NAME JSON: write /tmp/NAME.json.
spec() { printf '%s\n' "$2" >"/tmp/$1.json"; }
# sbxrun NAME: run /tmp/NAME.json with a report; sets $code and $out.
sbxrun() { out=$(/sbx run --report "/tmp/$1.report" "/tmp/$1.json" 2>&1); code=$?; }
# leftover: the sandbox groups still in the job's slice.
leftover() { ls -d $cg/ci.slice/sbx-* 2>/dev/null; }

echo "vm: begin"
echo "# kernel $(uname -r); $(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts) at $cg"
# The job's own cgroup below a slice, as systemd places a login or a CI job.
mkdir -p $cg/ci.slice/job.scope
echo $$ >$cg/ci.slice/job.scope/cgroup.procs

# The host root, read-only, as examples/hello.json has it.
spec hello '{"process": {"args": ["/bin/sh", "-c", "echo hello from $(hostname)"]}, "root": {"path": "/"}}'
sbxrun hello
expect "sbx run of the host root" "0 hello from sbx" "$code $out"

# Every namespace new unless shared, and a shared one the host's own.
ns="cgroup ipc mnt net pid time user uts"
host=$(for t in $ns; do readlink /proc/self/ns/$t; done)
for share in '' '"network": true, "uts": true'; do
	spec ns "{\"process\": {\"args\": [\"/bin/sh\", \"-c\", \"for t in $ns; do readlink /proc/self/ns/\$t; done\"]},
	  \"root\": {\"path\": \"/\"}, \"share\": {$share}}"
	sbxrun ns
	same=$(printf '%s\n%s\n' "$host" "$out" | sort | uniq -d | tr '\n' ' ')
	want=""; [ -n "$share" ] && want="net:[$(stat -L -c %i /proc/self/ns/net)] uts:[$(stat -L -c %i /proc/self/ns/uts)] "
	expect "namespaces, sharing {$share}" "0 8 $want" "$code $(echo "$out" | wc -l) $same" "$out"
done

# Limits on a running sandbox, read from the host.
spec limits '{"process": {"args": ["/bin/sleep", "3"]}, "root": {"path": "/"},
  "limits": {"memory": "48MiB", "pids": 16, "cpus": 0.5}}'
/sbx run --report /tmp/limits.report /tmp/limits.json >/tmp/limits.out 2>&1 &
bg=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
	g=$(leftover)
	[ -n "$g" ] && [ -n "$(cat $g/cgroup.procs 2>/dev/null)" ] && break
	sleep 0.2
done
expect "one sandbox group beside the job's" "1" "$(echo "$g" | grep -c sbx-)"
expect "memory.max" "50331648" "$(cat $g/memory.max 2>&1)"
expect "pids.max" "16" "$(cat $g/pids.max 2>&1)"
expect "cpu.max" "50000 100000" "$(cat $g/cpu.max 2>&1)"
for c in memory pids cpu; do
	expect "$c enabled along the path" "yes" "$(grep -qw $c $cg/cgroup.subtree_control && grep -qw $c $cg/ci.slice/cgroup.subtree_control && echo yes)"
done
wait $bg
expect "the limited sandbox exits 0" "0" "$?" "$(cat /tmp/limits.out)"
expect "its group is removed" "" "$(leftover)"

# Memory: an allocation over the limit is OOM-killed and reported so.
spec oom '{"process": {"args": ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]},
  "root": {"path": "/"}, "limits": {"memory": "16MiB"}}'
sbxrun oom
expect "an allocation over limits.memory is killed" "137" "$code" "$out"
expect "the report says oomKilled" "1" "$(grep -c '"oomKilled": *true' /tmp/oom.report)" "$(cat /tmp/oom.report)"

# Pids: a fork loop stops at the limit. The loop's shell dies at its first
# failed fork; the sandbox's init then counts what lives, without forking.
spec pids '{"process": {"args": ["/bin/sh", "-c", "sh -c \"for i in \\$(seq 40); do sleep 5 & done\" 2>/dev/null; set -- /proc/[0-9]*; echo $#"]},
  "root": {"path": "/"}, "limits": {"pids": 10}}'
sbxrun pids
expect "a fork loop stops at limits.pids" "0 yes" "$code $(echo "$out" | awk '{ print ($1 > 1 && $1 <= 10 ? "yes" : $1) }')" "$out"

# Timeout: the whole tree, a double fork included, is gone; exit 124.
spec timeout '{"process": {"args": ["/bin/sh", "-c", "(setsid sleep 60 &) ; sleep 60"]},
  "root": {"path": "/"}, "limits": {"timeout": "1s", "pids": 64}}'
sbxrun timeout
expect "limits.timeout exits 124" "124" "$code" "$out"
expect "no sleep is left" "" "$(pidof sleep)"
expect "no group is left" "" "$(leftover)"


# Rootless, as on a desktop: uid 1000 in a cgroup subtree delegated to it,
# laid out and owned as systemd's user@1000.service has it.
u=$cg/user.slice/user@1000.service
mkdir -p $u/app.slice/shell.scope /tmp/u /run/user/1000
for c in memory pids cpu; do
	echo +$c >$cg/cgroup.subtree_control
	echo +$c >$cg/user.slice/cgroup.subtree_control
done
echo "u:x:1000:1000::/tmp/u:/bin/sh" >>/etc/passwd
chown -R 1000:1000 $u /tmp/u /run/user/1000
# asuser SCOPE CMD...: run CMD (words without spaces) as uid 1000 from
# cgroup SCOPE; sets $code and $out.
asuser() {
	s=$1; shift
	out=$(sh -c 'echo $$ >"$0/cgroup.procs" && exec su -s /bin/sh u -c "XDG_RUNTIME_DIR=/run/user/1000 $*"' "$s" "$@" 2>&1)
	code=$?
}
spec rootless '{"process": {"args": ["/bin/sh", "-c", "echo uid $(id -u); cat /proc/self/uid_map"]},
  "root": {"path": "/"}, "limits": {"memory": "48MiB", "pids": 16}}'
asuser $u/app.slice/shell.scope /sbx run --report /tmp/u/rootless.report /tmp/rootless.json
expect "rootless sbx run with limits, delegated" "0 uid 0 0 1000 1" "$code $(echo $out)"
expect "the rootless sandbox's group is gone" "" "$(ls -d $u/app.slice/sbx-* 2>/dev/null)"
spec rootless-oom '{"process": {"args": ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]},
  "root": {"path": "/"}, "limits": {"memory": "16MiB"}}'
asuser $u/app.slice/shell.scope /sbx run --report /tmp/u/oom.report /tmp/rootless-oom.json
expect "rootless OOM kill" "137 1" "$code $(grep -c '"oomKilled": *true' /tmp/u/oom.report)" "$out"
# Limits without delegation: refused, never dropped.
asuser $cg/ci.slice/job.scope /sbx run /tmp/rootless.json
expect "rootless limits without delegation are refused" "125" "$code" "$out"
echo "# $out"
spec rootless-nolimits '{"process": {"args": ["/bin/true"]}, "root": {"path": "/"}}'
asuser $cg/ci.slice/job.scope /sbx run /tmp/rootless-nolimits.json
expect "rootless without limits needs no cgroup" "0" "$code" "$out"

# The OCI runtime: /bundle is `sbx spec`'s config with linux.resources and
# cgroupsPath /vmtest/vm1 (tests/vm_linux_test.go), running sleep 60.
# Output goes through a file: the container keeps the stdio create gave it.
oci() { /sbx "$@" >/tmp/oci.out 2>&1; code=$?; out=$(cat /tmp/oci.out); }
status() { /sbx state vm1 2>&1 | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
c=$cg/vmtest/vm1
oci create --bundle /bundle --pid-file /tmp/vm1.pid vm1
expect "OCI create" "0" "$code" "$out"
expect "state after create" "created" "$(status)"
expect "the pid file names the container's process" "yes" "$(grep -qx "$(cat /tmp/vm1.pid)" $c/cgroup.procs && echo yes)"
expect "OCI memory.max" "67108864" "$(cat $c/memory.max 2>&1)"
expect "OCI pids.max" "32" "$(cat $c/pids.max 2>&1)"
expect "OCI cpu.max" "25000 100000" "$(cat $c/cpu.max 2>&1)"
expect "OCI cpuset.cpus and cpuset.mems" "1 0" "$(cat $c/cpuset.cpus $c/cpuset.mems 2>&1 | tr '\n' ' ' | sed 's/ $//')"
expect "OCI memory.swap.max (swap equal to the limit: none)" "0" "$(cat $c/memory.swap.max 2>&1)"
expect "OCI hugetlb.2MB.max" "4194304" "$(cat $c/hugetlb.2MB.max 2>&1)"
# What Kubernetes sends in v1 terms, converted as containerd/cgroups does
# (its cpu.shares mapping takes the default 1024 to the default weight 100,
# and 512 to 59).
expect "OCI cpu.shares 512 as cpu.weight" "59" "$(cat $c/cpu.weight 2>&1)"
expect "OCI memory.reservation as memory.low" "33554432" "$(cat $c/memory.low 2>&1)"
expect "OCI unified memory.high" "62914560" "$(cat $c/memory.high 2>&1)"
oci start vm1
expect "OCI start" "0 running" "$code $(status)" "$out"
printf '{"memory": {"limit": 134217728}, "pids": {"limit": 64}}\n' >/tmp/res.json
oci update --resources /tmp/res.json vm1
expect "OCI update" "0 134217728 64" "$code $(cat $c/memory.max) $(cat $c/pids.max)" "$out"
# Block I/O on v2: null_blk's device throttled (io.max) and weighted by BFQ
# (io.bfq.weight), through update, as a device's numbers are known only here.
insmod /modules/configfs.ko && insmod /modules/null_blk.ko nr_devices=1 && insmod /modules/bfq.ko &&
	echo bfq >/sys/block/nullb0/queue/scheduler
dev=$(cat /sys/block/nullb0/dev)
expect "null_blk and BFQ loaded" "yes" "$([ -n "$dev" ] && grep -q '\[bfq\]' /sys/block/nullb0/queue/scheduler && echo yes)"
printf '{"blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": %s, "minor": %s, "rate": 1048576}]}}\n' \
	${dev%:*} ${dev#*:} >/tmp/blkio.json
oci update --resources /tmp/blkio.json vm1
expect "OCI update blockIO" "0" "$code" "$out"
expect "io.max throttles the device" "$dev rbps=1048576 wbps=max riops=max wiops=max" "$(cat $c/io.max 2>&1)"
expect "io.bfq.weight" "default 300" "$(head -n 1 $c/io.bfq.weight 2>&1)"
oci pause vm1
expect "OCI pause" "0 paused 1" "$code $(status) $(cat $c/cgroup.freeze)" "$out"
oci resume vm1
expect "OCI resume" "0 running 0" "$code $(status) $(cat $c/cgroup.freeze)" "$out"
oci exec vm1 cat /proc/self/cgroup
expect "OCI exec sees its own cgroup namespace" "0 0::/" "$code $out"
oci exec vm1 grep Cpus_allowed_list /proc/self/status
expect "OCI exec runs on the cpuset" "0 Cpus_allowed_list: 1" "$code $(echo $out)"
# The device filter (an eBPF program on v2): the container's own /dev works,
# a device node it was not granted does not open.
mknod /bundle/rootfs/tmp/loop-control c 10 237 2>/dev/null
oci exec vm1 sh -c 'echo x >/dev/null && head -c 1 /dev/zero | wc -c'
expect "OCI devices: the container's /dev is allowed" "0 1" "$code $(echo $out)"
oci exec vm1 sh -c 'head -c 0 /tmp/loop-control'
expect "OCI devices: another device is denied" "1 Operation not permitted" "$code $(echo "$out" | grep -o 'Operation not permitted')" "$out"
oci ps --format json vm1
expect "OCI ps" "0 [$(cat /tmp/vm1.pid)]" "$code $out"
oci kill --all vm1 KILL
for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(status)" = stopped ] && break; sleep 0.2; done
expect "OCI kill --all" "0 stopped" "$code $(status)" "$out"
oci delete vm1
expect "OCI delete" "0" "$code" "$out"
expect "its cgroup is removed" "gone" "$([ -e $c ] || echo gone)"
oci state vm1
expect "state after delete" "1 does not exist" "$code $(echo "$out" | grep -o 'does not exist')"

# A rootless OCI container of uid 1000 (/bundle-rootless: `sbx spec
# --rootless`, pids limit 24, cgroupsPath vmtest/r1), its group below the
# delegated app.slice, state in $XDG_RUNTIME_DIR/sbx.
r=$u/app.slice/vmtest/r1
uoci() { asuser $u/app.slice/shell.scope /sbx "$@" '>/tmp/u/oci.out' '2>&1'; out=$(cat /tmp/u/oci.out); }
uoci create --bundle /bundle-rootless --pid-file /tmp/u/r1.pid r1
expect "rootless OCI create" "0" "$code" "$out"
expect "its group is below the delegated subtree" "0::/user.slice/user@1000.service/app.slice/vmtest/r1" \
	"$(cat /proc/$(cat /tmp/u/r1.pid)/cgroup 2>&1)"
expect "rootless OCI pids.max" "24" "$(cat $r/pids.max 2>&1)"
uoci start r1
expect "rootless OCI start" "0" "$code" "$out"
uoci exec r1 id -u
expect "rootless OCI exec" "0 0" "$code $out"
uoci kill --all r1 KILL
expect "rootless OCI kill --all" "0" "$code" "$out"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /proc/$(cat /tmp/u/r1.pid) ] || break; sleep 0.2; done
uoci delete r1
expect "rootless OCI delete" "0 gone" "$code $([ -e $r ] || echo gone)" "$out"
expect "nothing left in its state directory" "" "$(ls /run/user/1000/sbx 2>&1)"

# AppArmor, which Debian's kernel enables (this host's has none). Two
# profiles: sbx-vm-test denies reading /etc/passwd, sbx-vm-open does not.
mount -t securityfs securityfs /sys/kernel/security
expect "AppArmor is enabled" "Y" "$(cat /sys/module/apparmor/parameters/enabled)"
expect "sbx features says so" "1" "$(/sbx features | tr -d ' \n' | grep -c '"apparmor":{"enabled":true}')"
for p in sbx-vm-test sbx-vm-open; do
	deny=; [ $p = sbx-vm-test ] && deny='deny /etc/passwd r,'
	printf 'profile %s flags=(attach_disconnected,mediate_deleted) {\n file,\n capability,\n network,\n signal,\n ptrace,\n unix,\n mount,\n umount,\n pivot_root,\n %s\n}\n' $p "$deny" >/tmp/$p
	out=$(/sbin/apparmor_parser -r /tmp/$p 2>&1); code=$?
	expect "apparmor_parser loads $p" "0" "$code" "$out"
done
oci create --bundle /bundle-aa aa1
expect "OCI create with process.apparmorProfile" "0" "$code" "$out"
oci start aa1
oci exec aa1 cat /proc/1/attr/current
expect "the container's process is confined" "0 sbx-vm-test (enforce)" "$code $out"
oci exec aa1 cat /proc/self/attr/current
expect "exec inherits the container's profile" "0 sbx-vm-test (enforce)" "$code $out"
oci exec aa1 cat /etc/passwd
expect "the profile denies /etc/passwd" "1 Permission denied" "$code $(echo "$out" | grep -o 'Permission denied')"
oci exec --apparmor sbx-vm-open aa1 sh -c 'cat /proc/self/attr/current; cat /etc/passwd >/dev/null && echo read'
expect "exec --apparmor" "0 sbx-vm-open (enforce) read" "$code $(echo $out)"
oci exec --apparmor sbx-vm-none aa1 true
expect "exec under a profile not loaded fails" "yes" "$([ $code != 0 ] && echo "$out" | grep -q sbx-vm-none && echo yes)" "$code $out"
echo "# $out"
oci kill aa1 KILL
for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(/sbx state aa1 2>&1 | grep -c stopped)" = 1 ] && break; sleep 0.2; done
oci delete aa1
expect "OCI delete of the confined container" "0" "$code" "$out"

echo "1..$n"
echo "vm: end"
poweroff -f
