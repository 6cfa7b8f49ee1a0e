"""The pod sandbox ("pause") image, made by gitkube itself so pods start with no registry at all.

The image holds one file, `/pause`: a static ELF executable of a few dozen bytes, assembled here as
raw machine code, that sleeps forever in a syscall loop. It only has to keep the pod's network and
IPC namespaces alive. It installs no signal handlers, so as PID 1 it ignores SIGTERM: the sandbox is
created with stop signal SIGKILL and removed by force. The image is tagged with a hash of the code,
so a changed executable gets a new tag and engines never run a stale one.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile

import docker

REPOSITORY = "gitkube/pause"
PAUSE_PATH = "/pause"
IMAGE_CHANGES = [f'CMD ["{PAUSE_PATH}"]', "LABEL gitkube.io/managed-by=gitkube"]

_LOAD_ADDR = 0x400000
_EHDR_SIZE = 64
_PHDR_SIZE = 56
EM_X86_64 = 62
EM_AARCH64 = 183

# x86_64: `mov eax, 34 (pause); syscall; jmp back to the mov`.
_X86_64_CODE = bytes.fromhex("b822000000" "0f05" "ebf7")
# aarch64 has no pause syscall: `ppoll(NULL, 0, NULL, NULL)` (nr 73) blocks until a signal arrives.
# mov x0..x3, #0; mov x8, #73; svc #0; b back to the first mov (x0 holds the result, so reset it).
_AARCH64_CODE = struct.pack(
    "<7I", 0xD2800000, 0xD2800001, 0xD2800002, 0xD2800003, 0xD2800928, 0xD4000001, 0x17FFFFFA
)

# Engine `Architecture` (uname -m) → (e_machine, code, segment alignment = largest page size in use).
_ARCHES = {
    "x86_64": (EM_X86_64, _X86_64_CODE, 0x1000),
    "amd64": (EM_X86_64, _X86_64_CODE, 0x1000),
    "aarch64": (EM_AARCH64, _AARCH64_CODE, 0x10000),
    "arm64": (EM_AARCH64, _AARCH64_CODE, 0x10000),
}


def pause_elf(arch: str) -> bytes:
    """A minimal static ELF64 little-endian executable: one PT_LOAD segment mapping the whole file
    (headers and code) read+execute, entry point right after the program header."""
    try:
        machine, code, align = _ARCHES[arch]
    except KeyError:
        raise ValueError(f"no pause executable for architecture {arch!r} (have: x86_64, aarch64)") from None
    code_off = _EHDR_SIZE + _PHDR_SIZE
    size = code_off + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, ELF v1, SysV ABI
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # e_type ET_EXEC
        machine,
        1,  # e_version
        _LOAD_ADDR + code_off,  # e_entry
        _EHDR_SIZE,  # e_phoff
        0,  # e_shoff: no section headers
        0,  # e_flags
        _EHDR_SIZE,
        _PHDR_SIZE,
        1,  # e_phnum
        0,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    phdr = struct.pack(
        "<IIQQQQQQ",
        1,  # PT_LOAD
        5,  # PF_R | PF_X
        0,  # p_offset
        _LOAD_ADDR,  # p_vaddr
        _LOAD_ADDR,  # p_paddr
        size,  # p_filesz
        size,  # p_memsz
        align,
    )
    return ehdr + phdr + code


def rootfs_tar(elf: bytes) -> bytes:
    """The image's whole filesystem: `/pause`, owned by root, fixed mtime (same bytes every build)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        ti = tarfile.TarInfo(PAUSE_PATH.lstrip("/"))
        ti.size, ti.mode, ti.mtime = len(elf), 0o755, 0
        tar.addfile(ti, io.BytesIO(elf))
    return buf.getvalue()


def image_tag(elf: bytes) -> str:
    return f"{REPOSITORY}:{hashlib.sha256(elf).hexdigest()[:12]}"


def ensure_image(api: docker.APIClient) -> str:
    """The sandbox image for this engine's architecture, imported on first use; returns its tag.

    One `info` and one `inspect_image` when the image is already there. Importing twice (two agents
    racing) is harmless: both produce the same tag.
    """
    elf = pause_elf(api.info()["Architecture"])
    tag = image_tag(elf)
    try:
        api.inspect_image(tag)
    except docker.errors.ImageNotFound:
        repo, _, version = tag.partition(":")
        api.import_image_from_data(rootfs_tar(elf), repository=repo, tag=version, changes=IMAGE_CHANGES)
    return tag
