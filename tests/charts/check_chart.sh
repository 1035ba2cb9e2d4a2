#!/usr/bin/env bash
# Checks charts/mast with the real Helm and kubectl (ctest: ChartTest.*):
#   lint, render with the default and the full values (tests/charts/
#   full-values.yaml), compare with the golden files (MAST_UPDATE_GOLDEN=1
#   rewrites them), decode every object with kubectl (client side: a dry-run
#   apply or create needs a cluster to ask for its API groups, so the objects
#   go through `kubectl label --local --dry-run=client`), check that each
#   mastd flag the StatefulSet passes is one mastd knows, and that bad values
#   are refused with a message.
# Usage: check_chart.sh <helm> <kubectl> <mastd>
set -euo pipefail
helm=$1 kubectl=$2 mastd=$3
here=$(cd "$(dirname "$0")" && pwd)
chart=$here/../../charts/mast
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# Helm warns on stderr that files/alerts.yaml is a link (to ops/prometheus).
quiet() { grep -v 'found symbolic link in path' >&2 || true; }

render() {  # name, extra helm args...
  local name=$1
  shift
  "$helm" template mast "$chart" --namespace mast "$@" >"$work/$name.yaml" 2> >(quiet)
}

for values in "" "$here/full-values.yaml"; do
  args=()
  [ -n "$values" ] && args=(-f "$values")
  "$helm" lint --strict "$chart" "${args[@]}" >"$work/lint.out" 2> >(quiet) ||
    { cat "$work/lint.out" >&2; fail "helm lint ${values:-defaults}"; }
done

render default
render full -f "$here/full-values.yaml"

for name in default full; do
  golden=$here/golden/$name.yaml
  if [ "${MAST_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$work/$name.yaml" "$golden"
    echo "updated $golden"
  elif ! diff -u "$golden" "$work/$name.yaml" >&2; then
    fail "$name render differs from $golden (MAST_UPDATE_GOLDEN=1 rewrites it)"
  fi

  # Every object decodes; as many names as documents with a kind.
  objects=$("$kubectl" label --local --dry-run=client -f "$work/$name.yaml" checked=true \
    -o name 2>"$work/kubectl.err") || { cat "$work/kubectl.err" >&2; fail "kubectl decode $name"; }
  want=$(grep -c '^kind: ' "$work/$name.yaml")
  got=$(printf '%s\n' "$objects" | grep -c . || true)
  [ "$want" = "$got" ] || fail "$name: $want objects rendered, kubectl decoded $got: $objects"
  echo "$name: $objects" | tr '\n' ' '
  echo

  # Each --flag of the container is a mastd flag.
  known=$({ "$mastd" --helpfull 2>&1 || true; } | sed -n 's/^ *--\([a-z_0-9]*\) (.*/\1/p')
  for flag in $(sed -n 's/^ *- --\([a-z_0-9]*\).*/\1/p' "$work/$name.yaml" | sort -u); do
    grep -qx "$flag" <<<"$known" || fail "$name: --$flag is not a mastd flag"
  done
done

# The defaults: plaintext only by the explicit flag, probes on the health port.
grep -q -- '- --allow_plaintext' "$work/default.yaml" || fail "default: no --allow_plaintext"
grep -q -- '- --tls_cert=/etc/mast/tls/tls.crt' "$work/full.yaml" || fail "full: no --tls_cert"
grep -q -- '- --allow_plaintext' "$work/full.yaml" && fail "full: TLS and --allow_plaintext"
grep -A2 'readinessProbe:' "$work/default.yaml" | grep -q 'port: 7071' || fail "readiness probe port"
# The PrometheusRule carries every alert of ops/prometheus/alerts.yaml.
diff <(sed -n 's/^ *- alert: //p' "$here/../../ops/prometheus/alerts.yaml") \
  <(sed -n 's/^ *- alert: //p' "$work/full.yaml") >&2 || fail "PrometheusRule alerts differ"

# Bad values are refused with what to fix.
refused() {  # message, helm args...
  local message=$1
  shift
  if "$helm" template mast "$chart" "$@" >/dev/null 2>"$work/err"; then
    fail "accepted: $*"
  elif ! grep -q "$message" "$work/err"; then
    cat "$work/err" >&2
    fail "refused without '$message': $*"
  fi
}
refused "tls.enabled needs tls.secretName" --set tls.enabled=true
refused "tls.clientCa needs auth.policy" --set tls.enabled=true --set tls.secretName=s
refused "podAntiAffinity must be hard or soft" --set podAntiAffinity=sometimes

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "chart: all checks passed"
