#!/bin/bash
# systemd/chorus.service must pass `systemd-analyze verify` without a single message (verify exits 0
# even on unknown keys and unparsable values, so any output is a failure), and its hardening must
# keep `systemd-analyze security` exposure at 2.0 ("OK") or below.
#
# usage: systemd_verify_test.sh SOURCE_DIR BIN_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) only when systemd-analyze is missing; scripts/install-deps.sh
# installs it (Debian package systemd), so CI never skips.
set -euo pipefail

src=${1:?source dir}
bin=${2:?bin dir}
analyze=$(command -v systemd-analyze || true)
if [ -z "$analyze" ]; then
  echo "SKIP: systemd-analyze not found (Debian package systemd)"
  exit 77
fi
if [ ! -x "$bin/chorusd" ]; then
  echo "FAIL: $bin/chorusd not built"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify insists that ExecStart='s binary exists: point the copy at the built chorusd. The copy keeps
# the unit's name, so messages read "chorus.service: ...".
unit="$tmp/chorus.service"
sed "s#^ExecStart=/usr/bin/chorusd #ExecStart=$bin/chorusd #" "$src/systemd/chorus.service" >"$unit"
if ! grep -q "^ExecStart=$bin/chorusd --config /etc/chorus/chorus.yml\$" "$unit"; then
  echo "FAIL: expected 'ExecStart=/usr/bin/chorusd --config /etc/chorus/chorus.yml' in the unit"
  exit 1
fi

# What chorusd's own code relies on: the notify protocol and the watchdog it pings.
for line in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' 'StateDirectory=chorus' \
  'EnvironmentFile=-/etc/default/chorus' 'Restart=on-failure'; do
  if ! grep -qxF "$line" "$unit"; then
    echo "FAIL: '$line' missing from the unit"
    exit 1
  fi
done

# --man=no: no man pages are installed here; --generators=no: nothing outside the unit matters.
rc=0
out=$(cd "$tmp" && timeout 60 "$analyze" verify --man=no --generators=no "$unit" 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify (exit $rc):"
  echo "$out"
  exit 1
fi
echo "ok: systemd-analyze verify is silent"

# --threshold=20: exit non-zero when the overall exposure exceeds 2.0 (0 = locked down, 10 = none).
rc=0
out=$(timeout 60 "$analyze" security --offline=yes --threshold=20 "$unit" 2>&1) || rc=$?
echo "$out" | tail -n 1
if [ "$rc" -ne 0 ]; then
  echo "FAIL: systemd-analyze security exposure above 2.0 (exit $rc):"
  echo "$out" | grep -F '✗' || true
  exit 1
fi
echo "PASS"
