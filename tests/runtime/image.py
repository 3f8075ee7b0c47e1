"""Packs one static program as a single-layer OCI image archive that `ctr images import` takes
(the runtime test's sandbox image: nothing can be pulled here).

usage: image.py PROGRAM OUT.tar NAME   (NAME e.g. docker.io/lichen-test/pause:1)
"""
import hashlib, io, json, platform, sys, tarfile

prog, out, name = sys.argv[1:4]


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data, mode in entries:
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


blobs = {}


def blob(data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


layer = tar_bytes([("pause", open(prog, "rb").read(), 0o755)])
layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
config = {
    "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
    "os": "linux",
    "config": {"Entrypoint": ["/pause"]},
    "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
}
config_desc = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
manifest = {"schemaVersion": 2, "config": config_desc, "layers": [layer_desc]}
manifest_desc = blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
manifest_desc["annotations"] = {
    "io.containerd.image.name": name,
    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
}
index = {"schemaVersion": 2, "manifests": [manifest_desc]}
files = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), 0o644),
         ("index.json", json.dumps(index).encode(), 0o644)]
files += [("blobs/sha256/" + d.split(":")[1], b, 0o644) for d, b in blobs.items()]
with open(out, "wb") as f:
    f.write(tar_bytes(files))
