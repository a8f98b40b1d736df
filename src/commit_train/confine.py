"""Keeping what a repository gives us inside the repository.

A commit can hold symbolic links, and a link can point anywhere: ``deploy/templates/x.j2 ->
/proc/self/environ`` would render every secret of the deploy step into a ConfigMap. The
render therefore refuses a link that leaves the templates folder (or the values folder, or
the repository), and a commit's tree is written out from ``git archive`` by
:func:`extract_tar`, which makes only folders, files and links, never writes through a link,
and needs no ``tarfile`` extraction filter (those arrived in Python 3.11.4; the project
supports 3.11.0 and later).

Everything here looks at paths lexically first and follows links only to judge them:
nothing is read through a link.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def leads_into(path: Path, folder: Path) -> bool:
    """Whether ``path`` (following every link on the way) ends inside ``folder``."""
    return _inside(os.path.realpath(path), os.path.realpath(folder))


def lexically_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it by its name alone (``..`` resolved)."""
    return _inside(
        os.path.normpath(os.path.abspath(path)), os.path.normpath(os.path.abspath(folder))
    )


def first_link_leaving(path: Path, within: Path) -> tuple[Path, str] | None:
    """Walking from ``within`` down to ``path`` (which must be lexically inside it), the
    first symbolic link whose target leads out of ``within``, with its target as written."""
    base = Path(os.path.normpath(os.path.abspath(within)))
    target = Path(os.path.normpath(os.path.abspath(path)))
    current = base
    for part in target.relative_to(base).parts:
        current = current / part
        if current.is_symlink() and not leads_into(current, base):
            return current, os.readlink(current)
    return None


def links_leaving(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every symbolic link under ``folder`` (at any depth, linked folders not entered)
    whose target leads out of ``folder``, in a stable order, with its target as written."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            entry = Path(dirpath) / name
            if entry.is_symlink() and not leads_into(entry, folder):
                yield entry, os.readlink(entry)


# --------------------------------------------------------------------------- a commit's tree


class UnsafeArchiveError(Exception):
    """An archive entry that could write outside the folder, or is no file, folder or link."""


def _entry_path(dest: Path, name: str) -> Path | None:
    pure = PurePosixPath(name)
    if pure.is_absolute():
        raise UnsafeArchiveError(f"{name!r} is an absolute path")
    if ".." in pure.parts:
        raise UnsafeArchiveError(f"{name!r} leads out of the tree")
    parts = [p for p in pure.parts if p not in ("", ".")]
    return dest.joinpath(*parts) if parts else None


def extract_tar(data: bytes, dest: Path) -> None:
    """Write the folders, files and symbolic links of the tar ``data`` into ``dest``.

    Files get mode 0755 when the archive marks them executable, else 0644 (as git checks
    them out). Links are made last and exactly as written (a link that leads out of the
    tree is judged by whoever reads it: see :func:`links_leaving`), and never where a link
    already made would carry them out of ``dest``. Absolute names, ``..``, hard links,
    devices and fifos are refused with :class:`UnsafeArchiveError` (``git archive`` makes
    none of them).
    """
    import tarfile

    dest.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(dest)
    links: list[tuple[Path, str, str]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            target = _entry_path(dest, member.name)
            if target is None:
                continue
            if member.isdir() or member.isreg():
                _refuse_through_link(target, root, member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isreg():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                content = source.read() if source is not None else b""
                target.write_bytes(content)
                target.chmod(0o755 if member.mode & 0o111 else 0o644)
            elif member.issym():
                links.append((target, member.linkname, member.name))
            else:
                raise UnsafeArchiveError(f"{member.name!r} is not a file, folder or link")
    for target, link, name in links:
        _refuse_through_link(target, root, name)
        if os.path.lexists(target):
            raise UnsafeArchiveError(f"{name!r} appears twice")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)


def _refuse_through_link(target: Path, root: str, name: str) -> None:
    if target.is_symlink() or not _inside(os.path.realpath(target.parent), root):
        raise UnsafeArchiveError(f"{name!r} would be written through a link")
