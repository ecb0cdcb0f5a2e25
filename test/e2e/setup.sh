#!/usr/bin/env bash
# Installs what the end-to-end tests need: Debian's chromium, ripgrep and libkrb5-dev (for
# code-server's kerberos module), and code-server 4.100.3 (VS Code 1.100.3) from the npm registry
# into .e2e/code-server. Idempotent: a second run finds everything in place and returns at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/.e2e/code-server"
CODE_SERVER_VERSION=4.100.3

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "e2e setup: please install ${need_apt[*]} (as root: apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
  echo "e2e setup: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -x "$dest/node_modules/.bin/code-server" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$CODE_SERVER_VERSION" ]; then
  echo "e2e setup: code-server $CODE_SERVER_VERSION already in $dest"
  exit 0
fi

# @vscode/ripgrep downloads rg from GitHub unless it finds this archive in its cache: give it
# Debian's rg instead.
tmp=${TMPDIR:-/tmp}
cache="$tmp/vscode-ripgrep-cache-1.15.11"
archive="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$archive" ]; then
  mkdir -p "$cache"
  stage=$(mktemp -d)
  cp "$(command -v rg)" "$stage/rg"
  tar -czf "$archive" -C "$stage" rg
  rm -rf "$stage"
fi

echo "e2e setup: npm install code-server@$CODE_SERVER_VERSION into $dest"
rm -rf "$dest"
mkdir -p "$dest"
echo '{"name":"tuneloop-e2e","private":true}' > "$dest/package.json"
(cd "$dest" && npm_config_yes=true npm_config_unsafe_perm=true npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" >/dev/null)
echo "$CODE_SERVER_VERSION" > "$dest/.version"
echo "e2e setup: done"
