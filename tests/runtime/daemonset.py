"""Runs the DaemonSet of a conf/lichen-*.yaml manifest on one test node as a kubelet would
(hostNetwork): each container gets its own mount namespace (a child of the node's) and a root
holding the image (`/lichen`: the test's binary), its volumes and /proc, /sys, /dev, /tmp.

usage: daemonset.py MANIFEST facts
         prints `network=`, `network6=` (IPv6Network, if any), `subnet_len=`, `subnet_len6=`,
         `init=NAME`, `container=NAME`, `hostpath=PATH` lines
       daemonset.py MANIFEST run CONTAINER NODE NODE_IP HOLDER_PID BINARY ROOT TOKEN CA_FILE API_HOST API_PORT
         builds the container's root in ROOT, then becomes the container's process: it enters the
         node's network and mount namespaces (those of HOLDER_PID), unshares a mount namespace and
         execs the container's command chrooted into ROOT, with the container's environment.

With NETCONF_MERGE set (a JSON object), its keys are merged into the ConfigMap's net-conf.json
first: the edit a user makes to the manifest before `kubectl apply` (README, dual-stack).
"""
import json, os, shlex, shutil, sys

import yaml

# The image (images/Dockerfile): FROM scratch, /lichen, ENTRYPOINT ["/lichen"], CMD ["daemonset"].
IMAGE_ENTRYPOINT, IMAGE_CMD = ["/lichen"], ["daemonset"]
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# The capabilities containerd's CRI gives an unprivileged container (as measured in the OCI spec
# it hands runc), before the container's `add`/`drop`.
DEFAULT_CAPS = ["chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid",
                "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill",
                "audit_write"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def load(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    merge = os.environ.get("NETCONF_MERGE")
    if merge:
        for data in configmaps.values():
            if "net-conf.json" in data:
                netconf = json.loads(data["net-conf.json"])
                netconf.update(json.loads(merge))
                data["net-conf.json"] = json.dumps(netconf, indent=2)
    return ds["spec"]["template"]["spec"], configmaps


def facts(spec, configmaps):
    netconf = None
    for v in spec.get("volumes", []):
        if "configMap" in v:
            data = configmaps[v["configMap"]["name"]]
            if "net-conf.json" in data:
                netconf = json.loads(data["net-conf.json"])
        if "hostPath" in v:
            print("hostpath=" + v["hostPath"]["path"])
    print("network=" + netconf["Network"])
    print("subnet_len=" + str(netconf.get("SubnetLen", 24)))
    if "IPv6Network" in netconf:
        print("network6=" + netconf["IPv6Network"])
        print("subnet_len6=" + str(netconf.get("IPv6SubnetLen", 64)))
    for c in spec.get("initContainers", []):
        print("init=" + c["name"])
    for c in spec["containers"]:
        print("container=" + c["name"])


def env_of(c, node, node_ip, api_host, api_port):
    env = {"PATH": PATH, "HOSTNAME": node,
           "KUBERNETES_SERVICE_HOST": api_host, "KUBERNETES_SERVICE_PORT": api_port}
    fields = {"spec.nodeName": node, "status.hostIP": node_ip, "status.podIP": node_ip,
              "metadata.namespace": "kube-system"}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        else:
            env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def caps_of(sec, privileged):
    """The container's bounding set (setpriv's syntax): root's capabilities are exactly these."""
    if privileged:
        return "+all"
    caps = sec.get("capabilities", {})
    add = [x.lower().removeprefix("cap_") for x in caps.get("add", [])]
    drop = [x.lower().removeprefix("cap_") for x in caps.get("drop", [])]
    if "all" in drop:
        keep = add
    else:
        keep = [x for x in DEFAULT_CAPS + add if x not in drop]
    return ",".join("+" + x for x in dict.fromkeys(keep))


def write_files(dir, files):
    os.makedirs(dir, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(dir, name), "w") as f:
            f.write(data)


def run(spec, configmaps, name, node, node_ip, holder, binary, root, token, ca, api_host, api_port):
    (c,) = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    shutil.rmtree(root, ignore_errors=True)
    for d in ["usr", "dev", "proc", "sys", "tmp", "etc"]:
        os.makedirs(os.path.join(root, d))
    os.symlink("usr/lib", os.path.join(root, "lib"))
    os.symlink("usr/lib64", os.path.join(root, "lib64"))
    open(os.path.join(root, "lichen"), "w").close()
    r = shlex.quote(root)
    # The test's binary is dynamically linked (the image's is static): the host's /usr serves it.
    sec = c.get("securityContext", {})
    privileged = sec.get("privileged", False)
    # As runc sets up an unprivileged container: /sys read-only, /proc/sys read-only.
    script = ["set -e", f"mount --rbind /usr {r}/usr", f"mount --rbind /dev {r}/dev",
              f"mount -t proc proc {r}/proc",
              f"mount -t sysfs {'' if privileged else '-o ro'} sysfs {r}/sys",
              f"mount -t tmpfs tmpfs {r}/tmp", f"mount --bind {shlex.quote(binary)} {r}/lichen"]
    if not privileged:
        script += [f"mount --bind {r}/proc/sys {r}/proc/sys",
                   f"mount -o remount,bind,ro {r}/proc/sys"]
    write_files(os.path.join(root, SERVICE_ACCOUNT.lstrip("/")),
                {"token": token, "ca.crt": open(ca).read(), "namespace": "kube-system"})
    for m in c.get("volumeMounts", []):
        assert "subPath" not in m, f"{name}: subPath is not supported by this test"
        v = volumes[m["name"]]
        dst = os.path.join(root, m["mountPath"].lstrip("/"))
        if "configMap" in v:
            write_files(dst, configmaps[v["configMap"]["name"]])
        elif "emptyDir" in v:
            os.makedirs(dst, exist_ok=True)
        elif "hostPath" in v:
            src, kind = v["hostPath"]["path"], v["hostPath"].get("type", "")
            os.makedirs(dst, exist_ok=True)
            if kind == "DirectoryOrCreate":
                script.append(f"mkdir -p {shlex.quote(src)}")
            script.append(f"mount --rbind {shlex.quote(src)} {shlex.quote(dst)}")
            if m.get("readOnly"):
                script.append(f"mount -o remount,bind,ro {shlex.quote(dst)}")
        else:
            sys.exit(f"{name}: volume {m['name']} of an unsupported kind: {v}")
    if "command" in c:
        argv = c["command"] + c.get("args", [])
    else:
        argv = IMAGE_ENTRYPOINT + c.get("args", IMAGE_CMD)
    caps = caps_of(sec, privileged)
    # setpriv comes from the host's /usr bound in the root; the command runs as written.
    script.append(f"exec chroot {r} /usr/bin/setpriv --inh-caps -all --bounding-set -all,{caps} -- "
                  + " ".join(shlex.quote(a) for a in argv))
    env = env_of(c, node, node_ip, api_host, api_port)
    # `sh` is looked up on the caller's PATH before the container's environment takes over.
    os.execve("/usr/bin/nsenter",
              ["nsenter", "-t", holder, "-m", "-n", "--", "unshare", "-m", "--propagation", "private",
               "--", "/bin/sh", "-c", "\n".join(script)], env)


def main():
    spec, configmaps = load(sys.argv[1])
    if sys.argv[2] == "facts":
        facts(spec, configmaps)
    elif sys.argv[2] == "run":
        run(spec, configmaps, *sys.argv[3:])
    else:
        sys.exit(f"unknown command {sys.argv[2]}")


if __name__ == "__main__":
    main()
