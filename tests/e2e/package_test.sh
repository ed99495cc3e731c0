#!/bin/bash
# The Debian package an operator installs: runs cpack with the build directory's CPackConfig.cmake
# into a temporary directory (the build must be done: cpack only installs, it does not build), then
# checks with dpkg-deb what `apt install ./chorus_*.deb` would put on the machine: the binaries, the
# unit, the default config and environment file as conffiles (the latter root-only), the dashboards
# and alerting rules, Depends computed from the linked libraries, and maintainer scripts that parse.
# The packaged chorusd must run from the extracted tree and accept the packaged default config with
# an empty environment (a fresh install starts without any secret set).
#
# usage: package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=${1:?build dir}
src=${2:?source dir}
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

for tool in cpack dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool not found (cpack: cmake; dpkg-shlibdeps: dpkg-dev)"
    exit 1
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! timeout 240 cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  echo "FAIL: cpack:"
  cat "$tmp/cpack.log"
  exit 1
fi
shopt -s nullglob
debs=("$tmp"/out/chorus_*.deb)
if [ "${#debs[@]}" -ne 1 ]; then
  echo "FAIL: expected one chorus_*.deb, got: ${debs[*]:-none}"
  cat "$tmp/cpack.log"
  exit 1
fi
deb=${debs[0]}
echo "package: $(basename "$deb") ($(du -h "$deb" | cut -f1))"

# --- control ---
info=$(dpkg-deb -I "$deb")
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = chorus ] || fail "Package is '$(field Package)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
echo "Depends: $depends"
# dpkg-shlibdeps ran: the libraries chorusd links appear as packages.
for lib in libc6 librocksdb libsystemd0 libyaml-cpp; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib"
done
for script in conffiles postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +[*]? *$script( |$)" <<<"$info" || fail "control member $script missing"
done
dpkg-deb -e "$deb" "$tmp/control"
conffiles=$(sort "$tmp/control/conffiles")
expected=$(printf '%s\n' /etc/chorus/chorus.yml /etc/default/chorus)
[ "$conffiles" = "$expected" ] || fail "conffiles are: $conffiles"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "$script not executable"
  sh -n "$tmp/control/$script" || fail "$script does not parse"
done

# --- contents ---
contents=$(dpkg-deb -c "$deb")
# "mode owner/group size date time ./path" -> mode and path of each entry.
has() { awk -v p="./$1" '$6 == p || $6 == p "/" { found = 1 } END { exit !found }' <<<"$contents"; }
mode_of() { awk -v p="./$1" '$6 == p { print $1 }' <<<"$contents"; }
for path in usr/bin/chorusd usr/bin/chorusctl lib/systemd/system/chorus.service etc/chorus/chorus.yml \
  etc/default/chorus usr/share/chorus/dashboards usr/share/doc/chorus/README.md; do
  has "$path" || fail "$path not in the package"
done
[ "$(mode_of etc/default/chorus)" = "-rw-------" ] || fail "/etc/default/chorus mode is $(mode_of etc/default/chorus), want -rw-------"
[ "$(mode_of usr/bin/chorusd)" = "-rwxr-xr-x" ] || fail "/usr/bin/chorusd mode is $(mode_of usr/bin/chorusd)"
awk '$2 != "root/root" { bad = 1; print "owner " $2 " for " $6 } END { exit bad }' <<<"$contents" ||
  fail "files not owned by root"
# Every dashboard and provisioning file, and every alerting-rules file (not the promtool tests).
if [ -d "$src/dashboards" ]; then
  while IFS= read -r f; do
    has "usr/share/chorus/dashboards/${f#"$src"/dashboards/}" || fail "dashboard file $f not packaged"
  done < <(find "$src/dashboards" -type f)
fi
if [ -d "$src/prometheus" ]; then
  for f in "$src"/prometheus/*.yml; do
    case "$(basename "$f")" in *test*) continue ;; esac
    has "usr/share/chorus/prometheus/$(basename "$f")" || fail "rules file $f not packaged"
  done
fi

# --- what gets installed works together ---
dpkg-deb -x "$deb" "$tmp/root"
unit="$tmp/root/lib/systemd/system/chorus.service"
grep -qx 'ExecStart=/usr/bin/chorusd --config /etc/chorus/chorus.yml' "$unit" ||
  fail "the unit does not start /usr/bin/chorusd with /etc/chorus/chorus.yml"
grep -qx 'EnvironmentFile=-/etc/default/chorus' "$unit" || fail "the unit does not read /etc/default/chorus"
cmp -s "$tmp/root/etc/chorus/chorus.yml" "$src/config/chorus.yml" || fail "packaged config differs from config/chorus.yml"
timeout 20 "$tmp/root/usr/bin/chorusd" --version >"$tmp/version.log" 2>&1 || fail "packaged chorusd --version: $(cat "$tmp/version.log")"
if ! timeout 20 env -i "$tmp/root/usr/bin/chorusd" --check-config --config "$tmp/root/etc/chorus/chorus.yml" \
  >"$tmp/check.log" 2>&1; then
  fail "the packaged default config is rejected with no environment:"
  cat "$tmp/check.log"
fi
timeout 20 "$tmp/root/usr/bin/chorusctl" --help >/dev/null 2>&1 || fail "packaged chorusctl --help fails"
if file "$tmp/root/usr/bin/chorusd" | grep -q 'not stripped'; then fail "chorusd is not stripped"; fi

# --- install, upgrade, purge: into a scratch dpkg root, so the machine running the test is not
# touched (the maintainer scripts leave systemd alone when DPKG_ROOT is set) ---
r="$tmp/dpkgroot"
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates"
touch "$r/var/lib/dpkg/status"
dpkg_r() {
  # --force-depends: the scratch root has no libraries installed; --force-confold: keep edited
  # conffiles without asking, as an operator answering "keep" would.
  timeout 60 dpkg --root="$r" --log=/dev/null --force-depends --force-script-chrootless --force-confold \
    "$@" >>"$tmp/dpkg.log" 2>&1
}
dpkg_r -i "$deb" || fail "dpkg -i into a scratch root: $(cat "$tmp/dpkg.log")"
[ -x "$r/usr/bin/chorusd" ] || fail "chorusd not installed by dpkg -i"
echo "sources: [] # edited by the operator" >>"$r/etc/chorus/chorus.yml"
mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
ln -s /lib/systemd/system/chorus.service "$r/etc/systemd/system/multi-user.target.wants/chorus.service"
dpkg_r -i "$deb" || fail "reinstall (upgrade path): $(cat "$tmp/dpkg.log")"
grep -q "edited by the operator" "$r/etc/chorus/chorus.yml" || fail "an upgrade overwrote the edited conffile"
dpkg_r --purge chorus || fail "dpkg --purge: $(cat "$tmp/dpkg.log")"
for path in usr/bin/chorusd etc/chorus/chorus.yml etc/default/chorus lib/systemd/system/chorus.service \
  etc/systemd/system/multi-user.target.wants/chorus.service; do
  if [ -e "$r/$path" ] || [ -L "$r/$path" ]; then fail "/$path left behind after purge"; fi
done

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s); package contents:"
  echo "$contents"
  exit 1
fi
echo "PASS"
