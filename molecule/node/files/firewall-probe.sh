#!/usr/bin/env bash
# Probe the node's host firewall from a throw-away network namespace INSIDE
# the test container (no packet leaves the container's own network namespace).
#
#   firewall-probe.sh SRC[,SRC...] PORT[,PORT...]
#
# A veth pair links a namespace "fwprobe" to the node; each source address is
# put on the namespace side and routed back, then a TCP connect from that
# source to every port is classified as:
#   open      connection accepted (the firewall passed it, a service listens)
#   refused   TCP reset (the firewall passed it, nothing listens)
#   filtered  no answer (the firewall dropped it)
# Output: one JSON object {"<src>": {"<port>": "<result>", ...}, ...}.
set -euo pipefail
sources=${1:?sources}
ports=${2:?ports}
ns=fwprobe
node_ip=10.99.0.1
probe_ip=10.99.0.2

cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  ip link del fwp-node 2>/dev/null || true
  for src in ${sources//,/ }; do ip route del "$src/32" dev fwp-node 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

ip netns add "$ns"
ip link add fwp-node type veth peer name fwp-probe
ip link set fwp-probe netns "$ns"
ip addr add "$node_ip/24" dev fwp-node
ip link set fwp-node up
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip addr add "$probe_ip/24" dev fwp-probe
ip netns exec "$ns" ip link set fwp-probe up
for src in ${sources//,/ }; do
  if [ "$src" != "$probe_ip" ]; then
    ip netns exec "$ns" ip addr add "$src/32" dev fwp-probe
    ip route add "$src/32" dev fwp-node
  fi
done

ip netns exec "$ns" python3 - "$node_ip" "$sources" "$ports" <<'PY'
import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

target, sources, ports = sys.argv[1], sys.argv[2].split(","), [int(p) for p in sys.argv[3].split(",")]


def probe(src, port):
    sock = socket.socket()
    sock.settimeout(1.5)
    sock.bind((src, 0))
    try:
        sock.connect((target, port))
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "filtered"
    finally:
        sock.close()


# All probes at once: a dropped SYN costs the full timeout.
with ThreadPoolExecutor(max_workers=len(sources) * len(ports)) as pool:
    futures = {(src, port): pool.submit(probe, src, port) for src in sources for port in ports}
print(json.dumps({src: {str(port): futures[(src, port)].result() for port in ports} for src in sources}))
PY
