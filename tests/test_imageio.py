"""Image loading: every kind of file a person may hand svdlens, good or bad."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from core.errors import ImageError
from core.imageio import read_image
from core.pixels import to_integer
from tests.conftest import pil_bytes, write_png


# ---- good files -------------------------------------------------------------

def test_colour_png_scales_8_bit_samples_exactly(photo_png, photo_rgb):
    src = read_image(photo_png)
    assert src.pixels.dtype == np.float32 and src.pixels.shape == photo_rgb.shape
    assert src.bit_depth == 8 and src.channels == 3 and src.notes == ()
    np.testing.assert_array_equal(src.pixels, photo_rgb.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(to_integer(src.pixels), photo_rgb)


def test_grey_mode_is_opencv_bt601_luma_of_the_integers(photo_png, photo_rgb):
    src = read_image(photo_png, "grey")
    expected = cv2.cvtColor(photo_rgb[..., ::-1].copy(), cv2.COLOR_BGR2GRAY)
    assert src.pixels.shape == photo_rgb.shape[:2]
    np.testing.assert_array_equal(to_integer(src.pixels), expected)
    # libpng's own grey conversion (cv2.imread(..., IMREAD_GRAYSCALE)) truncates instead of rounding.
    imread_grey = cv2.imread(str(photo_png), cv2.IMREAD_GRAYSCALE).astype(int)
    assert np.abs(imread_grey - expected.astype(int)).max() <= 1
    assert any("grey" in n for n in src.notes)


def test_grey_file_stays_one_channel_in_colour_mode(grey_png):
    src = read_image(grey_png, "colour")
    assert src.pixels.ndim == 2 and src.channels == 1
    np.testing.assert_array_equal(to_integer(src.pixels), cv2.imread(str(grey_png), cv2.IMREAD_UNCHANGED))


def test_16_bit_png_keeps_its_depth_and_is_not_all_white(tmp_path, photo_rgb):
    deep = (photo_rgb.astype(np.uint16) * 257 + 3).astype(np.uint16)  # values far above 255
    src = read_image(write_png(tmp_path / "deep.png", deep))
    assert src.bit_depth == 16 and src.raw_bytes == deep.size * 2
    np.testing.assert_allclose(src.pixels, deep / 65535.0, atol=1e-7)
    assert src.pixels.max() < 1.0 and src.pixels.mean() < 0.9
    np.testing.assert_array_equal(to_integer(src.pixels, 16), deep)
    grey = read_image(tmp_path / "deep.png", "grey")
    np.testing.assert_array_equal(to_integer(grey.pixels, 16), cv2.cvtColor(deep[..., ::-1].copy(), cv2.COLOR_BGR2GRAY))


def test_16_bit_grey_png(tmp_path):
    deep = np.arange(6 * 7, dtype=np.uint16).reshape(6, 7) * 1500
    src = read_image(write_png(tmp_path / "g16.png", deep))
    assert src.bit_depth == 16 and src.pixels.ndim == 2
    np.testing.assert_array_equal(to_integer(src.pixels, 16), deep)


def test_alpha_is_composited_on_white_and_said_so(tmp_path):
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 200  # red channel
    rgba[0, :, 3] = 255  # opaque row keeps its colour
    rgba[1, :, 3] = 0  # transparent row becomes white
    rgba[2:, :, 3] = 128  # half: (200·128 + 255·127)/255 and 255·127/255
    src = read_image(write_png(tmp_path / "rgba.png", rgba))
    ints = to_integer(src.pixels)
    np.testing.assert_array_equal(ints[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(ints[1, 0], [255, 255, 255])
    a = 128 / 255
    white_share = round(255 * (1 - a))
    np.testing.assert_array_equal(ints[2, 0], [round(200 * a + 255 * (1 - a)), white_share, white_share])
    assert any("white" in n for n in src.notes)


def test_opaque_alpha_is_dropped_without_a_note(tmp_path, photo_rgb):
    rgba = np.dstack([photo_rgb, np.full(photo_rgb.shape[:2], 255, np.uint8)])
    src = read_image(write_png(tmp_path / "opaque.png", rgba))
    np.testing.assert_array_equal(to_integer(src.pixels), photo_rgb)
    assert not any("composited" in n for n in src.notes)


def test_grey_plus_alpha(tmp_path):
    la = Image.fromarray(np.array([[10, 20], [30, 40]], np.uint8)).convert("LA")
    la.putalpha(Image.fromarray(np.array([[255, 0], [255, 255]], np.uint8)))
    path = tmp_path / "la.png"
    path.write_bytes(pil_bytes(la, "PNG"))
    src = read_image(path)
    assert src.pixels.ndim == 2
    np.testing.assert_array_equal(to_integer(src.pixels), [[10, 255], [30, 40]])
    assert any("white" in n for n in src.notes)


def test_palette_png_matches_pillow(tmp_path, photo_rgb):
    pal = Image.fromarray(photo_rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    path = tmp_path / "palette.png"
    path.write_bytes(pil_bytes(pal, "PNG"))
    src = read_image(path)
    np.testing.assert_array_equal(to_integer(src.pixels), np.asarray(pal.convert("RGB")))


def test_palette_png_with_transparency(tmp_path):
    pal = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    pal.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)
    path = tmp_path / "palt.png"
    path.write_bytes(pil_bytes(pal, "PNG", transparency=0))
    src = read_image(path)
    np.testing.assert_array_equal(to_integer(src.pixels)[0], [[255, 255, 255], [255, 0, 0]])


def test_cmyk_jpeg_converts_to_rgb(tmp_path, photo_rgb):
    path = tmp_path / "cmyk.jpg"
    path.write_bytes(pil_bytes(Image.fromarray(photo_rgb).convert("CMYK"), "JPEG", quality=95))
    src = read_image(path)
    assert src.pixels.shape == photo_rgb.shape
    reference = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
    assert np.abs(src.pixels - reference).mean() < 2 / 255
    assert np.abs(src.pixels - photo_rgb / 255.0).mean() < 4 / 255
    assert any("CMYK" in n for n in src.notes)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_on_png_matches_pillow_exactly(tmp_path, photo_rgb, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    path.write_bytes(pil_bytes(Image.fromarray(photo_rgb), "PNG", exif=exif.tobytes()))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    src = read_image(path)
    np.testing.assert_array_equal(to_integer(src.pixels), upright)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_rotated_jpeg_is_turned_upright(tmp_path, photo_rgb, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"rot{orientation}.jpg"
    path.write_bytes(pil_bytes(Image.fromarray(photo_rgb), "JPEG", quality=95, exif=exif.tobytes()))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), np.float32) / 255
    src = read_image(path)
    assert src.pixels.shape == upright.shape
    assert np.abs(src.pixels - upright).mean() < 1 / 255
    assert any("orientation" in n for n in src.notes)
    # cv2.imread with IMREAD_COLOR turns it too: the grey result agrees with OpenCV's own.
    cv_upright = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert cv_upright.shape[:2] == src.pixels.shape[:2]


def test_animated_gif_uses_the_first_frame_and_says_so(tmp_path):
    rng = np.random.default_rng(3)
    frames = [Image.fromarray(rng.integers(0, 256, (9, 11, 3), np.uint8)).convert("P") for _ in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    src = read_image(path)
    np.testing.assert_array_equal(to_integer(src.pixels), np.asarray(Image.open(path).convert("RGB")))
    assert "first of 3 frames used" in src.notes


def test_multi_page_tiff_uses_the_first_page(tmp_path):
    pages = [Image.fromarray(np.full((5, 6, 3), v, np.uint8)) for v in (10, 200)]
    path = tmp_path / "pages.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    src = read_image(path)
    assert np.all(to_integer(src.pixels) == 10)
    assert "first of 2 frames used" in src.notes


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (9, 1, 3), (1, 1)])
def test_tiny_images(tmp_path, shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape) * 7
    src = read_image(write_png(tmp_path / "tiny.png", arr))
    assert src.pixels.shape == shape
    np.testing.assert_array_equal(to_integer(src.pixels), arr)


def test_non_ascii_and_space_filled_paths(tmp_path, photo_rgb):
    folder = tmp_path / "папка с пробелами"
    folder.mkdir()
    path = write_png(folder / "фото 照片 é.png", photo_rgb)
    src = read_image(path)
    assert src.path == path
    np.testing.assert_array_equal(to_integer(src.pixels), photo_rgb)


def test_svdz_file_loads_like_an_image(tmp_path, photo_png):
    svdz = pytest.importorskip("core.svdz")
    from core.svd import decompose

    src = read_image(photo_png)
    path = tmp_path / "photo.svdz"
    path.write_bytes(svdz.encode(decompose(src.pixels), 20))
    loaded = read_image(path)
    np.testing.assert_array_equal(loaded.pixels, svdz.decode(path.read_bytes()).pixels)
    assert loaded.format == "SVDZ" and loaded.file_bytes == path.stat().st_size


# ---- bad files: one line naming the file and the reason ----------------------

def _refused(path, match, **kwargs):
    with pytest.raises(ImageError) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert match in message, message
    return message


def test_missing_file(tmp_path):
    _refused(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path):
    (tmp_path / "dir.png").mkdir()
    _refused(tmp_path / "dir.png", "directory")


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    _refused(tmp_path / "empty.jpg", "empty")


def test_text_with_an_image_suffix(tmp_path):
    (tmp_path / "notes.png").write_text("just some text, not a picture\n")
    _refused(tmp_path / "notes.png", "not a readable image")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_files(tmp_path, photo_rgb, suffix, keep, capfd):
    ok, buf = cv2.imencode(suffix, photo_rgb[..., ::-1].copy())
    data = buf.tobytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: int(len(data) * keep)])
    _refused(path, "")
    assert capfd.readouterr().err == ""  # decoders print nothing where the app draws


def test_corrupt_png_checksum(tmp_path, photo_rgb):
    data = bytearray(write_png(tmp_path / "ok.png", photo_rgb).read_bytes())
    data[60] ^= 0xFF  # inside the first IDAT chunk
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    _refused(path, "corrupt or truncated PNG")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_enormous_declared_size_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(100_000, 90_000))  # 27 GB of pixels if anyone allocated them
    message = _refused(path, "--max-pixels")
    assert "100,000,000" in message


def test_pixel_limit_names_the_size_and_can_be_raised(photo_png):
    message = _refused(photo_png, "--max-pixels", max_pixels=1000)
    assert "128×96" in message and "1,000" in message
    assert read_image(photo_png, max_pixels=128 * 96).pixels.shape[:2] == (96, 128)


def test_unreadable_file(tmp_path, photo_png, monkeypatch):
    """chmod 000 does not stop root, so as root the refusal is simulated at the read itself."""
    if os.geteuid() == 0:
        real_open = os.open

        def deny(path, *args, **kwargs):
            if Path(path) == photo_png:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", deny)
    else:
        photo_png.chmod(0)
    _refused(photo_png, "permission denied")


# ---- float images (issue 14 item 8): samples in [0, 1] load as they are, others are refused by name --

def _float_photo(photo_rgb, channels: int, dtype) -> np.ndarray:
    """Floats in [0, 1] that are not on the 8-bit grid: what a science pipeline writes."""
    rgb = photo_rgb.astype(np.float64) / 255 * 0.98 + 0.01 + np.linspace(0, 0.003, photo_rgb.shape[1])[:, None]
    return (rgb.mean(axis=2) if channels == 1 else rgb).astype(dtype)


def _write_tiff(path: Path, array: np.ndarray) -> Path:
    import tifffile  # scikit-image's dependency: writes every sample type, float16 included

    tifffile.imwrite(path, array, photometric="rgb" if array.ndim == 3 else "minisblack")
    return path


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_tiff_in_0_1_loads_as_it_is(tmp_path, photo_rgb, channels, dtype):
    floats = _float_photo(photo_rgb, channels, dtype)
    src = read_image(_write_tiff(tmp_path / "science.tif", floats))
    np.testing.assert_array_equal(src.pixels, floats.astype(np.float32))  # no rounding to 8 or 16 bits
    assert src.bit_depth == 16  # saved back at the finest integer depth
    assert src.raw_bytes == floats.size * np.dtype(dtype).itemsize
    bits = np.dtype(dtype).itemsize * 8
    assert any(f"{bits}-bit float" in note for note in src.notes), src.notes
    grey = read_image(tmp_path / "science.tif", "grey").pixels
    assert grey.shape == floats.shape[:2] and grey.dtype == np.float32
    if channels == 3:  # BT.601 luma, computed on the floats
        luma = floats.astype(np.float64) @ [0.299, 0.587, 0.114]
        np.testing.assert_allclose(grey, luma, atol=1e-5)


@pytest.mark.parametrize("suffix", [".pfm", ".hdr"])
def test_other_float_formats_opencv_reads(tmp_path, photo_rgb, suffix):
    floats = _float_photo(photo_rgb, 3, np.float32)
    path = tmp_path / f"float{suffix}"
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(floats[..., ::-1]))
    assert ok
    path.write_bytes(buf.tobytes())
    src = read_image(path)
    expected = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)[..., ::-1]  # Radiance HDR keeps 8-bit mantissas
    np.testing.assert_array_equal(src.pixels, expected)
    assert np.abs(src.pixels - floats).max() < (1e-7 if suffix == ".pfm" else 0.01)


def test_float_tiff_with_alpha_is_composited_on_white_in_float(tmp_path, photo_rgb):
    floats = _float_photo(photo_rgb, 3, np.float32)
    alpha = np.linspace(0, 1, floats.shape[1], dtype=np.float32)[None, :, None].repeat(floats.shape[0], 0)
    import tifffile

    path = tmp_path / "alpha.tif"
    tifffile.imwrite(path, np.concatenate([floats, alpha], axis=2), photometric="rgb", extrasamples=["unassalpha"])
    src = read_image(path)
    np.testing.assert_allclose(src.pixels, floats * alpha + (1 - alpha), atol=1e-6)
    assert any("composited" in note for note in src.notes)


@pytest.mark.parametrize("bad, found", [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"),
                                        (-np.inf, "NaN or infinite")])
def test_float_tiff_with_nan_or_inf_is_refused(tmp_path, photo_rgb, bad, found):
    floats = _float_photo(photo_rgb, 3, np.float32)
    floats[5, 7, 1] = bad
    floats[9, 2, 0] = bad
    message = _refused(_write_tiff(tmp_path / "holes.tif", floats), found)
    assert "2 of" in message


@pytest.mark.parametrize("channels", [1, 3])
def test_float_tiff_outside_0_1_names_the_range_found(tmp_path, photo_rgb, channels):
    floats = _float_photo(photo_rgb, channels, np.float32) * 4000 - 12.5  # e.g. raw counts
    message = _refused(_write_tiff(tmp_path / "counts.tif", floats), "outside [0, 1]")
    assert f"{floats.min():.6g}" in message and f"{floats.max():.6g}" in message


def test_half_float_tiff_is_named_not_called_corrupt(tmp_path, photo_rgb):
    # OpenCV has no decoder for 16-bit float TIFF: say what the file holds, not "corrupt or truncated".
    message = _refused(_write_tiff(tmp_path / "half.tif", _float_photo(photo_rgb, 3, np.float16)), "not supported")
    assert "16-bit float" in message and "corrupt" not in message


def test_openexr_is_named_when_opencv_cannot_decode_it(tmp_path):
    import struct

    # The start of a real single-part scanline EXR: magic, version 2, then the header attributes.
    attribute = b"compression\0compression\0" + struct.pack("<i", 1) + b"\0"
    path = tmp_path / "render.exr"
    path.write_bytes(b"v/1\x01" + struct.pack("<i", 2) + attribute + b"\0" * 64)
    if cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED) is not None:
        pytest.skip("this OpenCV decodes EXR")
    message = _refused(path, "OpenEXR")
    assert "32-bit float TIFF" in message and "corrupt" not in message


@pytest.mark.parametrize("dtype, name", [(np.int32, "32-bit signed integer"), (np.uint32, "32-bit unsigned integer"),
                                         (np.int16, "16-bit signed integer"), (np.int8, "8-bit signed integer")])
def test_other_sample_types_are_named(tmp_path, photo_rgb, dtype, name):
    message = _refused(_write_tiff(tmp_path / "ints.tif", photo_rgb[..., 0].astype(dtype) // 2), "not supported")
    assert name in message


def test_unknown_mode(photo_png):
    with pytest.raises(ImageError, match="unknown mode"):
        read_image(photo_png, "sepia")


# ---- fuzz: every input ends in an image or ImageError -------------------------

def test_fuzz_random_and_mutated_files_end_in_an_image_or_image_error(tmp_path, photo_rgb, capfd):
    rng = np.random.default_rng(20261126)
    small = photo_rgb[:24, :32]
    seeds = []
    for suffix, params in ((".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 80]), (".webp", []), (".gif", []),
                           (".tiff", [])):
        ok, buf = cv2.imencode(suffix, small[..., ::-1].copy(), params)
        assert ok
        seeds.append((suffix, buf.tobytes()))
    cases = []
    for i in range(40):
        cases.append((".png", rng.integers(0, 256, int(rng.integers(1, 400)), np.uint8).tobytes()))
    for i in range(160):
        suffix, data = seeds[i % len(seeds)]
        mutated = bytearray(data)
        for _ in range(int(rng.integers(1, 12))):
            mutated[int(rng.integers(0, len(mutated)))] = int(rng.integers(0, 256))
        if i % 3 == 0:
            mutated = mutated[: int(rng.integers(1, len(mutated)))]
        cases.append((suffix, bytes(mutated)))
    loaded = refused = 0
    for i, (suffix, data) in enumerate(cases):
        path = tmp_path / f"fuzz{i}{suffix}"
        path.write_bytes(data)
        try:
            src = read_image(path, "grey" if i % 2 else "colour", max_pixels=10_000_000)
        except ImageError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            refused += 1
        else:
            assert src.pixels.dtype == np.float32 and np.isfinite(src.pixels).all()
            assert 0.0 <= src.pixels.min() and src.pixels.max() <= 1.0
            loaded += 1
    assert loaded > 0 and refused > 0


def test_a_renamed_svdz_and_a_zip_with_an_image_suffix(tmp_path, photo_png):
    svdz = pytest.importorskip("core.svdz")
    from core.svd import decompose

    renamed = tmp_path / "packed.png"
    renamed.write_bytes(svdz.encode(decompose(read_image(photo_png).pixels), 8))
    assert read_image(renamed).format == "SVDZ"
    import zipfile

    with zipfile.ZipFile(tmp_path / "archive.jpg", "w") as zf:
        zf.writestr("readme.txt", "hello")
    _refused(tmp_path / "archive.jpg", "zip archive")
    (tmp_path / "broken.svdz").write_bytes(b"PK\x03\x04 not really")
    _refused(tmp_path / "broken.svdz", "broken.svdz")


def _jpeg_header_only(width: int, height: int) -> bytes:
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def _gif_header_only(width: int, height: int, frame: bool = True) -> bytes:
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x00" if frame else b""
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + descriptor + b";"


@pytest.mark.parametrize("name, data", [("bomb.jpg", _jpeg_header_only(60_000, 60_000)),
                                        ("bomb.gif", _gif_header_only(65_535, 65_535)),
                                        ("wide.png", _png_header_only(2_000_000, 60))])
def test_enormous_declared_sizes_in_other_formats(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    _refused(path, "--max-pixels")


def test_a_header_only_opencv_can_read_still_gets_a_clear_refusal(tmp_path):
    path = tmp_path / "screen.gif"
    path.write_bytes(_gif_header_only(65_535, 65_535, frame=False))  # Pillow wants a frame; OpenCV checks
    _refused(path, "larger than OpenCV decodes")


def test_damaged_jpeg_data_becomes_a_note_not_stray_output(tmp_path, photo_rgb, capfd):
    ok, buf = cv2.imencode(".jpg", photo_rgb[..., ::-1].copy())
    data = buf.tobytes()
    path = tmp_path / "extra.jpg"
    path.write_bytes(data[:-2] + b"\x13" * 40 + data[-2:])  # junk before the end marker: libjpeg complains
    src = read_image(path, capture_decoder_messages=True)
    assert src.pixels.shape == photo_rgb.shape
    assert any(n.startswith("the JPEG decoder warned: Corrupt JPEG data") and "extraneous bytes" in n
               for n in src.notes)
    assert capfd.readouterr().err == ""
