#!/usr/bin/env bash
# netfence on a local kind cluster, end to end:
#
#   1. a kind cluster (one control plane, two workers) WITHOUT kind's default CNI, and a
#      plain routed pod network in its place (the reference `ptp` + `host-local` CNI
#      plugins that kind's node image ships, and one route per peer node);
#   2. the controller image built with deploy/Dockerfile and loaded into the nodes;
#   3. deploy/ applied (namespace, RBAC, DaemonSet) and the rollout awaited;
#   4. demo workloads (deploy/demo/workloads.yaml: namespaces x, y, z with agnhost pods
#      a and b serving TCP 80 and 81) and, after a baseline where everything connects,
#      the policies of deploy/demo/policies.yaml (y accepts only x, only on port 80);
#   5. real connections with `kubectl exec ... /agnhost connect`, each compared with what
#      `kubectl-netfence can-reach` says for the live cluster; any disagreement fails.
#
# Why not kindnet: since kind v0.24 kindnet enforces NetworkPolicy itself, so a denied
# connection would prove nothing about netfence. The ptp network routes pod traffic
# through each node's root network namespace (the kind node container), where netfence's
# postrouting and input hooks live; nothing else filters it.
#
# Requirements: docker (a running engine), kind, kubectl, and either kubectl-netfence on
# PATH or cargo (to build it). Pods pull registry.k8s.io/e2e-test-images/agnhost, so
# the nodes need to reach registry.k8s.io. Pods get no masquerading: they reach each
# other, the nodes and Services, not the internet (the demo needs nothing else).
#
# Usage:
#   scripts/kind-demo.sh         create (or reuse) the cluster, deploy, run the demo
#   scripts/kind-demo.sh down    delete the cluster
# Environment:
#   CLUSTER_NAME    kind cluster name (default netfence-demo)
#   SKIP_BUILD=1    do not rebuild the image (reuse netfence/controller:dev)
#   SETTLE_SECONDS  wait after applying the policies before probing (default 5)
#
# NOTE: written carefully but UNTESTED in the environment it was written in (no Docker
# engine, no kind there); `bash -n` passes. Please report what breaks.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_NAME="${CLUSTER_NAME:-netfence-demo}"
CONTEXT="kind-${CLUSTER_NAME}"
IMAGE="netfence/controller:dev" # deploy/daemonset.yaml references this tag
SETTLE_SECONDS="${SETTLE_SECONDS:-5}"
POD_SUBNET="10.244.0.0/16"
CNI_CONF="/etc/cni/net.d/10-netfence-demo.conflist"
NF="" # the kubectl-netfence binary, set by find_netfence_cli

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
  printf '\nERROR: %s\n' "$*" >&2
  exit 1
}
k() { kubectl --context "$CONTEXT" "$@"; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH. $2"
}

check_tools() {
  need docker "Install Docker: https://docs.docker.com/engine/install/"
  need kind "Install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  need kubectl "Install kubectl: https://kubernetes.io/docs/tasks/tools/"
  docker info >/dev/null 2>&1 ||
    die "docker cannot reach a Docker engine (is the daemon running, may this user use it?)"
}

find_netfence_cli() {
  if command -v kubectl-netfence >/dev/null 2>&1; then
    NF="$(command -v kubectl-netfence)"
  elif command -v cargo >/dev/null 2>&1; then
    say "Building kubectl-netfence (cargo build --release -p kubectl-netfence)"
    (cd "$ROOT" && cargo build --release --locked -q -p kubectl-netfence)
    NF="$ROOT/target/release/kubectl-netfence"
  else
    die "need kubectl-netfence on PATH (cargo install --path cli) or cargo to build it"
  fi
  info "kubectl-netfence: $NF"
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

create_cluster() {
  if cluster_exists; then
    say "Reusing kind cluster '$CLUSTER_NAME'"
    return
  fi
  say "Creating kind cluster '$CLUSTER_NAME' (default CNI disabled)"
  kind create cluster --name "$CLUSTER_NAME" --config=- <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  # kindnet would enforce NetworkPolicy itself (kind >= v0.24): use a plain network.
  disableDefaultCNI: true
  ipFamily: ipv4
  podSubnet: "${POD_SUBNET}"
nodes:
  - role: control-plane
  - role: worker
  - role: worker
EOF
}

node_ip() {
  k get node "$1" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}'
}

node_pod_cidr() {
  k get node "$1" -o jsonpath='{.spec.podCIDR}'
}

# A routed pod network without any policy: per node, the ptp plugin (a veth per pod,
# host routes) with host-local IPAM on the node's podCIDR, and a route to every other
# node's podCIDR via that node. kind's node image ships ptp, host-local, portmap and
# loopback in /opt/cni/bin.
install_plain_cni() {
  say "Installing a plain routed pod network (ptp + host-local, no policy engine)"
  # Parallel arrays (bash 3 compatible, for macOS's /bin/bash): names, IPs, podCIDRs.
  local nodes=() ips=() cidrs=() node cidr ip i j
  while IFS= read -r node; do
    [ -n "$node" ] && nodes+=("$node")
  done < <(kind get nodes --name "$CLUSTER_NAME")
  [ "${#nodes[@]}" -gt 0 ] || die "kind reports no nodes for cluster $CLUSTER_NAME"
  for node in "${nodes[@]}"; do
    cidr=""
    for _ in $(seq 1 60); do
      cidr="$(node_pod_cidr "$node" || true)"
      [ -n "$cidr" ] && break
      sleep 1
    done
    [ -n "$cidr" ] || die "node $node got no spec.podCIDR within 60 s (is the node IPAM controller on?)"
    ip="$(node_ip "$node")"
    [ -n "$ip" ] || die "node $node has no InternalIP"
    ips+=("$ip")
    cidrs+=("$cidr")
    info "$node: $ip, pods in $cidr"
  done
  for i in "${!nodes[@]}"; do
    node="${nodes[$i]}"
    docker exec "$node" sysctl -q -w net.ipv4.ip_forward=1
    docker exec -i "$node" sh -c "cat > '$CNI_CONF'" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "netfence-demo",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${cidrs[$i]}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
    for j in "${!nodes[@]}"; do
      [ "$j" = "$i" ] && continue
      docker exec "$node" ip route replace "${cidrs[$j]}" via "${ips[$j]}"
    done
  done
  info "waiting for the nodes to become Ready"
  k wait --for=condition=Ready nodes --all --timeout=180s >/dev/null
}

build_and_load_image() {
  if [ "${SKIP_BUILD:-0}" = "1" ]; then
    say "SKIP_BUILD=1: reusing image $IMAGE"
  else
    say "Building $IMAGE (docker build -f deploy/Dockerfile .)"
    docker build -f "$ROOT/deploy/Dockerfile" -t "$IMAGE" "$ROOT"
  fi
  say "Loading $IMAGE into the kind nodes"
  kind load docker-image "$IMAGE" --name "$CLUSTER_NAME"
}

deploy_controller() {
  say "Deploying netfence (kubectl apply -k deploy/)"
  local existed=0
  k -n netfence-system get ds/netfence-controller >/dev/null 2>&1 && existed=1
  k apply -k "$ROOT/deploy"
  if [ "$existed" = 1 ]; then
    # A reused cluster and a rebuilt image of the same tag: restart to run the new one.
    k -n netfence-system rollout restart ds/netfence-controller >/dev/null
  fi
  k -n netfence-system rollout status ds/netfence-controller --timeout=180s
}

deploy_workloads() {
  say "Deploying the demo workloads (namespaces x, y, z; pods a, b; TCP 80 and 81)"
  k delete -f "$ROOT/deploy/demo/policies.yaml" --ignore-not-found >/dev/null
  k apply -f "$ROOT/deploy/demo/workloads.yaml"
  local ns
  for ns in x y z; do
    k -n "$ns" wait --for=condition=Ready pod --all --timeout=300s >/dev/null
  done
  k get pods -n x -o wide
  k get pods -n y -o wide
  k get pods -n z -o wide
}

pod_ip() {
  local ip
  ip="$(k -n "${1%/*}" get pod "${1#*/}" -o jsonpath='{.status.podIP}')"
  [ -n "$ip" ] || die "pod $1 has no IP"
  printf '%s' "$ip"
}

# probe FROM TO PORT: a real TCP connection from pod FROM to pod TO; prints allowed or
# denied (agnhost connect exits non-zero on a timeout or a refusal).
probe() {
  local from="$1" to="$2" port="$3" ip
  ip="$(pod_ip "$to")"
  if k -n "${from%/*}" exec "${from#*/}" -c cont-80 -- \
    /agnhost connect "${ip}:${port}" --timeout=3s --protocol=tcp >/dev/null 2>&1; then
    echo allowed
  else
    echo denied
  fi
}

# predict FROM TO PORT: kubectl-netfence's answer for the live cluster.
predict() {
  local rc=0
  "$NF" can-reach "$1" "$2" --port "$3" --context "$CONTEXT" >/dev/null 2>&1 || rc=$?
  case "$rc" in
    0) echo allowed ;;
    1) echo denied ;;
    *)
      "$NF" can-reach "$1" "$2" --port "$3" --context "$CONTEXT" >&2 || true
      die "kubectl-netfence can-reach $1 $2 --port $3 failed (exit $rc)"
      ;;
  esac
}

# The flows of the demo: from, to, port.
FLOWS=(
  "x/a y/b 80"
  "x/a y/b 81"
  "z/a y/b 80"
  "z/a x/b 81"
)

baseline() {
  say "Baseline, no NetworkPolicy yet: every connection should succeed"
  local flow from to port got bad=0
  for flow in "${FLOWS[@]}"; do
    read -r from to port <<<"$flow"
    got="$(probe "$from" "$to" "$port")"
    info "$(printf '%-6s -> %-6s :%-3s %s' "$from" "$to" "$port" "$got")"
    [ "$got" = allowed ] || bad=1
  done
  [ "$bad" = 0 ] ||
    die "a connection failed before any policy: the pod network is broken (see 'kubectl get pods -A', node routes)"
}

compare() {
  say "Applying deploy/demo/policies.yaml (y accepts only namespace x, only TCP 80)"
  k apply -f "$ROOT/deploy/demo/policies.yaml"
  info "waiting ${SETTLE_SECONDS}s for the controllers to program the nodes"
  sleep "$SETTLE_SECONDS"

  say "Real connections vs. kubectl-netfence can-reach (live cluster)"
  printf '    %-6s    %-6s %-5s %-10s %-10s %s\n' FROM TO PORT PREDICTED OBSERVED ""
  local flow from to port want got tries mismatches=0 note
  for flow in "${FLOWS[@]}"; do
    read -r from to port <<<"$flow"
    want="$(predict "$from" "$to" "$port")"
    got="$(probe "$from" "$to" "$port")"
    tries=1
    # A change reaches every node within a moment; allow two late retries.
    while [ "$got" != "$want" ] && [ "$tries" -lt 3 ]; do
      sleep 3
      got="$(probe "$from" "$to" "$port")"
      tries=$((tries + 1))
    done
    if [ "$got" = "$want" ]; then
      note="ok"
      [ "$tries" -gt 1 ] && note="ok (after $tries probes)"
    else
      note="MISMATCH"
      mismatches=$((mismatches + 1))
    fi
    printf '    %-6s -> %-6s %-5s %-10s %-10s %s\n' "$from" "$to" "$port" "$want" "$got" "$note"
  done

  say "Why x/a -> y/b:81 is denied (kubectl-netfence explain)"
  "$NF" explain x/a y/b --port 81 --context "$CONTEXT" || true

  show_node_view

  if [ "$mismatches" -gt 0 ]; then
    die "$mismatches flow(s) behaved differently from what kubectl-netfence predicts"
  fi
  say "All flows behave as kubectl-netfence predicts."
  info "Explore: kubectl --context $CONTEXT -n netfence-system logs ds/netfence-controller"
  info "Delete:  $0 down"
}

# The ruleset and the drop reports of the node that runs y/b (ingress is checked on the
# destination's node).
show_node_view() {
  local node pod
  node="$(k -n y get pod b -o jsonpath='{.spec.nodeName}')"
  pod="$(k -n netfence-system get pods -l app.kubernetes.io/name=netfence \
    --field-selector "spec.nodeName=${node}" -o jsonpath='{.items[0].metadata.name}')"
  [ -n "$pod" ] || {
    info "(no netfence pod found on $node)"
    return
  }
  say "Ruleset on $node (first lines of: nft list table inet netfence)"
  k -n netfence-system exec "$pod" -- nft list table inet netfence | head -n 40 || true
  say "Drop reports of $node (GET :9090/drops on the node)"
  docker exec "$node" curl -s --max-time 3 http://127.0.0.1:9090/drops || true
  echo
}

main() {
  case "${1:-up}" in
    down)
      need kind "Install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
      kind delete cluster --name "$CLUSTER_NAME"
      return
      ;;
    up) ;;
    -h | --help)
      sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      return
      ;;
    *) die "unknown command '$1' (use: up, down, --help)" ;;
  esac
  check_tools
  find_netfence_cli
  create_cluster
  install_plain_cni
  build_and_load_image
  deploy_controller
  deploy_workloads
  baseline
  compare
}

main "$@"
