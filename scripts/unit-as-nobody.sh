#!/usr/bin/env bash
# unit-as-nobody.sh [PACKAGES...]: the unit tier as issue 19 defines it.
# `go test` (no tags; ./... unless PACKAGES are given) on a copy of the
# working tree, as nobody when run as root (else as the caller), with a
# private Go build and module cache and a PATH that holds only go and sh,
# so that no test can find chronyd, promtool, prometheus, chromium,
# docker-compose or systemd-analyze. Modules come from the caller's module
# cache through a read-only file:// proxy: no network is needed.
#
# The caches start empty, as on a clean machine, so most of the time goes
# to compiling the dependencies.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
go_bin=$(command -v "${GO:-go}") || { echo "go is not in PATH" >&2; exit 1; }
go_bin=$(readlink -f "$go_bin")
sh_bin=$(readlink -f "$(command -v sh)")
pkgs=("$@")
[[ ${#pkgs[@]} -gt 0 ]] || pkgs=(./...)

# Short paths: the tests make Unix sockets in TMPDIR, and a socket's path
# must fit in 108 bytes.
tmp=$(mktemp -d /tmp/unit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# nobody must reach its parts: src/, home/ and t/ (TMPDIR) are its own.
chmod 755 "$tmp"
mkdir -p "$tmp/bin" "$tmp/proxy" "$tmp/src" "$tmp/home" "$tmp/t"
ln -s "$go_bin" "$tmp/bin/go"
ln -s "$sh_bin" "$tmp/bin/sh"

# The tree as a clone of it would have it, with the work in progress: the
# files git tracks and the untracked ones it does not ignore.
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$tmp/src"
else
  (cd "$root" && tar -cf - .) | tar -xf - -C "$tmp/src"
fi

# The modules this tree needs, from the caller's module cache (filled from
# the module proxy if it lacks any); hard links where the file system
# allows, so that seeding costs nothing.
(cd "$root" && "$go_bin" mod download)
download=$("$go_bin" env GOMODCACHE)/cache/download
cp -al "$download/." "$tmp/proxy/" 2>/dev/null || cp -a "$download/." "$tmp/proxy/"

as=() who=$(id -un)
if [[ $(id -u) -eq 0 ]]; then
  who=nobody
  chown -R nobody:nogroup "$tmp/src" "$tmp/home" "$tmp/t"
  as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
run() {
  "${as[@]}" /usr/bin/env -i \
    HOME="$tmp/home" PATH="$tmp/bin" TMPDIR="$tmp/t" \
    GOCACHE="$tmp/home/cache" GOMODCACHE="$tmp/home/mod" GOPATH="$tmp/home/go" \
    GOPROXY="file://$tmp/proxy" GOSUMDB=off GOENV=off GOTOOLCHAIN=local \
    GOFLAGS="-modcacherw -buildvcs=false" \
    "$@"
}

# The tools must be out of reach, or the tier proves nothing.
run sh -c 'cd "$1" && for t in chronyd chronyc promtool prometheus chromium docker-compose systemd-analyze lintian rpm; do
  if command -v "$t" >/dev/null 2>&1; then echo "unit-as-nobody: $t is in PATH" >&2; exit 1; fi
done' sh "$tmp/src"

echo ">> go test ${pkgs[*]} as $who, with only go and sh in PATH and private Go caches"
# Less noise: each module the private cache takes from the proxy is a line.
run sh -c 'cd "$1" && shift && exec go test -count=1 "$@"' sh "$tmp/src" "${pkgs[@]}" \
  2> >(grep -v '^go: downloading ' >&2)
