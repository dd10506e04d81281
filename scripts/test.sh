#!/usr/bin/env bash
# The project's test command (`npm test`, also run by CI): build, type-check, then unit,
# integration (private sshd on 127.0.0.1, real kernel) and editor (real VS Code) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
npm run --silent typecheck
npm run --silent test:unit
npm run --silent test:integration
npm run --silent test:editor
