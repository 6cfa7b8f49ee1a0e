"""The hand-assembled /pause executable: a valid ELF for each architecture, and it really sleeps."""

from __future__ import annotations

import io
import platform
import shutil
import struct
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from gitkube.runtime.sandbox import EM_AARCH64, EM_X86_64, image_tag, pause_elf, rootfs_tar

ARCHES = {"x86_64": EM_X86_64, "aarch64": EM_AARCH64}


@pytest.mark.parametrize(("arch", "machine"), ARCHES.items())
def test_elf_header_parses(arch: str, machine: int) -> None:
    elf = pause_elf(arch)
    assert elf[:4] == b"\x7fELF"
    assert elf[4:7] == bytes([2, 1, 1])  # ELFCLASS64, little endian, EV_CURRENT
    e_type, e_machine, e_version, e_entry, e_phoff = struct.unpack_from("<HHIQQ", elf, 16)
    e_phentsize, e_phnum = struct.unpack_from("<HH", elf, 54)
    assert (e_type, e_machine, e_version, e_phoff, e_phentsize, e_phnum) == (2, machine, 1, 64, 56, 1)
    p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, p_align = struct.unpack_from("<IIQQQQQQ", elf, 64)
    assert (p_type, p_flags, p_offset, p_filesz, p_memsz) == (1, 5, 0, len(elf), len(elf))
    assert p_vaddr % p_align == 0
    assert p_vaddr + 64 + 56 == e_entry < p_vaddr + len(elf)  # code right after the headers


def test_elf_aliases_and_unknown_arch() -> None:
    assert pause_elf("amd64") == pause_elf("x86_64")
    assert pause_elf("arm64") == pause_elf("aarch64")
    with pytest.raises(ValueError, match="s390x"):
        pause_elf("s390x")


def test_rootfs_tar_and_tag_are_deterministic() -> None:
    elf = pause_elf("x86_64")
    data = rootfs_tar(elf)
    assert data == rootfs_tar(elf)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.mode, member.uid, member.isfile()) == ("pause", 0o755, 0, True)
        assert tar.extractfile(member).read() == elf
    assert image_tag(elf).startswith("gitkube/pause:")
    assert image_tag(elf) != image_tag(pause_elf("aarch64"))


def _runner(arch: str) -> list[str] | None:
    """How to run an executable of `arch` here: natively, under qemu-user, or not at all."""
    if platform.machine() in (arch, {"x86_64": "amd64", "aarch64": "arm64"}[arch]):
        return []
    qemu = shutil.which(f"qemu-{arch}")
    return [qemu] if qemu else None


@pytest.mark.parametrize("arch", ARCHES)
def test_pause_runs_until_killed(arch: str, tmp_path: Path) -> None:
    runner = _runner(arch)
    if runner is None:
        pytest.skip(f"cannot run {arch} code here (no qemu-{arch})")
    exe = tmp_path / "pause"
    exe.write_bytes(pause_elf(arch))
    exe.chmod(0o755)
    proc = subprocess.Popen([*runner, str(exe)])
    try:
        time.sleep(0.3)
        assert proc.poll() is None, f"pause exited with {proc.returncode}"
    finally:
        proc.kill()
    assert proc.wait(5) == -9
