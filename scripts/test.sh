#!/usr/bin/env bash
# The project's test command (`npm test`, also run by CI): build and package, type-check, then
# unit, integration (private sshd on 127.0.0.1, real kernel) and editor (real VS Code) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# The bundles and the .vsix the editor tests install, built once for all of them.
npm run --silent package
npm run --silent typecheck
npm run --silent test:unit
npm run --silent test:integration
EBPF_STUDIO_VSIX="$PWD/out/ebpf-studio.vsix" npm run --silent test:editor
