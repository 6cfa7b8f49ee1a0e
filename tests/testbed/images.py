"""The offline test image ``gitkube.test/busybox:1`` -- no registry is reachable here or in CI.

Built with ``docker import`` of a ~2 MB rootfs made in memory from the host's static busybox
(Debian package busybox-static):

* ``/bin/busybox`` + a symlink ``/bin/<applet> -> busybox`` for every applet of ``busybox --list``
  (sh, httpd, wget, nc, sleep, cat, echo, hostname, ls, kill, ip, nslookup, ...);
  ``/sbin``, ``/usr/bin``, ``/usr/sbin`` are symlinks to ``/bin`` (so ``#!/usr/bin/env sh`` works);
* ``/etc/passwd`` (root, nobody), ``/etc/group`` (root, nogroup), ``/tmp`` (1777), ``/root``;
* ``/www/index.html`` (``gitkube-test-image``) for ``httpd -f -p 8080 -h /www``;
* image config: ``ENV PATH=/bin``, ``CMD ["sh"]``, ``LABEL gitkube.io/test-image=1``.

Pitfalls of this image (busybox 1.35):

* ``wget -T N`` segfaults (rc 139) -- use ``timeout N wget -q -O- URL`` instead.
* ``sleep`` or ``sh`` as PID 1 ignore SIGTERM (no handler), so ``docker stop`` waits the full grace
  period; for a quickly stoppable container use
  ``sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'``.
* ``docker import`` gives a new image ID on every build: build once on the local engine and copy it to
  other engines with save/load (:func:`copy_image`), which keeps the ID.

Command line: ``python3 -m testbed.images [--docker-host unix:///...] [--force]``.
"""
from __future__ import annotations

import argparse
import io
import os
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "testbed"

from . import TEST_IMAGE  # noqa: E402

BUSYBOX = "/bin/busybox"
IMAGE_CHANGES = ["ENV PATH=/bin", 'CMD ["sh"]', "LABEL gitkube.io/test-image=1"]
INDEX_HTML = b"gitkube-test-image\n"


def is_static_elf(path: str) -> bool:
    """True if the ELF file has no PT_INTERP program header (i.e. needs no dynamic loader)."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return False
        is64 = ident[4] == 2
        end = "<" if ident[5] == 1 else ">"
        if is64:
            f.seek(0x20)
            (phoff,) = struct.unpack(end + "Q", f.read(8))
            f.seek(0x36)
            phentsize, phnum = struct.unpack(end + "HH", f.read(4))
        else:
            f.seek(0x1C)
            (phoff,) = struct.unpack(end + "I", f.read(4))
            f.seek(0x2A)
            phentsize, phnum = struct.unpack(end + "HH", f.read(4))
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            (ptype,) = struct.unpack(end + "I", f.read(4))
            if ptype == 3:  # PT_INTERP
                return False
    return True


def applets(busybox: str = BUSYBOX) -> list[str]:
    out = subprocess.run([busybox, "--list"], check=True, stdout=subprocess.PIPE, text=True).stdout
    return sorted({a.strip() for a in out.split() if a.strip() and a.strip() != "busybox" and "/" not in a})


def rootfs_tar(busybox: str = BUSYBOX) -> bytes:
    """The image's rootfs as an uncompressed tar (deterministic: fixed owners and mtimes)."""
    if not os.path.exists(busybox):
        raise RuntimeError(f"{busybox} missing: apt-get install busybox-static")
    if not is_static_elf(busybox):
        raise RuntimeError(f"{busybox} is dynamically linked: apt-get install busybox-static")
    buf = io.BytesIO()
    mtime = 1_700_000_000

    def info(name, type_, mode, size=0, linkname=""):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.linkname, ti.mtime = type_, mode, size, linkname, mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("etc", 0o755), ("usr", 0o755), ("tmp", 0o1777), ("root", 0o700),
                        ("www", 0o755), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("var", 0o755),
                        ("var/tmp", 0o1777), ("run", 0o755), ("home", 0o755)):
            tar.addfile(info(d, tarfile.DIRTYPE, mode))
        for link, target in (("sbin", "bin"), ("usr/bin", "../bin"), ("usr/sbin", "../bin")):
            tar.addfile(info(link, tarfile.SYMTYPE, 0o777, linkname=target))
        data = Path(busybox).read_bytes()
        tar.addfile(info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)), io.BytesIO(data))
        for a in applets(busybox):
            tar.addfile(info(f"bin/{a}", tarfile.SYMTYPE, 0o777, linkname="busybox"))
        files = {
            "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
            "etc/nsswitch.conf": b"hosts: files dns\n",
            "www/index.html": INDEX_HTML,
        }
        for name, content in files.items():
            tar.addfile(info(name, tarfile.REGTYPE, 0o644, len(content)), io.BytesIO(content))
    return buf.getvalue()


def ensure_test_image(client, tag: str = TEST_IMAGE, force: bool = False):
    """Make sure `tag` exists on the engine of docker.DockerClient `client`; returns the Image.
    Idempotent: does nothing when the tag is already there (unless force)."""
    import docker

    if not force:
        try:
            return client.images.get(tag)
        except docker.errors.ImageNotFound:
            pass
    repo, _, ver = tag.rpartition(":")
    client.api.import_image_from_data(rootfs_tar(), repository=repo, tag=ver, changes=IMAGE_CHANGES)
    return client.images.get(tag)


def save_image(client, tag: str, path: Path) -> Path:
    """`docker save` of one image into a tar file (written atomically)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        for chunk in client.images.get(tag).save(named=tag):
            f.write(chunk)
    os.replace(tmp, path)
    return path


def load_image_file(client, path: Path) -> None:
    """`docker load` of a tar file. Streams the file (never a bytes body: paramiko's sendall is
    quadratic over ssh)."""
    with open(path, "rb") as f:
        client.images.load(f)


def copy_image(src, dst, tag: str = TEST_IMAGE, cache: Path | None = None) -> None:
    """Copy `tag` from engine `src` to engine `dst` keeping its ID (skipped if dst has the same ID)."""
    import docker

    want = src.images.get(tag).id
    try:
        if dst.images.get(tag).id == want:
            return
    except docker.errors.ImageNotFound:
        pass
    if cache is None:
        dst.images.load(src.images.get(tag).save(named=tag))
    else:
        load_image_file(dst, cache)


def main(argv=None) -> int:
    import docker

    ap = argparse.ArgumentParser(prog="python3 -m testbed.images", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docker-host", default=os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock"))
    ap.add_argument("--tag", default=TEST_IMAGE)
    ap.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    a = ap.parse_args(argv)
    client = docker.DockerClient(base_url=a.docker_host)
    t0 = time.monotonic()
    img = ensure_test_image(client, a.tag, force=a.force)
    print(f"{a.tag} {img.id} ({img.attrs.get('Size', 0) / 1e6:.1f} MB) ready in {time.monotonic() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
