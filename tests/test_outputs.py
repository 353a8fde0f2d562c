"""Outputs: atomic, never over the input, refused early when they cannot be written."""

from __future__ import annotations

import errno
import os

import cv2
import numpy as np
import pytest

from core.errors import OutputError
from core.outputs import check_output, encode_image, write_atomic, write_image
from tests.conftest import sha256


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    write_atomic(out, b"new contents")
    assert out.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, failing):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, full_disk)
    with pytest.raises(OutputError, match="disk is full"):
        write_atomic(out, b"x" * 100_000)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_interrupted_write_removes_the_temporary(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "out.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_an_output_error(tmp_path, monkeypatch):
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # root ignores chmod, so refuse at the source
    with pytest.raises(OutputError, match="permission denied"):
        write_atomic(tmp_path / "out.png", b"data")


def test_written_file_has_the_usual_permissions(tmp_path):
    out = write_atomic(tmp_path / "out.png", b"data")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("name", ["out.bmp", "out.tiff", "out", "out.png.txt"])
def test_unknown_suffixes_are_refused(tmp_path, name):
    with pytest.raises(OutputError, match="unknown output type"):
        check_output(tmp_path / name)


def test_the_input_is_never_the_output(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"precious")
    (tmp_path / "link.png").symlink_to(src)
    os.link(src, tmp_path / "hard.png")
    for other in (src, tmp_path / "link.png", tmp_path / "hard.png", tmp_path / "." / "in.png"):
        with pytest.raises(OutputError, match="refusing to write over the input"):
            check_output(other, src)
        with pytest.raises(OutputError, match="refusing"):
            write_atomic(other, b"oops", src)
    assert src.read_bytes() == b"precious"


def test_missing_folder_and_directory_outputs(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "no" / "out.png")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path / "d.png")


def test_encode_by_suffix(tmp_path, photo_rgb):
    pixels = photo_rgb / 255.0
    for suffix in (".png", ".webp"):  # lossless: the pixels come back exactly
        data = encode_image(pixels, suffix)
        back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
        np.testing.assert_array_equal(back, photo_rgb)
    jpeg = cv2.imdecode(np.frombuffer(encode_image(pixels, ".JPG"), np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert np.abs(jpeg.astype(int) - photo_rgb).mean() < 3


def test_png_keeps_16_bits(tmp_path):
    deep = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000 + 7)
    out = write_image(tmp_path / "deep.png", deep / 65535.0, 16)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, deep)
    out8 = write_image(tmp_path / "deep.webp", deep / 65535.0, 16)  # WebP has only 8 bits
    assert cv2.imread(str(out8), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_writing_never_changes_the_input(tmp_path, photo_rgb):
    src = tmp_path / "in.png"
    src.write_bytes(encode_image(photo_rgb / 255.0, ".png"))
    before = sha256(src)
    write_image(tmp_path / "out.png", photo_rgb / 255.0 * 0.5, 8, src)
    assert sha256(src) == before
