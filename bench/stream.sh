#!/usr/bin/env bash
# Streaming benchmark (SPEC §5, issue 9), one command: a Manim-like six-scene 1080p30 video of about a minute,
# ManimCloud's local ladder (`manimcloud video transcode`, the native CLI ./manimcloud builds) against one ffmpeg run
# per rendition plus a DASH packaging pass with the same x264 settings, and an edit of one scene of six; interleaved
# rounds, medians, ratios. Nothing leaves the machine.
#   bench/stream.sh [--rounds 3] [--seconds-per-scene 10] [--out bench/results/stream.json]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=3 seconds=10 out="$root/bench/results/stream.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds-per-scene) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: bench/stream.sh [--rounds N] [--seconds-per-scene S] [--out FILE]" >&2; exit 2 ;;
  esac
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p "$(dirname "$out")"
"$root/manimcloud" --help >/dev/null   # builds the CLI as it ships (Native AOT when a C toolchain is there)
# shellcheck source=src/ManimCloud.Cli/cli-build.sh
source "$root/src/ManimCloud.Cli/cli-build.sh"
kind="$(cli_kind "$root/out/cli")" cli="$root/out/cli/ManimCloud.Cli"
if [ "$kind" != aot ]; then
  # ReadyToRun / plain builds run through dotnet: a wrapper keeps the benchmark's one executable.
  cli="$(mktemp)"; printf '#!/bin/sh\nexec dotnet %q "$@"\n' "$root/out/cli/ManimCloud.Cli.dll" > "$cli"; chmod +x "$cli"
fi
echo "CLI under test: $kind ($cli)" >&2
dotnet build "$root/bench/StreamBench/StreamBench.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared with other work: figures are noisy)" >&2
dotnet "$root/bench/StreamBench/bin/Release/net10.0/StreamBench.dll" --cli "$cli" --rounds "$rounds" --seconds-per-scene "$seconds" --out "$out"
