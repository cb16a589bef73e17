"""Fetch public datasets into the cache: stream to a temp file, check the SHA-256, rename, then extract.

Nothing half-downloaded is ever left under the final name: the zip is written next to its destination as a
temporary file and renamed (atomic on one file system) only once its checksum matches; extraction goes to a
temporary folder that is renamed into place the same way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from graphrec import ui
from graphrec.config import Settings
from graphrec.errors import GraphrecError


@dataclass(frozen=True)
class Source:
    """Where a dataset's zip lives, its SHA-256, and the folder it extracts to."""

    name: str
    url: str
    sha256: str
    folder: str

    @property
    def filename(self) -> str:
        """The zip's file name in the cache."""
        return f"{self.folder}.zip"


ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
"""SHA-256 of GroupLens' ml-100k.zip (4,924,029 bytes; MD5 0e33842e24a9c977be4e0107933c0723), the value that
independent downloaders (scikit-style fetchers, Rust and Python loaders) pin; it could not be re-checked
against the live server from this machine (no internet). Override with `--sha256` for another mirror."""

SOURCES = {"movielens-100k": Source("movielens-100k", ML100K_URL, ML100K_SHA256, "ml-100k")}
CHUNK = 1 << 16


class DownloadError(GraphrecError, RuntimeError):
    """A download that failed, or whose checksum did not match; the message says which and what to do."""


@dataclass
class Fetched:
    """Where the zip and the extracted folder are, and whether the zip was downloaded just now."""

    name: str
    zip_path: Path
    folder: Path
    sha256: str
    downloaded: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for `--json`)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    def one_line(self) -> str:
        """`movielens-100k: downloaded and verified, extracted to ...`."""
        how = "downloaded and verified" if self.downloaded else "already cached (checksum verified)"
        return f"{self.name}: {how} (sha256 {self.sha256[:12]}...), extracted to {self.folder}"


def default_dest(settings: Settings) -> Path:
    """`Settings.cache_dir / "datasets"`."""
    return settings.cache_dir / "datasets"


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, target: Path, expected: str, show_progress: bool) -> None:
    """Stream `url` into a temp file beside `target`, check its SHA-256, then rename it to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DownloadError(f"cannot reach {url}: {reason} (use --url for a mirror)") from exc
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with ui.progress(transient=True) as bar:
                    task = bar.add_task(f"downloading {target.name}", total=total, visible=show_progress)
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.advance(task, len(chunk))
        actual = digest.hexdigest()
        if actual != expected.lower():
            raise DownloadError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; the file was not "
                "kept (a corrupted or changed download; pass --sha256 only if you trust this file)"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _extract(zip_path: Path, folder: Path) -> None:
    """Extract `zip_path` so that its top folder becomes `folder`, via a temp folder renamed into place."""
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.namelist():
                parts = PurePosixPath(member).parts
                if member.startswith("/") or ".." in parts:
                    raise DownloadError(f"{zip_path}: refusing unsafe path {member!r} in the archive")
            archive.extractall(work)
        entries = [p for p in work.iterdir() if not p.name.startswith("__MACOSX")]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else work
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(root, folder)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{zip_path}: not a valid zip file ({exc})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fetch(
    name: str,
    dest: Path,
    *,
    url: str | None = None,
    sha256: str | None = None,
    force: bool = False,
    show_progress: bool = True,
) -> Fetched:
    """Make sure dataset `name` is downloaded, verified and extracted under `dest`; return where it is."""
    source = SOURCES.get(name)
    if source is None:
        raise DownloadError(f"unknown dataset {name!r}; known: {', '.join(sorted(SOURCES))}")
    expected = (sha256 or source.sha256).lower()
    zip_path = dest / source.filename
    folder = dest / source.folder
    downloaded = False
    if force or not zip_path.is_file() or sha256_of(zip_path) != expected:
        _download(url or source.url, zip_path, expected, show_progress)
        downloaded = True
    if downloaded or not folder.is_dir():
        _extract(zip_path, folder)
    return Fetched(name=name, zip_path=zip_path, folder=folder, sha256=expected, downloaded=downloaded)
