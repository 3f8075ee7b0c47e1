"""A minimal CRI v1 client (what a kubelet does to a sandbox), printing `key=value` lines.

Messages are encoded by hand: field numbers from kubernetes/cri-api
pkg/apis/runtime/v1/api.proto (RuntimeService). Calls go through grpcio's generic unary call
with raw bytes, so no generated stubs are needed.

usage: cri.py SOCKET status
       cri.py SOCKET run NAME UID NAMESPACE LOGDIR CGROUP_PARENT [PROTO:CPORT:HPORT:HOSTIP ...]
       cri.py SOCKET inspect ID
       cri.py SOCKET stop ID | remove ID | list
"""
import json, sys

import grpc

PROTOCOLS = {"TCP": 0, "UDP": 1, "SCTP": 2}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """One field: int -> varint, bytes/str -> length-delimited (submessages are bytes)."""
    if isinstance(value, bool) or isinstance(value, int):
        return varint(num << 3) + varint(int(value))
    if isinstance(value, str):
        value = value.encode()
    return varint((num << 3) | 2) + varint(len(value)) + value


def message(*fields):
    return b"".join(field(n, v) for n, v in fields if v is not None)


def decode(buf):
    """A message as {field number: [values]} (varints as int, length-delimited as bytes)."""
    out, i = {}, 0

    def read_varint():
        nonlocal i
        n = shift = 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    while i < len(buf):
        key = read_varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            v = read_varint()
        elif wire == 2:
            n = read_varint()
            v, i = buf[i:i + n], i + n
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(v)
    return out


def first(msg, num, default=b""):
    return msg.get(num, [default])[0]


def string_map(entries):
    """A map<string,string> field's entries (key = 1, value = 2)."""
    return {first(decode(e), 1).decode(): first(decode(e), 2).decode() for e in entries}


def call(channel, method, request):
    rpc = channel.unary_unary(f"/runtime.v1.RuntimeService/{method}")
    return decode(rpc(request, timeout=120))


def main():
    socket, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    ch = grpc.insecure_channel(f"unix://{socket}")
    if cmd == "status":
        # StatusRequest{verbose=1} -> StatusResponse{status=1: RuntimeStatus{conditions=1}}
        r = call(ch, "Status", message((1, False)))
        for c in decode(first(r, 1)).get(1, []):
            c = decode(c)
            kind = first(c, 1).decode()
            print(f"{kind}={str(bool(first(c, 2, 0))).lower()}")
            print(f"{kind}.message={first(c, 4).decode()}")
    elif cmd == "run":
        name, uid, namespace, logdir, cgroup_parent, *ports = args
        # PodSandboxMetadata{name=1, uid=2, namespace=3, attempt=4}
        meta = message((1, name), (2, uid), (3, namespace), (4, 0))
        # PortMapping{protocol=1, container_port=2, host_port=3, host_ip=4}
        maps = []
        for p in ports:
            proto, cport, hport, hip = p.split(":")
            maps.append(message((1, PROTOCOLS[proto]), (2, int(cport)), (3, int(hport)), (4, hip)))
        # NamespaceOption{network=1 (POD=0), pid=2, ipc=3}: POD everywhere, i.e. the defaults
        ns_opts = message((1, 0), (2, 0), (3, 0))
        # LinuxSandboxSecurityContext{namespace_options=1}
        sec = message((1, ns_opts))
        # LinuxPodSandboxConfig{cgroup_parent=1, security_context=2}
        linux = message((1, cgroup_parent), (2, sec))
        # PodSandboxConfig{metadata=1, hostname=2, log_directory=3, port_mappings=5, linux=8}
        config = message((1, meta), (2, name), (3, logdir), *[(5, m) for m in maps], (8, linux))
        # RunPodSandboxRequest{config=1} -> RunPodSandboxResponse{pod_sandbox_id=1}
        r = call(ch, "RunPodSandbox", message((1, config)))
        print("id=" + first(r, 1).decode())
    elif cmd == "inspect":
        # PodSandboxStatusRequest{pod_sandbox_id=1, verbose=2}
        r = call(ch, "PodSandboxStatus", message((1, args[0]), (2, True)))
        # PodSandboxStatusResponse{status=1, info=2}; PodSandboxStatus{id=1, state=3,
        # network=5: PodSandboxNetworkStatus{ip=1, additional_ips=2: PodIP{ip=1}}}
        st = decode(first(r, 1))
        info = string_map(r.get(2, []))
        verbose = json.loads(info.get("info", "{}"))
        print("id=" + first(st, 1).decode())
        print("state=" + {0: "READY", 1: "NOTREADY"}[first(st, 3, 0)])
        network = decode(first(st, 5))
        print("ip=" + first(network, 1).decode())
        for extra in network.get(2, []):
            print("additional_ip=" + first(decode(extra), 1).decode())
        print(f"pid={verbose.get('pid', 0)}")
    elif cmd in ("stop", "remove"):
        # StopPodSandboxRequest / RemovePodSandboxRequest{pod_sandbox_id=1}
        call(ch, {"stop": "StopPodSandbox", "remove": "RemovePodSandbox"}[cmd], message((1, args[0])))
        print("id=" + args[0])
    elif cmd == "list":
        # ListPodSandboxRequest{} -> ListPodSandboxResponse{items=1: PodSandbox{id=1}}
        r = call(ch, "ListPodSandbox", b"")
        for p in r.get(1, []):
            print("id=" + first(decode(p), 1).decode())
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
