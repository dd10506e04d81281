#!/usr/bin/env bash
# Installs code-server (a real VS Code served to a browser) into .tools/code-server, for the editor
# tests and for `npm start` on machines without a desktop `code`. Only the npm registry and Debian's
# packages are reachable, so every step that would download something at install time (ripgrep,
# prebuilt native modules) is replaced: scripts are skipped, native modules are compiled here, and
# Debian's rg stands in for @vscode/ripgrep's. Idempotent: a finished install is left alone.
# Usage: scripts/install-code-server.sh        (CODE_SERVER_VERSION overrides the pinned version)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${CODE_SERVER_VERSION:-4.100.3}"
prefix="$PWD/.tools/code-server"
pkg="$prefix/node_modules/code-server"
vscode="$pkg/lib/vscode"
done_marker="$prefix/.installed-$version"

say() { printf '[code-server] %s\n' "$*"; }
die() { printf '[code-server] error: %s\n' "$*" >&2; exit 1; }

if [ -f "$done_marker" ]; then
  exit 0
fi

node -e 'process.exit(+process.versions.node.split(".")[0] === 20 ? 0 : 1)' \
  || die "code-server $version needs Node.js 20, found $(node --version)"
command -v rg >/dev/null || die "ripgrep is missing (apt-get install ripgrep): code-server's search uses it"
command -v make >/dev/null && command -v g++ >/dev/null \
  || die "make and g++ are needed to compile code-server's native modules (apt-get install build-essential)"
[ -e /usr/include/krb5.h ] || [ -e /usr/include/gssapi/gssapi.h ] \
  || die "libkrb5-dev is needed to compile code-server's kerberos module (apt-get install libkrb5-dev)"

quiet_npm() { npm --no-audit --no-fund --loglevel=error "$@" >/dev/null; }

# Compiles the native modules of the npm project in $1 (those with a binding.gyp, except the
# Windows-only ones) against this Node. `npm rebuild PKG...` runs just their build, since the
# install skipped every script; node-gyp takes the headers from this Node's installation.
rebuild_native() {
  local project="$1" names
  names=$(cd "$project" && find node_modules -maxdepth 3 -name binding.gyp -not -path '*/windows-*' \
            | sed -e 's#^node_modules/##' -e 's#/binding.gyp$##' | sort)
  [ -n "$names" ] || return 0
  # shellcheck disable=SC2086 # one package name per word
  (cd "$project" && npm_config_yes=true npm rebuild --loglevel=error $names >"$prefix/rebuild.log" 2>&1) \
    || die "compiling code-server's native modules ($names) failed; see $prefix/rebuild.log"
}

mkdir -p "$prefix"
if [ ! -f "$pkg/package.json" ] || [ "$(node -p "require('$pkg/package.json').version")" != "$version" ]; then
  say "downloading code-server $version from npm"
  [ -f "$prefix/package.json" ] || echo '{"name":"ebpf-studio-tools","private":true}' >"$prefix/package.json"
  (cd "$prefix" && quiet_npm install --ignore-scripts "code-server@$version")
fi

say "installing VS Code's runtime modules"
(cd "$vscode" && quiet_npm install --omit=dev --ignore-scripts)
(cd "$vscode/extensions" && quiet_npm install --omit=dev --ignore-scripts)

say "compiling native modules"
rebuild_native "$vscode"
rebuild_native "$prefix"   # argon2 (password hashing in code-server's own server)

# @vscode/ripgrep's postinstall downloads a binary from GitHub; Debian's rg is the same program.
mkdir -p "$vscode/node_modules/@vscode/ripgrep/bin"
ln -sf "$(command -v rg)" "$vscode/node_modules/@vscode/ripgrep/bin/rg"
# The server resolves its modules through node_modules.asar (packed in release builds).
ln -sfn node_modules "$vscode/node_modules.asar"

touch "$done_marker"
say "installed in $prefix"
