"""containerd as a test's child process, and the two ways a node pulls through it.

The daemon gets a directory of its own: root, state, sockets, its `opt` plugin's path, and `certs.d` (the
registry hosts directory, one `<namespace>/hosts.toml` per registry name). It listens on unix sockets only
(the CRI stream server on 127.0.0.1), unpacks with the `native` snapshotter (no privileges, no overlay), and
keeps content per namespace (`isolated`), so that a pull in a fresh namespace downloads every blob again.

- `ctr images pull --hosts-dir`, as an admin pulls by hand;
- `cri_pull()`, the CRI `ImageService/PullImage` call a kubelet makes, for which the CRI plugin reads the
  same hosts directory through its `config_path`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.support.processes import Output, free_port, stop_process

SNAPSHOTTER = "native"
CRI_NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin keeps its images in
CONFIG = """version = 2
root = "{root}/root"
state = "{root}/state"

[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "{snapshotter}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{root}/cni/bin"
    conf_dir = "{root}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{hosts}"
{auths}"""
# The node's own credentials for a registry host, used where the kubelet sends none.
CRI_AUTH = """  [plugins."io.containerd.grpc.v1.cri".registry.configs."{host}".auth]
    username = "{username}"
    password = "{password}"
"""
HOSTS_TOML = """# {namespace}: pulled and resolved through the mirror; `server` is tried only when the mirror fails.
server = "{server}"

[host."{mirror}"]
  capabilities = ["pull", "resolve"]
  override_path = true
"""


class Containerd:
    """A containerd daemon of a test's own; `node_auth` maps a registry host to the node's credentials."""

    def __init__(self, workdir: Path, node_auth: dict[str, tuple[str, str]] | None = None):
        self.root = workdir
        self.hosts = workdir / "certs.d"
        self.hosts.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "containerd.sock"
        auths = "".join(CRI_AUTH.format(host=host, username=user, password=password)
                        for host, (user, password) in (node_auth or {}).items())
        config = workdir / "config.toml"
        config.write_text(CONFIG.format(root=workdir, socket=self.socket, snapshotter=SNAPSHOTTER,
                                        hosts=self.hosts, auths=auths))
        self.log = Output()
        self.process = subprocess.Popen(["containerd", "--config", str(config)], stdout=self.log.file,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.ctr("version", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"containerd did not start:\n{self.log.text()[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.process)

    def mirror(self, namespace: str, mirror: str) -> Path:
        """certs.d/<namespace>/hosts.toml: pull `namespace`'s images through `mirror`, a URL whose path is
        the API root to use (`http://HOST/v2/PREFIX`). The fallback server is a loopback port that nothing
        listens on, so whatever is pulled came through the mirror."""
        path = self.hosts / namespace / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HOSTS_TOML.format(namespace=namespace, mirror=mirror, server=f"http://127.0.0.1:{free_port()}"))
        return path

    def ctr(self, *args: str, namespace: str = "default", check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["ctr", "--address", str(self.socket), "--namespace", namespace, *args],
                                capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result

    def pull(self, ref: str, namespace: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        """`ctr images pull` with the hosts directory, unpacked."""
        return self.ctr("images", "pull", "--hosts-dir", str(self.hosts), "--snapshotter", SNAPSHOTTER, *extra, ref,
                        namespace=namespace, check=check)

    def images(self, namespace: str) -> dict[str, str]:
        """{image name: the digest it was resolved to} in a namespace."""
        lines = self.ctr("images", "ls", namespace=namespace).stdout.splitlines()[1:]
        return {fields[0]: fields[2] for fields in (line.split() for line in lines)}

    def blob(self, namespace: str, digest: str) -> bytes:
        return subprocess.run(["ctr", "--address", str(self.socket), "--namespace", namespace, "content", "get",
                               digest], capture_output=True, check=True, timeout=60).stdout

    def forget(self, namespace: str) -> None:
        """Remove every image of a namespace and collect its content and snapshots at once."""
        for name in self.images(namespace):
            self.ctr("images", "rm", "--sync", name, namespace=namespace)
        assert self.ctr("content", "ls", "--quiet", namespace=namespace).stdout.split() == []

    def cri_pull(self, ref: str, auth: tuple[str, str, str] | None = None) -> str:
        """The kubelet's `PullImage` (CRI v1) with an optional (username, password, server address) as a
        pull secret gives it; returns the image's id. Images land in `CRI_NAMESPACE`."""
        import grpc

        request = _field(1, _field(1, ref.encode()))  # PullImageRequest.image: ImageSpec.image
        if auth:  # PullImageRequest.auth: AuthConfig.username (1), .password (2), .server_address (4)
            request += _field(2, _field(1, auth[0].encode()) + _field(2, auth[1].encode()) + _field(4, auth[2].encode()))
        with grpc.insecure_channel(f"unix://{self.socket}") as channel:
            call = channel.unary_unary("/runtime.v1.ImageService/PullImage",
                                       request_serializer=bytes, response_deserializer=bytes)
            response = call(request, timeout=300)
        return _strings(response)[1]  # PullImageResponse.image_ref


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (a string or a nested message): all the CRI calls here send."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _strings(message: bytes) -> dict[int, str]:
    """The string fields of a protobuf message whose fields are all length-delimited."""
    fields, at = {}, 0
    while at < len(message):
        key, at = _read_varint(message, at)
        assert key & 7 == 2, f"field {key >> 3} is not length-delimited"
        size, at = _read_varint(message, at)
        fields[key >> 3] = message[at:at + size].decode()
        at += size
    return fields


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at
