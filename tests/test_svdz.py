"""The .svdz container: round trips, the size and quality targets, rank searches, and hostile files."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import data as skdata

from core import svdz
from core.errors import ContainerError, RankError, TargetError
from core.pixels import to_integer
from core.metrics import psnr
from core.svd import decompose


def saved(pixels: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Pixels as a PNG at bit_depth would hold them, back on [0, 1]."""
    return to_integer(pixels, bit_depth).astype(np.float64) / (2**bit_depth - 1)


@pytest.fixture(scope="module")
def photo(photo_rgb) -> np.ndarray:
    return photo_rgb.astype(np.float32) / 255.0  # 96×128 crop of the bundled photo


@pytest.fixture(scope="module")
def camera_dec():
    return decompose(skdata.camera().astype(np.float32) / 255.0)  # 512×512 grey photo


@pytest.fixture(scope="module")
def coffee_dec():
    return decompose(skdata.coffee().astype(np.float32) / 255.0)  # 400×600 colour photo


@pytest.fixture(scope="module")
def small_file(photo) -> bytes:
    return svdz.encode(decompose(photo, colour_space="ycbcr"), (8, 3))


# ---- round trips ----------------------------------------------------------------------
@pytest.mark.parametrize("space", ["grey", "rgb", "ycbcr"])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_round_trip_keeps_shape_colour_depth_and_pixels(photo, space, bit_depth):
    image = photo.mean(axis=2).astype(np.float32) if space == "grey" else photo
    dec = decompose(image, colour_space=None if space == "grey" else space)
    rank = (20, 6) if space == "ycbcr" else 20
    out = svdz.decode(svdz.encode(dec, rank, bit_depth=bit_depth))
    assert out.pixels.shape == image.shape and out.pixels.dtype == np.float32
    assert out.colour_space == space and out.bit_depth == bit_depth
    assert out.ranks == dec.channel_ranks(rank)
    assert out.pixels.min() >= 0.0 and out.pixels.max() <= 1.0
    for kept, full, r in zip(out.singular_values, dec.singular_values, out.ranks):
        np.testing.assert_allclose(kept, full[:r], rtol=1e-6)
    # The decoded image is the reconstruction up to a small quantisation noise.
    reference = dec.reconstruct(rank)
    loss = psnr(saved(reference, bit_depth), image) - psnr(saved(out.pixels, bit_depth), image)
    assert loss < 0.2


def test_ycbcr_chroma_rank_changes_the_file_and_decodes_to_rgb(photo):
    dec = decompose(photo, colour_space="ycbcr")
    small, large = svdz.encode(dec, (30, 2)), svdz.encode(dec, (30, 30))
    assert len(small) < len(large)
    out = svdz.decode(small)
    assert out.ranks == (30, 2, 2)
    # RGB, not YCbCr planes: close to the original photo in RGB.
    assert psnr(out.pixels, photo) > 25


def test_encode_refuses_a_rank_above_min_side(photo):
    dec = decompose(photo)
    with pytest.raises(RankError):
        svdz.encode(dec, 97)


def test_read_svdz_names_the_file(tmp_path, small_file):
    good = tmp_path / "ok.svdz"
    good.write_bytes(small_file)
    assert svdz.read_svdz(good).file_bytes == len(small_file)
    bad = tmp_path / "bad.svdz"
    bad.write_bytes(small_file[:100])
    with pytest.raises(ContainerError, match=r"^.*bad\.svdz: "):
        svdz.read_svdz(bad)
    with pytest.raises(ContainerError, match="no such file"):
        svdz.read_svdz(tmp_path / "missing.svdz")
    (tmp_path / "empty.svdz").write_bytes(b"")
    with pytest.raises(ContainerError, match="empty"):
        svdz.read_svdz(tmp_path / "empty.svdz")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(1, 24), width=st.integers(1, 24), space=st.sampled_from(["grey", "rgb", "ycbcr"]),
    bit_depth=st.sampled_from([8, 16]), seed=st.integers(0, 2**32 - 1), rank_share=st.floats(0.0, 1.0),
    smooth=st.booleans(),
)
def test_random_images_round_trip(height, width, space, bit_depth, seed, rank_share, smooth):
    rng = np.random.default_rng(seed)
    shape = (height, width) if space == "grey" else (height, width, 3)
    image = rng.random(shape, dtype=np.float32)
    if smooth:  # a smooth gradient has quickly falling σ, a different regime from noise
        ramp = np.linspace(0, 0.9, width, dtype=np.float32).reshape((1, width) + (1,) * (len(shape) - 2))
        image = np.clip(image * 0.1 + ramp, 0, 1)
    dec = decompose(image, colour_space=None if space == "grey" else space)
    rank = 1 + int(rank_share * (dec.full_rank - 1))
    out = svdz.decode(svdz.encode(dec, rank, bit_depth=bit_depth))
    assert out.pixels.shape == shape and out.bit_depth == bit_depth and out.colour_space == space
    assert np.isfinite(out.pixels).all() and out.pixels.min() >= 0 and out.pixels.max() <= 1
    # Quantisation adds a small share (3 % on average) of the truncation error, or of the rounding
    # error at full rank. Bounded here by the whole of it: on a few pixels one rounding can be a full
    # half-step, and YCbCr → RGB amplifies chroma noise up to 4×. 16-bit integers cap the precision:
    # steps of at least peak/32767 add at most (H + W)/(12·32767²), about 1e-9 (90 dB).
    reference = dec.reconstruct(rank)
    trunc = float(np.mean((reference.astype(np.float64) - image) ** 2))
    floor = 1.0 / (12 * (2**bit_depth - 1) ** 2)
    added = float(np.mean((out.pixels.astype(np.float64) - reference) ** 2))
    # decode() rounds to the bit depth, adding at most half a step per pixel (RMS triangle inequality).
    quantised = max(trunc, floor) + (height + width) / (12 * 32767**2)
    assert np.sqrt(added) <= np.sqrt(quantised) + 0.5 / (2**bit_depth - 1)


# ---- the targets ------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["camera_dec", "coffee_dec"])
@pytest.mark.parametrize("rank", [10, 50, 250])
def test_size_and_quality_targets(request, which, rank):
    dec = request.getfixturevalue(which)
    data = svdz.encode(dec, rank)
    float32_bytes = sum(rank * (dec.height + dec.width + 1) * 4 for _ in dec.channels)
    assert len(data) <= 0.30 * float32_bytes
    decoded = svdz.decode(data).pixels
    loss = psnr(saved(dec.reconstruct(rank)), dec.image) - psnr(saved(decoded), dec.image)
    assert loss <= 0.2


# ---- rank by budget and by PSNR ---------------------------------------------------------
def test_rank_for_max_bytes_is_the_largest_that_fits(coffee_dec):
    budget = 120_000
    r = svdz.rank_for_max_bytes(coffee_dec, budget)
    assert len(svdz.encode(coffee_dec, r)) <= budget < len(svdz.encode(coffee_dec, r + 1))


@pytest.mark.parametrize("space", ["rgb", "ycbcr"])
@pytest.mark.parametrize("budget", [2_500, 8_000, 20_000])
def test_rank_for_max_bytes_on_a_small_photo(photo, space, budget):
    dec = decompose(photo, colour_space=space)
    r = svdz.rank_for_max_bytes(dec, budget)
    assert len(svdz.encode(dec, r)) <= budget < len(svdz.encode(dec, r + 1))


@pytest.mark.parametrize("target", [22.0, 28.0, 34.0])
def test_rank_for_psnr_on_a_small_photo(photo, target):
    dec = decompose(photo)
    r = svdz.rank_for_decoded_psnr(dec, target)
    assert svdz.quantised_psnr(dec, r) >= target > svdz.quantised_psnr(dec, r - 1)
    decoded = svdz.decode(svdz.encode(dec, r)).pixels
    assert psnr(saved(decoded), photo) == pytest.approx(svdz.quantised_psnr(dec, r), abs=1e-6)


def test_rank_for_max_bytes_edges(photo):
    dec = decompose(photo)
    smallest = len(svdz.encode(dec, 1))
    with pytest.raises(TargetError, match=f"{smallest:,} bytes at rank 1"):
        svdz.rank_for_max_bytes(dec, smallest - 1)
    assert svdz.rank_for_max_bytes(dec, smallest) == 1
    assert svdz.rank_for_max_bytes(dec, 10**9) == dec.full_rank
    with pytest.raises(TargetError):
        svdz.rank_for_max_bytes(dec, 0)


def test_rank_for_max_bytes_on_truncated_factors_does_not_claim_the_top_rank_is_largest(photo):
    # A quick first pass serves few ranks; a budget they all fit in says so instead of naming the top one.
    dec = decompose(photo, method="exact", max_rank=5)
    assert dec.max_rank == 5 < dec.full_rank
    with pytest.raises(TargetError, match=r"every computed rank \(≤ 5\) fits in 1,000,000,000 bytes"):
        svdz.rank_for_max_bytes(dec, 10**9)
    r = svdz.rank_for_max_bytes(dec, len(svdz.encode(dec, 4)))  # a budget below the top still answers
    assert r == 4


def test_rank_for_psnr_is_the_smallest_reaching_it_after_quantisation(camera_dec):
    r = svdz.rank_for_decoded_psnr(camera_dec, 32.0)

    def measured(rank):
        return psnr(saved(svdz.decode(svdz.encode(camera_dec, rank)).pixels), camera_dec.image)

    assert measured(r) >= 32.0 > measured(r - 1)


def test_rank_for_psnr_out_of_reach(photo):
    # Grey as the mean of RGB lies off the 8-bit grid, so even full rank, rounded, has a finite PSNR.
    dec = decompose(photo.mean(axis=2).astype(np.float32))
    with pytest.raises(TargetError, match="out of reach"):
        svdz.rank_for_decoded_psnr(dec, 200.0)
    with pytest.raises(TargetError):
        svdz.rank_for_decoded_psnr(dec, float("nan"))


# ---- hostile and damaged files -------------------------------------------------------------
def members(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def npy_with_header(descr: str, shape: tuple[int, ...], payload: bytes) -> bytes:
    """A .npy member whose header says whatever we like, followed by `payload`."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def archive(arrays: dict[str, np.ndarray | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            zf.writestr(name + ".npy", value if isinstance(value, bytes) else npy_bytes(value))
    return buf.getvalue()


def check_rejected_or_valid(data: bytes) -> None:
    """Either ContainerError, or an image that is finite, in [0, 1] and of the declared shape."""
    try:
        out = svdz.decode(data)
    except ContainerError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert np.isfinite(out.pixels).all()
    assert out.pixels.min() >= 0 and out.pixels.max() <= 1
    declared = tuple(int(x) for x in members(data)["shape"])
    assert out.pixels.shape == declared


def test_the_reference_file_decodes(small_file):
    assert svdz.decode(archive(members(small_file))).pixels.shape == (96, 128, 3)


def test_files_with_deflated_factors_decode_to_the_same_pixels(photo):
    """Files written before the factors were bzip2-compressed (DEFLATE throughout) still open, the same."""
    data = svdz.encode(decompose(photo), 40)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        methods = {i.filename: i.compress_type for i in zf.infolist()}
    assert methods["u.npy"] == methods["v.npy"] == zipfile.ZIP_BZIP2
    assert methods["version.npy"] == zipfile.ZIP_DEFLATED
    old = archive(members(data))
    assert np.array_equal(svdz.decode(old).pixels, svdz.decode(data).pixels)


def test_a_member_in_another_compression_method_is_refused(small_file):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_LZMA) as zf:
        for name, value in members(small_file).items():
            zf.writestr(name + ".npy", npy_bytes(value))
    with pytest.raises(ContainerError, match="unsupported compression method"):
        svdz.decode(buf.getvalue())


def test_truncated_files_are_rejected(small_file):
    for cut in list(range(0, 64)) + list(range(64, len(small_file), 97)):
        with pytest.raises(ContainerError):
            svdz.decode(small_file[:cut])


def test_flipped_bytes_are_rejected_or_decode_to_a_valid_image(small_file):
    rng = np.random.default_rng(4)
    for _ in range(300):
        data = bytearray(small_file)
        for pos in rng.integers(0, len(data), size=rng.integers(1, 4)):
            data[pos] ^= 1 << int(rng.integers(0, 8))
        check_rejected_or_valid(bytes(data))


def _zip_size_field(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size of `name` in the central directory (a lying header)."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02" + b"", 0)
    while pos != -1:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if out[pos + 46:pos + 46 + name_len] == name.encode():
            struct.pack_into("<I", out, pos + 24, size)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def hostile_files(small_file: bytes) -> dict[str, bytes]:
    good = members(small_file)
    total = int(good["ranks"].sum())

    def with_(**changes):
        arrays = dict(good)
        for k, v in changes.items():
            if v is None:
                arrays.pop(k)
            else:
                arrays[k] = v
        return archive(arrays)

    big_steps_up = good["u"].copy()
    big_steps_up[0], big_steps_up[1] = 254, 0  # every difference +127: the running sums leave the unit ball
    nan_steps = good["steps"].copy()
    nan_steps[0, 0] = np.nan
    huge_steps = good["steps"].copy()
    huge_steps[1, 2] = 1e30
    negative_s = good["s"].copy()
    negative_s[0] = -1
    lying_header = npy_with_header("|u1", (2, total, 99_999_999), good["u"].tobytes())
    return {
        "pickled object array": with_(s=np.array([{"a": 1}, None], dtype=object)),
        "pickled object in place of the version": with_(version=np.array(pickle.dumps(1), dtype=object)),
        "raw pickle member": with_(s=pickle.dumps(np.arange(3))),
        "extra member": with_(extra=np.zeros(3)),
        "missing member": with_(steps=None),
        "version 2": with_(version=np.array(2, np.uint16)),
        "wrong dtype for version": with_(version=np.array(1, np.int64)),
        "wrong dtype for s": with_(s=good["s"].astype(np.float64)),
        "wrong dtype for u": with_(u=good["u"].astype(np.int16)),
        "structured dtype": with_(steps=np.zeros(2 * total, dtype=[("a", "<f4")]).reshape(2, total)),
        "Fortran order": with_(u=np.asfortranarray(good["u"])),
        "wrong u shape": with_(u=good["u"][:, :, :-1]),
        "wrong v shape": with_(v=good["v"][:, :-1]),
        "shape disagrees with factors": with_(shape=np.array([97, 128, 3], np.uint32)),
        "grey shape for colour": with_(shape=np.array([96, 128], np.uint32)),
        "four channels": with_(shape=np.array([96, 128, 4], np.uint32)),
        "huge declared image": with_(shape=np.array([4_000_000_000, 4_000_000_000, 3], np.uint32)),
        "zero-size image": with_(shape=np.array([0, 128, 3], np.uint32)),
        "rank above min side": with_(ranks=np.array([97, 3, 3], np.uint32)),
        "rank zero": with_(ranks=np.array([0, 3, 3], np.uint32)),
        "huge rank": with_(ranks=np.array([2**31, 3, 3], np.uint32)),
        "ranks disagree with factors": with_(ranks=np.array([9, 3, 3], np.uint32)),
        "NaN step": with_(steps=nan_steps),
        "huge step": with_(steps=huge_steps),
        "zero steps": with_(steps=np.zeros_like(good["steps"])),
        "negative singular value": with_(s=negative_s),
        "infinite singular value": with_(s=np.full_like(good["s"], np.inf)),
        "delta flag of 2": with_(delta=np.full_like(good["delta"], 2)),
        "differences that sum past a unit vector": with_(delta=np.ones_like(good["delta"]), u=big_steps_up),
        "unknown colour space": with_(colour_space=np.array("cmyk", "<U5")),
        "bit depth 12": with_(bit_depth=np.array(12, np.uint8)),
        "header claims a huge array": with_(u=lying_header),
        "zip declares a huge member": _zip_size_field(small_file, "u.npy", 2**31),
        "zip declares a tiny member": _zip_size_field(small_file, "v.npy", 10),
        "bare npy, not a zip": npy_bytes(np.zeros(4)),
        "pickle, not a zip": pickle.dumps({"u": 1}),
        "stored (uncompressed) archive still decodes": _stored(good),
    }


def _stored(arrays) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, value in arrays.items():
            zf.writestr(name + ".npy", npy_bytes(value))
    return buf.getvalue()


def test_hostile_files_are_rejected_cleanly(small_file, monkeypatch):
    files = hostile_files(small_file)

    def no_pickle(*args, **kwargs):
        raise AssertionError("the decoder called pickle")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    for name, data in files.items():
        if name.endswith("still decodes"):
            assert svdz.decode(data).pixels.shape == (96, 128, 3), name
            continue
        with pytest.raises(ContainerError) as info:
            svdz.decode(data)
        assert "\n" not in str(info.value), name


def test_zip_bomb_is_refused_before_decoding():
    # A 4096×4096 grey image at full rank whose factors are all zeros: 64 MiB of members in a
    # file of about 70 KB. Valid in every field, but decoding it would cost minutes of products.
    side, rank = 4096, 4096
    zeros = np.zeros((2, rank, side), np.uint8)
    data = archive({
        "version": np.array(1, np.uint16), "shape": np.array([side, side], np.uint32),
        "bit_depth": np.array(8, np.uint8), "colour_space": np.array("grey", "<U5"),
        "ranks": np.array([rank], np.uint32), "s": np.zeros(rank, np.float32),
        "steps": np.ones((2, rank), np.float32), "delta": np.zeros((2, rank), np.uint8), "u": zeros, "v": zeros,
    })
    assert len(data) < 200_000
    with pytest.raises(ContainerError, match="not plausible"):
        svdz.decode(data)


def test_pixel_limit_is_checked_before_decoding(small_file):
    with pytest.raises(ContainerError, match="above the limit"):
        svdz.decode(small_file, max_pixels=96 * 128 - 1)


def test_mutated_members_are_rejected_or_decode_to_a_valid_image(small_file):
    """Random values in every field, kept to the right dtypes and shapes."""
    good = members(small_file)
    rng = np.random.default_rng(7)
    for _ in range(150):
        arrays = {k: v.copy() for k, v in good.items()}
        key = str(rng.choice(list(arrays)))
        flat = arrays[key].reshape(-1)
        if flat.dtype.kind in "ui":
            flat[rng.integers(0, flat.size)] = rng.integers(0, np.iinfo(flat.dtype).max, dtype=flat.dtype)
        elif flat.dtype.kind == "f":
            flat[rng.integers(0, flat.size)] = rng.choice([np.nan, np.inf, -1.0, 1e20, 0.0, 3.0])
        else:
            arrays[key] = np.array(rng.choice(["grey", "rgb", "ycbcr", "xyz", ""]), "<U5")
        check_rejected_or_valid(archive(arrays))


def test_a_smooth_image_at_a_high_rank_is_not_taken_for_a_zip_bomb(monkeypatch):
    """Its factors are nearly all zeros and expand thousands of times, yet are no larger than the image:
    our own file must decode (an 18 MP gradient at rank 500 was refused before)."""
    monkeypatch.setattr(svdz, "_BOMB_MIN_BYTES", 4096)  # the real limit (16 MiB) needs an 18 MP image
    y, x = np.mgrid[0:120, 0:200].astype(np.float32)
    gradient = np.stack([x / 200, y / 120, (x + y) / 320], -1).astype(np.float32)
    data = svdz.encode(decompose(gradient), 40)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        v = zf.getinfo("v.npy")
    assert v.file_size > 4096 and v.file_size / v.compress_size > svdz._BOMB_RATIO  # what the old rule refused
    assert svdz.decode(data).pixels.shape == (120, 200, 3)
