"""`graphrec datasets download` against a zip served from loopback (no internet): checksum, cache, errors."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.ingest import download, movielens

runner = CliRunner()
FILES = {
    "ml-100k/u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n",
    "ml-100k/u.item": b"1|Toy Story (1995)|01-Jan-1995||http://x|" + b"|".join([b"0"] * 18 + [b"1"]) + b"\n",
    "ml-100k/u.data": b"1\t1\t5\t874965758\n2\t1\t3\t876893171\n",
}


class _Quiet(SimpleHTTPRequestHandler):
    paths: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        type(self).paths.append(self.path)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server over `tmp_path/www`: its base URL and the list of paths it was asked for."""
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "ml-100k.zip", "w") as archive:
        for name, data in FILES.items():
            archive.writestr(name, data)
    handler: type[_Quiet] = type("Handler", (_Quiet,), {"paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_verifies_extracts_and_caches(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, asked = served
    sha = digest(tmp_path / "www" / "ml-100k.zip")
    dest = tmp_path / "cache"
    first = download.fetch("movielens-100k", dest, url=f"{base}/ml-100k.zip", sha256=sha, show_progress=False)
    assert first.downloaded
    assert first.zip_path == dest / "ml-100k.zip"
    assert digest(first.zip_path) == sha
    assert sorted(p.name for p in first.folder.iterdir()) == ["u.data", "u.item", "u.user"]
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # no temp files left behind
    dataset = movielens.read(dest)
    assert [len(dataset.users), len(dataset.items), len(list(dataset.iter_interactions()))] == [2, 1, 2]
    assert dataset.items[0]["genres"] == ["Western"]

    again = download.fetch("movielens-100k", dest, url=f"{base}/ml-100k.zip", sha256=sha, show_progress=False)
    assert not again.downloaded
    assert asked == ["/ml-100k.zip"]  # the cached, verified zip was not fetched twice


def test_checksum_mismatch_keeps_nothing(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    dest = tmp_path / "cache"
    with pytest.raises(download.DownloadError, match=r"checksum mismatch .* expected sha256 0000"):
        download.fetch(
            "movielens-100k", dest, url=f"{base}/ml-100k.zip", sha256="0" * 64, show_progress=False
        )
    assert list(dest.iterdir()) == []


def test_http_error_and_unknown_dataset(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(download.DownloadError, match="HTTP 404"):
        download.fetch("movielens-100k", tmp_path / "c", url=f"{base}/missing.zip", show_progress=False)
    with pytest.raises(download.DownloadError, match="unknown dataset 'movielens-1b'; known: movielens-100k"):
        download.fetch("movielens-1b", tmp_path / "c")


def test_unsafe_archive_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../escape.txt", b"x")
    (tmp_path / "out").mkdir()
    with pytest.raises(download.DownloadError, match="unsafe path"):
        download._extract(bad, tmp_path / "out" / "ml-100k")
    assert not (tmp_path / "escape.txt").exists()


def test_cli_download(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    sha = digest(tmp_path / "www" / "ml-100k.zip")
    args = [
        "datasets",
        "download",
        "movielens-100k",
        "--dest",
        str(tmp_path / "d"),
        "--url",
        f"{base}/ml-100k.zip",
    ]
    result = runner.invoke(app, [*args, "--sha256", sha, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["folder"] == str(tmp_path / "d" / "ml-100k")
    assert report["downloaded"] is True
    result = runner.invoke(app, args)  # the built-in checksum of the real zip does not match this one
    assert result.exit_code == 1
    assert "checksum mismatch" in result.output
    assert download.ML100K_SHA256 in "".join(result.output.split())
