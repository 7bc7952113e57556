# Reads `go test -bench` output; prints the median ns/op of each benchmark
# and the spawn issue's ratios.
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkStart\//, "", name)
	n[name]++; v[name, n[name]] = $3
}
function median(name,   i, j, k, a, t, c) {
	c = n[name]
	for (i = 1; i <= c; i++) a[i] = v[name, i]
	for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
END {
	print "\nmedian ns/op"
	for (name in n) { m[name] = median(name); printf "  %-32s %12.0f  (%d runs)\n", name, m[name], n[name] }
	a = m["spawn-userns/heap=1024MiB"]; b = m["spawn-userns/heap=0MiB"]; c = m["osexec-userns/heap=1024MiB"]
	if (a && b && c) {
		printf "\nspawn-userns 1024MiB / 0MiB          = %.2f  (target <= 1.2)\n", a / b
		printf "spawn-userns 1024MiB / osexec 1024MiB = %.3f  (target <= 0.1)\n", a / c
	}
}
