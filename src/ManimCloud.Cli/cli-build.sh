# Builds the manimcloud CLI; sourced by ./manimcloud and ./test.sh (bash). Three kinds, fastest start first:
#   aot  Native AOT: one native executable, OUT/ManimCloud.Cli (~0.02 s of CPU for --help). Needs a C toolchain:
#        clang, the newest clang-NN or gcc, with the bfd linker and objcopy (binutils).
#   r2r  ReadyToRun: OUT/ManimCloud.Cli.dll precompiled for this machine, run by dotnet (~0.06 s for --help).
#   jit  a plain build of OUT/ManimCloud.Cli.dll (compiled as it runs).
# "auto" tries them in that order; a named kind builds that kind or fails. OUT/.build holds "KIND WANTED" and is the
# stamp the sources are compared with. Messages go to stderr.

cli_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cli_project="$cli_root/src/ManimCloud.Cli/ManimCloud.Cli.csproj"

cli_say() { echo "manimcloud: $*" >&2; }

# The C compiler for the Native AOT link (printed), or non-zero when there is none it can use.
cli_toolchain() {
  command -v ld.bfd >/dev/null 2>&1 || return 1
  command -v objcopy >/dev/null 2>&1 || command -v llvm-objcopy >/dev/null 2>&1 || return 1
  if command -v clang >/dev/null 2>&1; then echo clang; return 0; fi
  local newest
  newest=$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2,2n -u | tail -n 1 || true)
  if [ -n "$newest" ]; then echo "$newest"; return 0; fi
  if command -v gcc >/dev/null 2>&1; then echo gcc; return 0; fi
  return 1
}

# The kind built in OUT (aot, r2r, jit), or nothing.
cli_kind() {
  local built="" wanted=""
  [ -f "$1/.build" ] && read -r built wanted <"$1/.build"
  echo "$built"
}

# True when OUT needs building for WANTED: nothing built, built for another WANTED, or sources newer than the build.
cli_stale() {
  local out=$1 wanted=$2 built="" want=""
  [ -f "$out/.build" ] && read -r built want <"$out/.build" || return 0
  [ "$want" = "$wanted" ] || return 0
  case $built in
    aot) [ -x "$out/ManimCloud.Cli" ] || return 0 ;;
    r2r | jit) [ -f "$out/ManimCloud.Cli.dll" ] || return 0 ;;
    *) return 0 ;;
  esac
  # (Not obj/ or bin/: a build writes generated .cs files there. wwwroot/ holds files the web service embeds.)
  [ -n "$(find "$cli_root/src" "$cli_root/Directory.Build.props" \( -name obj -o -name bin \) -prune -o -newer "$out/.build" \
    \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name cli-build.sh -o -path '*/wwwroot/*' \) -print -quit 2>/dev/null)" ]
}

# Builds OUT for WANTED (auto, aot, r2r, jit) unless it is up to date; one build at a time per checkout.
cli_build() {
  local out=$1 wanted=$2
  case $wanted in auto | aot | r2r | jit) ;; *)
    cli_say "error: MANIMCLOUD_BUILD=$wanted is not a build kind."
    cli_say "  fix: use aot, r2r or jit (or leave it unset: the fastest that builds)."
    return 2 ;;
  esac
  if ! command -v dotnet >/dev/null 2>&1; then
    cli_say "error: the .NET SDK (dotnet) is not installed."
    cli_say "  fix: install the .NET 10 SDK (https://dot.net), then run ./manimcloud again."
    return 1
  fi
  mkdir -p "$cli_root/out"
  (
    flock 9
    cli_stale "$out" "$wanted" || exit 0
    _cli_build_now "$out" "$wanted"
  ) 9>"$cli_root/out/.build.lock"
}

_cli_build_now() {
  local out=$1 wanted=$2 kinds rid="" cc="" built="" next="$1.new" log="$1.log" where="${1#"$cli_root"/}"
  case $wanted in auto) kinds="aot r2r jit" ;; *) kinds=$wanted ;; esac
  case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64 | arm64) rid=linux-arm64 ;; esac
  [ -n "$rid" ] && [ "$(uname -s)" = Darwin ] && rid="osx-${rid#linux-}"
  local quiet=(-nologo -v quiet -clp:"ErrorsOnly;NoSummary")
  # The stamp takes the time the build started: a source saved during the build is newer, and builds again.
  touch "$out.started"
  for kind in $kinds; do
    rm -rf "$next"
    case $kind in
      aot)
        if [ -z "$rid" ]; then cli_say "no Native AOT build on $(uname -sm)"; continue; fi
        if ! cc=$(cli_toolchain); then
          cli_say "no C toolchain for a Native AOT build (clang or gcc, with binutils' ld.bfd and objcopy)"
          continue
        fi
        cli_say "building $where: Native AOT with $cc (first run or sources changed; about a minute)…"
        if dotnet publish "$cli_project" -c Release -r "$rid" -p:PublishAot=true -p:CppCompilerAndLinker="$cc" \
          -o "$next" "${quiet[@]}" >"$log" 2>&1; then
          built=aot; break
        fi
        grep -m 5 -E ': error ' "$log" | cut -c1-300 >&2 || true
        cli_say "the Native AOT build failed (its output: ${log#"$cli_root"/})"
        ;;
      r2r)
        # Precompiled for this machine, so a command does not spend its first second compiling the AWS SDK. The
        # ReadyToRun compiler comes from NuGet.
        if [ -z "$rid" ]; then continue; fi
        cli_say "building $where: ReadyToRun…"
        if dotnet publish "$cli_project" -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true \
          -p:UseAppHost=false -o "$next" "${quiet[@]}" >&2; then
          built=r2r; break
        fi
        cli_say "the ReadyToRun build failed"
        ;;
      jit)
        cli_say "building $where: plain build…"
        if dotnet build "$cli_project" -c Release -o "$next" "${quiet[@]}" >&2; then
          built=jit; break
        fi
        ;;
    esac
  done
  if [ -z "$built" ]; then
    rm -rf "$next" "$out.started"
    cli_say "error: could not build the manimcloud CLI ($kinds)."
    cli_say "  fix: see the messages above; MANIMCLOUD_BUILD=r2r or jit skips the Native AOT build."
    return 1
  fi
  echo "$built $wanted" >"$next/.build"
  touch -r "$out.started" "$next/.build"
  rm -f "$out.started"
  # Swapped in whole, so no command starts from a half-written build.
  rm -rf "$out.old"
  if [ -e "$out" ]; then mv "$out" "$out.old"; fi
  mv "$next" "$out"
  rm -rf "$out.old"
}
