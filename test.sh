#!/usr/bin/env bash
# Runs the whole ManimCloud test suite. Installs what is missing first (ffmpeg from apt; moto[server] and awscli
# with pip, only when absent). The tests start their own moto_server on a free loopback port and stop it.
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
if ! python3 -c "import moto.moto_server.werkzeug_app, flask" >/dev/null 2>&1; then
  say "installing moto[server] (pip)…"
  python3 -m pip install --quiet 'moto[server]'
fi
if ! command -v aws >/dev/null 2>&1; then
  say "installing awscli (pip)…"
  python3 -m pip install --quiet awscli
fi
command -v dotnet >/dev/null 2>&1 || { say "error: the .NET 10 SDK (dotnet) is required"; exit 1; }

# No configuration from the caller's shell may leak into the tests.
for v in $(env | grep -oE '^(MANIMCLOUD_[A-Z_]+|AWS_[A-Z_]+)' || true); do unset "$v"; done

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
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
