#!/usr/bin/env bash
# Sync benchmark (SPEC §5, issue 4): 1,000 small code files synced by ManimCloud vs `aws s3 sync`, same endpoints.
# One command: builds, starts the servers on free loopback ports, runs the benchmark, stops them, prints the table.
#   bench/sync.sh [--rounds N (default 5; -1: only the per-request probe)] [--shape 100x10|1000x1|both] [--probe N (requests per kind, 0 = off)]
#                 [--s3 fasts3|moto (default fasts3)]
# --s3 fasts3: all S3 traffic (aws s3 sync's and ManimCloud's, via AWS_ENDPOINT_URL_S3 / S3EndpointUrl) goes to
# bench/FastS3, and moto_server serves only DynamoDB. moto spends ~2–3 ms of CPU per S3 PUT in one Python process
# on the same two cores as the clients, which made S3 the bottleneck for every client alike.
# --s3 moto: everything on moto_server, as before.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=5 shape=100x10 probe=150 s3=fasts3
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --shape) shape="$2"; shift 2 ;;
    --probe) probe="$2"; shift 2 ;;
    --s3) s3="$2"; shift 2 ;;
    *) echo "usage: bench/sync.sh [--rounds N] [--shape 100x10|1000x1|both] [--probe N] [--s3 fasts3|moto]" >&2; exit 2 ;;
  esac
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
case "$s3" in fasts3|moto) ;; *) echo "error: --s3 must be fasts3 or moto" >&2; exit 2 ;; esac
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB MANIMCLOUD_HOME MANIMCLOUD_VIDEO_BUCKET MANIMCLOUD_CODE_BUCKET MANIMCLOUD_TABLE || true

# The real executables, not pyenv shims (a shim adds ~0.1 s of bash to every aws start-up, which would flatter ManimCloud).
resolve() { (command -v pyenv >/dev/null && pyenv which "$1" 2>/dev/null) || command -v "$1"; }
aws_bin="$(resolve aws)"; moto_bin="$(resolve moto_server)"
[ -x "$aws_bin" ] || { echo "error: the AWS CLI is missing (pip install awscli)" >&2; exit 1; }
[ -x "$moto_bin" ] || { echo "error: moto_server is missing (pip install 'moto[server]')" >&2; exit 1; }

echo "building (Release)…" >&2
dotnet build "$root/bench/SyncBench/SyncBench.csproj" -c Release -nologo -v quiet -clp:"ErrorsOnly;NoSummary" >&2
[ "$s3" = fasts3 ] && dotnet build "$root/bench/FastS3/FastS3.csproj" -c Release -nologo -v quiet -clp:"ErrorsOnly;NoSummary" >&2
"$root/manimcloud" --help >/dev/null 2>&1 || true   # the CLI builds itself on first use; keep that out of the timings

work="$(mktemp -d /tmp/syncbench.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# moto as the tests run it (tests/…/Support/moto_serialized.py): requests one at a time, as DynamoDB's isolation
# requires, and a transaction's rollback snapshot taken once per table instead of once per item (moto copies a
# whole table per item, seconds of CPU for one 100-item transaction). Same moto, same answers.
python_bin="$(dirname "$moto_bin")/python3"; [ -x "$python_bin" ] || python_bin=python3
"$python_bin" "$root/tests/ManimCloud.Tests/Support/moto_serialized.py" 127.0.0.1 "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
fasts3_pid=""
cleanup() {
  kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true
  if [ -n "$fasts3_pid" ]; then kill "$fasts3_pid" 2>/dev/null || true; wait "$fasts3_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/" && break
  sleep 0.1
done
echo "moto_server pid $moto_pid on 127.0.0.1:$port; load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2
s3_args=()
if [ "$s3" = fasts3 ]; then
  # FastS3 prints its URL as the first line on stdout; --log writes one line per request (counted per run).
  "$root/bench/FastS3/bin/Release/net10.0/FastS3" --root "$work/fasts3" --log >"$work/fasts3.url" 2>"$work/fasts3.log" &
  fasts3_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/fasts3.url" ] && break; sleep 0.1; done
  s3_url="$(head -1 "$work/fasts3.url")"
  [ -n "$s3_url" ] || { echo "error: FastS3 did not start; see below" >&2; cat "$work/fasts3.log" >&2; exit 1; }
  echo "FastS3 pid $fasts3_pid on $s3_url serves S3; moto serves DynamoDB" >&2
  s3_args=(--s3-endpoint "$s3_url" --s3-pid "$fasts3_pid" --s3-log "$work/fasts3.log")
fi

shapes="$shape"; [ "$shape" = both ] && shapes="100x10 1000x1"
for s in $shapes; do
  out="$root/bench/SyncBench/results-$s.json"; [ "$rounds" -lt 0 ] && out="$root/bench/SyncBench/results-probe.json"
  dotnet "$root/bench/SyncBench/bin/Release/net10.0/SyncBench.dll" --endpoint "http://127.0.0.1:$port" --repo "$root" \
    --aws "$aws_bin" --moto-log "$work/moto.log" --moto-pid "$moto_pid" --rounds "$rounds" --shape "$s" --probe "$probe" --work "$work" --out "$out" "${s3_args[@]}"
done
