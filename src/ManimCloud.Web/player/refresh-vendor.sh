#!/usr/bin/env bash
# Refreshes the vendored players of the /watch page from npm: installs exactly what package-lock.json pins (or, with
# --update, the versions package.json names, rewriting the lock), then copies the minified builds and their licences
# into ../wwwroot/vendor/ and writes VERSIONS.txt. The copies are committed, so running the service needs no npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [ "${1:-}" = --update ]; then npm install --no-audit --no-fund --ignore-scripts; else npm ci --no-audit --no-fund --ignore-scripts; fi
out="$here/../wwwroot/vendor"
rm -rf "$out" && mkdir -p "$out"
cp node_modules/hls.js/dist/hls.min.js "$out/hls.min.js"
cp node_modules/hls.js/LICENSE "$out/hls.js.LICENSE"
cp node_modules/dashjs/dist/modern/umd/dash.mediaplayer.min.js "$out/dash.mediaplayer.min.js"
cp node_modules/dashjs/LICENSE.md "$out/dashjs.LICENSE.md"
cp node_modules/tus-js-client/dist/tus.min.js "$out/tus.min.js"
cp node_modules/tus-js-client/LICENSE "$out/tus-js-client.LICENSE"
{
  echo "Vendored by src/ManimCloud.Web/player/refresh-vendor.sh from npm (versions pinned in package-lock.json):"
  for p in hls.js dashjs tus-js-client; do
    node -e "const p=require('./node_modules/$p/package.json');console.log(p.name+' '+p.version+' ('+p.license+')')"
  done
} >"$out/VERSIONS.txt"
# The minified builds end with a sourceMappingURL the service does not serve; drop it so browsers ask for nothing else.
sed -i -E 's@//# sourceMappingURL=[^ ]*$@@' "$out"/*.js
cat "$out/VERSIONS.txt"
