#!/usr/bin/env bash
# Runs the whole ManimCloud test suite. Installs what is missing first (ffmpeg and chromium from apt; moto[server] and
# awscli with pip, only when absent). The browser tests (tests/ManimCloud.Tests/Browser) drive Debian's /usr/bin/chromium
# with Playwright (no browser is downloaded); MANIMCLOUD_TEST_BROWSER=off leaves them out (reported as skipped, with why),
# and without a chromium they fail saying how to get one. The tests start their own moto_server on a free loopback
# port and stop it. The CLI tests run the Native AOT build of the CLI when a C toolchain is there (MANIMCLOUD_BUILD=jit:
# the JIT one).
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Conformance]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { echo "test.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v ffmpeg >/dev/null 2>&1; then
  say "installing ffmpeg (apt)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq ffmpeg >/dev/null
fi
browser_mode="${MANIMCLOUD_TEST_BROWSER:-on}"
if [ "$browser_mode" != off ] && [ -z "${MANIMCLOUD_TEST_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  say "installing chromium (apt)…"
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null; } \
    || say "chromium did not install: the browser tests will fail (MANIMCLOUD_TEST_BROWSER=off skips them)"
fi
if ! python3 -c "import moto.moto_server.werkzeug_app, flask" >/dev/null 2>&1; then
  say "installing moto[server] (pip)…"
  python3 -m pip install --quiet 'moto[server]'
fi
if ! command -v aws >/dev/null 2>&1; then
  say "installing awscli (pip)…"
  python3 -m pip install --quiet awscli
fi
command -v dotnet >/dev/null 2>&1 || { say "error: the .NET 10 SDK (dotnet) is required"; exit 1; }
# Ceph RGW, a real S3 implementation, for the compatibility tests (tests/ManimCloud.Tests/Compatibility): from Debian,
# about a minute. MANIMCLOUD_TEST_CEPH=off leaves those tests out (they are then reported as skipped, with why).
ceph_mode="${MANIMCLOUD_TEST_CEPH:-on}"
if [ "$ceph_mode" != off ] && ! command -v radosgw >/dev/null 2>&1; then
  say "installing Ceph (ceph-mon ceph-osd radosgw ceph-common, apt)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq ceph-mon ceph-osd radosgw ceph-common >/dev/null
fi

# Which CLI the tests run (read before the scrub below): MANIMCLOUD_TEST_CLI names a native one; MANIMCLOUD_BUILD=aot
# insists on the Native AOT build, r2r or jit skips it; unset, the AOT build is used when it can be made.
given_cli="${MANIMCLOUD_TEST_CLI:-}"
given_chromium="${MANIMCLOUD_TEST_CHROMIUM:-}"
cli_mode="${MANIMCLOUD_BUILD:-auto}"

# No configuration from the caller's shell may leak into the tests.
for v in $(env | grep -oE '^(MANIMCLOUD_[A-Z_]+|AWS_[A-Z_]+)' || true); do unset "$v"; done

# The CLI tests run the Native AOT executable when there is one, so that what only breaks trimmed, AOT-compiled code
# (reflection) fails here; it is published into out/test-cli (src/ManimCloud.Cli/cli-build.sh, rebuilt when sources
# change). Without a C toolchain, or if that build fails, they run the ManimCloud.Cli.dll built beside the tests.
# shellcheck source=src/ManimCloud.Cli/cli-build.sh
source "$root/src/ManimCloud.Cli/cli-build.sh"
if [ -n "$given_cli" ]; then
  export MANIMCLOUD_TEST_CLI="$given_cli"
elif [ "$cli_mode" = auto ] || [ "$cli_mode" = aot ]; then
  if ! cli_toolchain >/dev/null; then
    [ "$cli_mode" = auto ] || { say "error: MANIMCLOUD_BUILD=aot, but there is no C toolchain (clang or gcc, with ld.bfd and objcopy)"; exit 1; }
    say "no C toolchain for the Native AOT CLI (clang or gcc, with ld.bfd and objcopy)"
  elif cli_build "$root/out/test-cli" aot; then
    export MANIMCLOUD_TEST_CLI="$root/out/test-cli/ManimCloud.Cli"
  else
    [ "$cli_mode" = auto ] || { say "error: MANIMCLOUD_BUILD=aot, but the Native AOT CLI did not build"; exit 1; }
    say "the Native AOT CLI did not build (out/test-cli.log); the tests run the JIT one instead"
  fi
fi
if [ -n "${MANIMCLOUD_TEST_CLI:-}" ]; then
  say "CLI under test: ${MANIMCLOUD_TEST_CLI#"$root"/} (native)"
else
  say "CLI under test: ManimCloud.Cli.dll beside the tests (JIT, run with dotnet)"
fi

# The browser tests: on, or off (skipped, with why); MANIMCLOUD_TEST_CHROMIUM names another Chromium than /usr/bin's.
[ -z "$given_chromium" ] || export MANIMCLOUD_TEST_CHROMIUM="$given_chromium"
export MANIMCLOUD_TEST_BROWSER="$browser_mode"
# The tests bring their gateway up on first use and stop it when they end; should the test process be killed, this
# stops it (by the folder the tests were told to use) so nothing is left on ports 6789/7480.
export MANIMCLOUD_TEST_CEPH="$ceph_mode" MANIMCLOUD_TEST_CEPH_DIR="${TMPDIR:-/tmp}/manimcloud-test-ceph-$$"

log="$(mktemp)"
trap 'rm -f "$log"; CEPH_DIR="$MANIMCLOUD_TEST_CEPH_DIR" bash "$root/bench/ceph/ceph-rgw-down.sh"' EXIT
set +e
dotnet test "$root/tests/ManimCloud.Tests/ManimCloud.Tests.csproj" -nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line, whatever the runner printed.
summary=$(grep -E '(Passed|Failed)!\s+-\s+Failed:' "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
  failed=$(sed -E 's/.*Failed:\s*([0-9]+).*/\1/' <<<"$summary")
  passed=$(sed -E 's/.*Passed:\s*([0-9]+).*/\1/' <<<"$summary")
  skipped=$(sed -E 's/.*Skipped:\s*([0-9]+).*/\1/' <<<"$summary")
  echo "tests: $passed passed, $failed failed, $skipped skipped"
fi
exit "$status"
