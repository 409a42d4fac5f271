#!/usr/bin/env bash
# Renders the Kubernetes manifests of deploy/ with `kubectl kustomize` (offline)
# and validates every rendered object against the Kubernetes schemas and the
# suite's invariants (deploy/validate/validate.mjs, npm package
# kubernetes-models). No cluster is needed.
#
#   bash scripts/validate-manifests.sh            # deploy/base and every deploy/overlays/*
#   bash scripts/validate-manifests.sh DIR...     # only these kustomization directories
#
# An overlay whose directory is named prod* must also pin its images.
# The validator's npm packages are installed into deploy/validate/node_modules
# (npm ci from the committed package-lock.json) the first time, and again
# when the lock file changes. Exit status: 0 all valid, 1 a problem in the
# manifests, 3 a missing tool (kubectl, node, npm) or a failed npm install.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
validate_dir=$repo/deploy/validate

die() { printf 'validate-manifests: %s\n' "$*" >&2; exit 3; }

command -v kubectl >/dev/null ||
  die "kubectl not found: it renders kustomize (kubectl kustomize, kustomize v5); install kubectl 1.27 or later"
command -v node >/dev/null || die "node not found: run scripts/setup.sh (it installs nodejs and npm when missing)"
command -v npm >/dev/null || die "npm not found: run scripts/setup.sh (it installs nodejs and npm when missing)"

# npm ci once per lock file, under a lock: several tests may start this at once.
install_validator() {
  local want stamp=$validate_dir/node_modules/.okr-lock-sha256
  want=$(sha256sum "$validate_dir/package-lock.json" | cut -d' ' -f1)
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  exec 9>"$validate_dir/.install.lock"
  flock 9
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then exec 9>&-; return 0; fi
  echo "validate-manifests: installing the validator's npm packages (npm ci in deploy/validate)"
  local log
  log=$(mktemp)
  if ! (cd "$validate_dir" && npm ci --prefer-offline --no-audit --no-fund) >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    exec 9>&-
    die "npm ci failed in deploy/validate: the npm registry is unreachable and npm's offline cache lacks the packages of package-lock.json (kubernetes-models, yaml); run it again where the registry answers"
  fi
  rm -f "$log"
  echo "$want" >"$stamp"
  exec 9>&-
}
install_validator

dirs=("$@")
if ((${#dirs[@]} == 0)); then
  dirs=("$repo/deploy/base")
  for d in "$repo"/deploy/overlays/*/; do dirs+=("${d%/}"); done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for dir in "${dirs[@]}"; do
  [[ -f "$dir/kustomization.yaml" ]] || die "$dir: no kustomization.yaml"
  name=${dir#"$repo"/}
  out=$work/rendered.yaml
  if ! kubectl kustomize "$dir" >"$out" 2>"$work/kustomize.err"; then
    printf 'FAIL %s: kubectl kustomize failed:\n' "$name"
    sed 's/^/  /' "$work/kustomize.err"
    status=1
    continue
  fi
  flags=(--name "$name")
  [[ "$(basename "$dir")" == prod* ]] && flags+=(--pinned-images)
  node "$validate_dir/validate.mjs" "${flags[@]}" "$out" || status=1
done
if ((status == 0)); then
  echo "validate-manifests: all ${#dirs[@]} kustomization(s) valid"
else
  echo "validate-manifests: problems found (see FAIL lines)"
fi
exit "$status"
