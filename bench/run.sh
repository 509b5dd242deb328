#!/usr/bin/env bash
# The transfer benchmark for issue 3, in one command: builds bench/ in Release, then runs TransferBench
# against FastS3 (always), and against moto and Ceph RGW when asked. All traffic stays on 127.0.0.1.
#
#   bench/run.sh [--size 256MiB] [--runs 3] [--moto] [--ceph] [--no-fast] [--tls] [--no-build] [--out DIR] [-- extra TransferBench args]
#
# --tls: FastS3 over HTTPS on loopback with a self-signed certificate made at its start; every client trusts it
# through SSL_CERT_FILE (.NET on Linux) and AWS_CA_BUNDLE (AWS CLI), pointed at the PEM FastS3 writes.
# With --ceph, --tls also measures Ceph RGW over HTTPS: nginx terminates TLS on 127.0.0.1:7443 (a self-signed
# certificate made here) and forwards to RGW on 7480, unbuffered, the Host header kept so signatures still verify.
#
# --no-build: run what the last run built (each Native AOT publish takes minutes on a loaded 2-core machine).
# The quick default is 256 MiB x 3 rounds; the issue's figure is `bench/run.sh --size 1GiB`.
# Results: DIR/transfer-<endpoint>.json (DIR defaults to bench/results/), and the tables on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
size=256MiB runs=3 fast=1 moto=0 ceph=0 tls=0 build=1 out="$here/results" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --moto) moto=1; shift ;;
    --ceph) ceph=1; shift ;;
    --no-fast) fast=0; shift ;;
    --tls) tls=1; shift ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    --no-build) build=0; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# GNU time measures each client's CPU and peak memory.
if [ ! -x /usr/bin/time ]; then
  echo "Installing GNU time…"; apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null
fi
command -v aws >/dev/null || { echo "The AWS CLI (aws) is not on PATH; install it with 'pip install awscli'." >&2; exit 2; }

if [ $build = 1 ]; then
echo "Building bench/ (Release)…"
for p in FastS3 TuClient McClient TransferBench; do
  dotnet build "$here/$p/$p.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null \
    || { dotnet build "$here/$p/$p.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly; exit 1; }
done
# How the .NET clients are compiled:
# - TuClient (TransferUtility) precompiled ReadyToRun into its build folder: it starts without compiling the AWS SDK
#   first, which is kinder to it than the JIT build a .NET application normally runs as.
# - McClient as ./manimcloud builds the CLI: Native AOT when a C toolchain (clang) is there, else ReadyToRun.
# - TuClient also Native AOT, into bin/Release/aot (the tu-*-aot anchors): the same compilation as ManimCloud's, so
#   what differs is the work each does per byte. Skipped without a toolchain.
# A plain build stays for any publish that fails, and the report says which ran.
case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64|arm64) rid=linux-arm64 ;; *) rid="" ;; esac
# The C toolchain exactly as ./manimcloud picks it (src/ManimCloud.Cli/cli-build.sh).
# shellcheck source=../src/ManimCloud.Cli/cli-build.sh
source "$here/../src/ManimCloud.Cli/cli-build.sh"
cc=$(cli_toolchain || true)
r2r() { # project output-folder
  [ -n "$rid" ] && dotnet publish "$here/$1/$1.csproj" -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true \
    -o "$2" -nologo -v quiet -clp:ErrorsOnly >/dev/null
}
aot() { # project output-folder
  [ -n "$rid" ] && [ -n "$cc" ] && dotnet publish "$here/$1/$1.csproj" -c Release -r "$rid" -p:PublishAot=true -p:CppCompilerAndLinker="$cc" \
    -o "$2" -nologo -v quiet -clp:ErrorsOnly >/dev/null
}
r2r TuClient "$here/TuClient/bin/Release/net10.0" || echo "note: TuClient stays JIT-compiled (ReadyToRun publish failed)" >&2
rm -rf "$here/TuClient/bin/Release/aot"
aot TuClient "$here/TuClient/bin/Release/aot" || { rm -rf "$here/TuClient/bin/Release/aot"; echo "note: no Native AOT TransferUtility (no C toolchain, or the publish failed)" >&2; }
rm -rf "$here/McClient/bin/Release/aot"
if ! aot McClient "$here/McClient/bin/Release/aot"; then
  rm -rf "$here/McClient/bin/Release/aot"
  echo "note: ManimCloud's client is not Native AOT (no C toolchain, or the publish failed); ReadyToRun instead" >&2
  r2r McClient "$here/McClient/bin/Release/net10.0" || echo "note: McClient stays JIT-compiled (ReadyToRun publish failed)" >&2
fi
fi
mkdir -p "$out"
bench="$here/TransferBench/bin/Release/net10.0/TransferBench"
status=0
common=(--size "$size" --runs "$runs" "${extra[@]}")

if [ $fast = 1 ] && [ $tls = 0 ]; then
  echo; echo "=== FastS3 (loopback, in bench/FastS3) ==="
  "$bench" --start-fast "${common[@]}" --out "$out/transfer-fasts3.json" || status=1
fi

if [ $fast = 1 ] && [ $tls = 1 ]; then
  echo; echo "=== FastS3 over HTTPS (loopback, self-signed certificate) ==="
  # The PEM does not exist yet: FastS3 writes it when TransferBench starts it. .NET reads SSL_CERT_FILE from the
  # environment its process started with, so the path is fixed here and exported before TransferBench starts.
  tls_dir="$(mktemp -d /tmp/fasts3-tls.XXXXXX)"
  ca="$tls_dir/fasts3-ca.pem"
  SSL_CERT_FILE="$ca" AWS_CA_BUNDLE="$ca" \
    "$bench" --start-fast --tls "$ca" "${common[@]}" --out "$out/transfer-fasts3-tls.json" || status=1
  rm -rf "$tls_dir"
fi

if [ $moto = 1 ]; then
  command -v moto_server >/dev/null || pip install -q 'moto[server]'
  echo; echo "=== moto_server (loopback; tops out near 35 MB/s, so client differences shrink) ==="
  "$bench" --moto "${common[@]}" --out "$out/transfer-moto.json" || status=1
fi

if [ $ceph = 1 ]; then
  echo; echo "=== Ceph RGW at 127.0.0.1:7480 (checksums when-required, SPEC §4; no SSE header from any client: this RGW has no SSE configured) ==="
  started_ceph=0
  if ! curl -s -o /dev/null http://127.0.0.1:7480/; then
    command -v radosgw >/dev/null || { echo "Installing Ceph…"; apt-get update -qq >/dev/null && apt-get install -y -qq ceph-mon ceph-osd radosgw ceph-common >/dev/null; }
    bash "$here/ceph/ceph-rgw-up.sh" >/dev/null && curl -s -o /dev/null http://127.0.0.1:7480/ \
      || { echo "Ceph RGW did not come up on 127.0.0.1:7480 (is port 6789 or 7480 taken?); see /tmp/ceph/log." >&2; exit 1; }
    started_ceph=1
  fi
  AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret \
    "$bench" --endpoint http://127.0.0.1:7480 --checksum when-required "${common[@]}" --out "$out/transfer-ceph.json" || status=1
  if [ $tls = 1 ]; then
    echo; echo "=== Ceph RGW over HTTPS (nginx TLS proxy on 127.0.0.1:7443 in front of 7480, self-signed certificate) ==="
    command -v nginx >/dev/null || { echo "Installing nginx-light…"; apt-get update -qq >/dev/null && apt-get install -y -qq nginx-light >/dev/null; }
    tls_dir="$(mktemp -d /tmp/ceph-tls.XXXXXX)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 -subj /CN=127.0.0.1 \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
      -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" 2>/dev/null
    cat > "$tls_dir/nginx.conf" <<NGINX
worker_processes 1;
pid $tls_dir/nginx.pid;
error_log $tls_dir/error.log;
events { worker_connections 256; }
http {
  access_log off;
  upstream rgw { server 127.0.0.1:7480; keepalive 32; }
  server {
    listen 127.0.0.1:7443 ssl;
    ssl_certificate $tls_dir/cert.pem;
    ssl_certificate_key $tls_dir/key.pem;
    client_max_body_size 0;
    client_body_temp_path $tls_dir/body;
    proxy_temp_path $tls_dir/proxy;
    location / {
      proxy_pass http://rgw;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
NGINX
    if nginx -c "$tls_dir/nginx.conf" -p "$tls_dir" -e "$tls_dir/error.log" 2>/dev/null; then
      SSL_CERT_FILE="$tls_dir/cert.pem" AWS_CA_BUNDLE="$tls_dir/cert.pem" AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret \
        "$bench" --endpoint https://127.0.0.1:7443 --checksum when-required "${common[@]}" --out "$out/transfer-ceph-tls.json" || status=1
      kill "$(cat "$tls_dir/nginx.pid")" 2>/dev/null || true
    else
      echo "nginx did not start on 127.0.0.1:7443 (port taken?); see $tls_dir/error.log" >&2; status=1
    fi
    sleep 0.5; rm -rf "$tls_dir"
  fi
  # A Ceph that was already running is someone's; only the one started here is stopped.
  [ $started_ceph = 1 ] && bash "$here/ceph/ceph-rgw-down.sh"
fi
exit $status
