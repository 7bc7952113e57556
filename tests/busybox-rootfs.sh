#!/bin/sh
# busybox-rootfs.sh DIR: assemble a minimal root filesystem from Debian's
# busybox-static in DIR (installing the package as root when it is missing).
# Used by the examples, the black-box tests and the benchmarks.
set -eu
dir=${1:?usage: busybox-rootfs.sh DIR}
bb=/bin/busybox
if ! dpkg -s busybox-static >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null ||
			{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
	else
		echo "busybox-rootfs.sh: a static busybox is missing: run 'sudo apt-get install busybox-static'" >&2
		exit 1
	fi
fi
[ -x "$dir/bin/busybox" ] && [ "$dir/bin/busybox" -nt "$bb" ] && exit 0
tmp=$(mktemp -d "${dir%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/proc" "$tmp/dev" "$tmp/sys" "$tmp/tmp" "$tmp/root"
chmod 1777 "$tmp/tmp"
cp "$bb" "$tmp/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
chmod -R a+rX "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
