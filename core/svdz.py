"""The .svdz container: a rank-r SVD of an image, quantised and entropy-coded, and its decoder.

A .svdz file is a numpy .npz archive (a zip of .npy members: u and v bzip2-compressed, the
small ones deflated; files written before this were deflated throughout and read the same) that
``np.load(..., allow_pickle=False)`` opens. Every member, version 1:

==============  ===========  ===============  ==================================================
member          dtype        shape            meaning
==============  ===========  ===============  ==================================================
version         uint16       ()               format version, 1
shape           uint32       (2,) or (3,)     image shape: (H, W) grey, (H, W, 3) colour
bit_depth       uint8        ()               8 or 16: the depth the decoded image is saved at
colour_space    <U5          ()               "grey", "rgb" or "ycbcr" (planes the SVD was taken of)
ranks           uint32       (C,)             rank kept per channel (C = 1 grey, 3 colour), 1..min(H, W)
s               float32      (R,)             singular values, channel after channel (R = sum of ranks)
steps           float32      (2, R)           quantisation step of each column of U (row 0) and V (row 1)
delta           uint8        (2, R)           1 where that column of U (row 0) or V (row 1) is stored as differences
u               uint8        (2, R, H)        columns of U as zigzag 16-bit integers: low bytes, then high bytes
v               uint8        (2, R, W)        columns of V, the same way
==============  ===========  ===============  ==================================================

Channel c's plane is ``Σ_j s_j (q_u[j]·step_u[j]) (q_v[j]·step_v[j])ᵀ`` over its columns j,
with q = zigzag⁻¹(low + 256·high) (zigzag: 0, -1, 1, -2, … ↦ 0, 1, 2, 3, …), followed by a
running sum along the column where its delta flag is 1. YCbCr planes are converted back to
RGB (core.colour); the result is clipped to [0, 1].

Why this quantiser: a column's error is multiplied by its singular value, so each column
gets the step that makes s_j·step_j the same for all columns (the noise is spread evenly,
which minimises bits for a given error) and that noise is set to a small share
(NOISE_SHARE) of the truncation error the rank already has. Leading columns then need up
to 16 bits and trailing ones only a few; a plain 8 bits per column with max-abs scales
loses up to 1 dB at rank 250. Zigzag and split bytes keep the high bytes of small numbers
zero, which the entropy coder reduces to almost nothing. Leading singular vectors of a photo are smooth,
so those columns are stored as differences of neighbouring entries (files 4–21 % smaller on
the sample photos, most at low ranks). The factor planes are bzip2-compressed: on an 8 MP
photo's factors 10–15 % smaller than DEFLATE level 9 and ~10× faster (level 9 took ~1 s per
rank there, which the app's table and the rank-by-budget search felt); LZMA (preset 6) is
about as small as bzip2 but 5× slower.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .colour import ycbcr_to_rgb
from .errors import ContainerError, TargetError, display_path
from .files import read_file
from .metrics import psnr
from .pixels import DEFAULT_MAX_PIXELS, ImageShape, as_saved, to_integer

FORMAT_VERSION = 1
COLOUR_SPACES = ("grey", "rgb", "ycbcr")
BIT_DEPTHS = (8, 16)
# Quantisation noise as a share of the truncation error already there: 10·log10(1.03) ≈ 0.13 dB at
# the same rank. At equal bytes a larger share (and a higher rank) would score more, but the same-rank
# loss must stay under 0.2 dB; measured: 0.02 → 0.08 dB, 0.03 → 0.12 dB, and +0.3–0.5 dB at equal bytes.
NOISE_SHARE = 0.03
MAX_FILE_BYTES = 2**31  # refuse to read anything larger
_QMAX = 32767  # zigzag 16-bit integers hold -32768..32767
_ZIP_MAGIC = b"PK\x03\x04"
_MEMBERS = ("version", "shape", "bit_depth", "colour_space", "ranks", "s", "steps", "delta", "u", "v")
_MAX_HEADER = 1024  # our npy headers are ~128 bytes; numpy's own limit is 10 000
_BOMB_MIN_BYTES = 16 * 2**20  # members above this size must not expand more than _BOMB_RATIO times
_BOMB_RATIO = 64
_BZIP2_MIN_BYTES = 4096  # members above this are bzip2-compressed (see _archive)


@dataclass(frozen=True)
class SvdzImage(ImageShape):
    """A decoded .svdz: the pixels and what the file says about them."""

    pixels: np.ndarray = field(repr=False)  # float32 in [0, 1] on the bit depth's grid, H×W or H×W×3 RGB
    bit_depth: int
    ranks: tuple[int, ...]
    colour_space: str
    singular_values: tuple[np.ndarray, ...]  # the kept ones, per channel (float64)
    file_bytes: int


# ---- quantisation (shared by encode and the PSNR search) ------------------------------
@dataclass
class _Quantised:
    colour_space: str
    shape: tuple[int, ...]
    ranks: tuple[int, ...]
    s: np.ndarray  # float32 (R,)
    steps: np.ndarray  # float32 (2, R)
    qu: np.ndarray  # int32 (R, H)
    qv: np.ndarray  # int32 (R, W)


def _column_steps(vectors: np.ndarray, s: np.ndarray, noise: float) -> np.ndarray:
    """Step per row of `vectors` (r×m) so that s_j·step_j = noise, within 16 bits and finite."""
    peak = np.abs(vectors).max(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(s > 0, noise / s, np.inf)
    step = np.maximum(step, peak / _QMAX)  # never more than 16 bits
    # Coarser than 4× the peak rounds the whole column to zero anyway; keeps zero-σ columns finite.
    step = np.minimum(step, 4.0 * peak)
    return np.maximum(step, np.finfo(np.float32).tiny).astype(np.float32)


def _quantise(dec, rank, bit_depth: int) -> _Quantised:
    if bit_depth not in BIT_DEPTHS:
        raise ContainerError(f"bit depth must be 8 or 16, got {bit_depth}")
    ranks = dec.channel_ranks(rank)
    residual = dec.residual_energy(ranks)
    height, width = dec.height, dec.width
    # Below the rounding noise of the saved image extra precision buys nothing.
    rounding = height * width / (12.0 * (2**bit_depth - 1) ** 2)
    s_all, steps_u, steps_v, qus, qvs = [], [], [], [], []
    for c, r, res in zip(dec.channels, ranks, residual):
        # The residual is total energy minus float32 σ²: below ~1e-6 of the total it is rounding, not signal.
        res = float(res) if res > 1e-6 * c.total_energy else 0.0
        u = c.u[:, :r].T.contiguous().cpu().numpy().astype(np.float64)
        v = c.v[:, :r].T.contiguous().cpu().numpy().astype(np.float64)
        s = c.s[:r].cpu().numpy().astype(np.float32)
        # A column's squared error is s²·step²·(H + W)/12: spread NOISE_SHARE·max(res, rounding)
        # evenly over the r columns.
        noise = math.sqrt(NOISE_SHARE * max(res, rounding) * 12.0 / (r * (height + width)))
        su = _column_steps(u, s.astype(np.float64), noise)
        sv = _column_steps(v, s.astype(np.float64), noise)
        qus.append(np.clip(np.rint(u / su[:, None]), -_QMAX, _QMAX).astype(np.int32))
        qvs.append(np.clip(np.rint(v / sv[:, None]), -_QMAX, _QMAX).astype(np.int32))
        s_all.append(s)
        steps_u.append(su)
        steps_v.append(sv)
    return _Quantised(
        colour_space=dec.colour_space, shape=tuple(dec.image.shape), ranks=ranks, s=np.concatenate(s_all),
        steps=np.stack([np.concatenate(steps_u), np.concatenate(steps_v)]), qu=np.concatenate(qus),
        qv=np.concatenate(qvs),
    )


def _reconstruct(q: _Quantised) -> np.ndarray:
    """Pixels from quantised factors: the one code path for encoder checks and the decoder."""
    planes, start = [], 0
    for r in q.ranks:
        cols = slice(start, start + r)
        u = q.qu[cols].astype(np.float32) * q.steps[0, cols, None]
        v = q.qv[cols].astype(np.float32) * q.steps[1, cols, None]
        planes.append((u.T * q.s[cols]) @ v)
        start += r
    if q.colour_space == "grey":
        out = planes[0]
    else:
        out = np.stack(planes, axis=-1)
        if q.colour_space == "ycbcr":
            out = ycbcr_to_rgb(out)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def _decoded_integers(q: _Quantised, bit_depth: int, *, bgr: bool = False) -> np.ndarray:
    """to_integer(_reconstruct(q), bit_depth) (channels reversed when bgr), plane by plane: the
    same float32 products and rounding without the full-size float stack and its copies (the
    app and `report` measure a .svdz at every rank; at 8 MP this is ~2.5× faster)."""
    if q.colour_space == "ycbcr":  # the planes mix before clipping: the general path
        ints = to_integer(_reconstruct(q), bit_depth)
        return np.ascontiguousarray(ints[..., ::-1]) if bgr else ints
    top = np.float32(65535.0 if bit_depth == 16 else 255.0)
    out = np.empty(q.shape, dtype=np.uint16 if bit_depth == 16 else np.uint8)
    start = 0
    for i, r in enumerate(q.ranks):
        cols = slice(start, start + r)
        u = q.qu[cols].astype(np.float32) * q.steps[0, cols, None]
        v = q.qv[cols].astype(np.float32) * q.steps[1, cols, None]
        plane = (u.T * q.s[cols]) @ v
        np.clip(plane, 0.0, 1.0, out=plane)
        plane *= top
        np.rint(plane, out=plane)
        if out.ndim == 2:
            out[...] = plane
        else:
            out[..., out.shape[2] - 1 - i if bgr else i] = plane
        start += r
    return out


def _zigzag_planes(q: np.ndarray) -> np.ndarray:
    z = ((q << 1) ^ (q >> 31)).astype(np.uint16)  # 0, -1, 1, -2 … → 0, 1, 2, 3 …
    return np.stack([(z & 0xFF).astype(np.uint8), (z >> 8).astype(np.uint8)])


def _unzigzag(planes: np.ndarray) -> np.ndarray:
    z = planes[0].astype(np.int32) | (planes[1].astype(np.int32) << 8)
    return (z >> 1) ^ -(z & 1)


def _to_differences(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Store a column as first differences where that makes its numbers smaller (and still 16-bit)."""
    d = np.diff(q, axis=1, prepend=0)
    # log2(1 + |x|) tracks the bits a number costs better than |x| does.
    smaller = np.log2(1.0 + np.abs(d)).sum(axis=1) < np.log2(1.0 + np.abs(q)).sum(axis=1)
    use = smaller & (np.abs(d).max(axis=1) <= _QMAX)
    return np.where(use[:, None], d, q), use.astype(np.uint8)


def _from_differences(stored: np.ndarray, flags: np.ndarray) -> np.ndarray:
    # int64: a forged file's running sums can reach 32768·H; the unit-vector check rejects those.
    out = stored.astype(np.int64)
    rows = flags.astype(bool)
    out[rows] = np.cumsum(out[rows], axis=1)
    return out


# ---- encoding -----------------------------------------------------------------------
def _archive(members: dict[str, np.ndarray]) -> bytes:
    """A zip of .npy members (what np.load opens): the factor planes bzip2-compressed, the rest deflated.

    bzip2 suits the zigzag byte planes better than DEFLATE: on an 8 MP photo's factors it made
    files 10–15 % smaller than DEFLATE level 9 in a tenth of its time (level 9's long match
    searches cost ~1 s per rank there); tiny members stay deflated (bzip2's own header is larger).
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, array in members.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, array, allow_pickle=False)
            method = zipfile.ZIP_BZIP2 if array.nbytes > _BZIP2_MIN_BYTES else zipfile.ZIP_DEFLATED
            zf.writestr(name + ".npy", npy.getvalue(), compress_type=method, compresslevel=9)
    return buf.getvalue()


def _pack(q: _Quantised, bit_depth: int) -> bytes:
    u, u_delta = _to_differences(q.qu)
    v, v_delta = _to_differences(q.qv)
    return _archive({
        "version": np.array(FORMAT_VERSION, dtype=np.uint16),
        "shape": np.array(q.shape, dtype=np.uint32),
        "bit_depth": np.array(bit_depth, dtype=np.uint8),
        "colour_space": np.array(q.colour_space, dtype="<U5"),
        "ranks": np.array(q.ranks, dtype=np.uint32),
        "s": q.s.astype(np.float32),
        "steps": q.steps.astype(np.float32),
        "delta": np.stack([u_delta, v_delta]),
        "u": _zigzag_planes(u),
        "v": _zigzag_planes(v),
    })


def encode(dec, rank, *, bit_depth: int = 8) -> bytes:
    """The .svdz bytes of `dec` at `rank` (an int, one per channel, or (luma, chroma) for YCbCr)."""
    return _pack(_quantise(dec, rank, bit_depth), bit_depth)


# ---- targets ------------------------------------------------------------------------
def _first_true(pred, lo: int, hi: int, propose) -> int:
    """Smallest r in (lo, hi] where the monotone pred turns True, given it is False at lo and True at hi.

    propose(lo, hi) is a model's guess at the answer; it is followed while it keeps
    halving the bracket (two misses in a row hand over to one bisection step), so a good
    model needs two or three calls of pred and a poor one costs little more than bisection.
    """
    misses = 0
    while hi - lo > 1:
        guess = propose(lo, hi) if misses < 2 else None
        # A guess on or past an end means "the answer is that end": test its neighbour inside.
        r = (lo + hi) // 2 if guess is None else min(max(guess, lo + 1), hi - 1)
        width = hi - lo
        if pred(r):
            hi = r
        else:
            lo = r
        misses = 0 if guess is None or hi - lo <= width // 2 + 1 else misses + 1
    return hi


def _size_guess(sizes: dict[int, float], lo: int, hi: int, budget: float) -> int | None:
    """Rank where the file would reach budget, from the measured sizes nearest the bracket.

    Size grows a little faster than rank (finer steps as the error falls): interpolate on
    log-log axes between measurements, or extrapolate from one with size ∝ rank^1.15.
    """
    below = [r for r in sizes if r <= lo]
    above = [r for r in sizes if r >= hi]
    if below and above:
        (r0, s0), (r1, s1) = (max(below), sizes[max(below)]), (min(above), sizes[min(above)])
        if s1 > s0:
            t = math.log(budget / s0) / math.log(s1 / s0)
            return int(math.exp(math.log(r0) + t * (math.log(r1) - math.log(r0))))
    if below or above:
        r0 = max(below) if below else min(above)
        return int(r0 * (budget / sizes[r0]) ** (1 / 1.15))
    return None


def rank_for_max_bytes(dec, max_bytes: int, *, bit_depth: int = 8) -> int:
    """Largest rank (the same on every channel) whose .svdz file is at most max_bytes.

    The file grows with rank (more columns, and finer steps as the truncation error
    falls), so this searches on the encoded size, interpolating between measured sizes;
    the answer is always a rank whose file was encoded and seen to fit.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 1:
        raise TargetError(f"byte budget must be a positive whole number, got {max_bytes!r}")
    top = dec.max_rank
    sizes: dict[int, float] = {}

    def too_big(r: int) -> bool:
        if r > top:
            return True
        if r not in sizes:
            sizes[r] = len(encode(dec, r, bit_depth=bit_depth))
        return sizes[r] > max_bytes

    def propose(lo: int, hi: int) -> int | None:
        guess = _size_guess(sizes, lo, hi, max_bytes)
        if guess is None:  # nothing measured yet: about half a byte per factor entry
            guess = int(max_bytes / (0.5 * len(dec.channels) * (dec.height + dec.width)))
        return guess

    rank = _first_true(too_big, 0, top + 1, propose) - 1
    if rank < 1:
        raise TargetError(f"a budget of {max_bytes:,} bytes is below the smallest .svdz for this image "
                          f"({int(sizes[1]):,} bytes at rank 1)")
    if rank == top < dec.full_rank:
        # A truncated decomposition (a quick first pass) cannot tell how far above its top rank
        # the budget reaches: answering `top` would claim it is the largest that fits.
        raise TargetError(f"every computed rank (≤ {top}) fits in {max_bytes:,} bytes; "
                          "higher ranks are still being computed")
    return rank


def quantised_psnr(dec, rank, *, bit_depth: int = 8) -> float:
    """PSNR (dB) of the image a .svdz at `rank` decodes to, rounded to bit_depth, against the original."""
    top = np.float32(65535.0 if bit_depth == 16 else 255.0)
    return psnr(_decoded_integers(_quantise(dec, rank, bit_depth), bit_depth).astype(np.float32) / top, dec.image)


def _psnr_model(dec, bit_depth: int) -> np.ndarray:
    """PSNR (dB) for ranks 1..max_rank predicted from σ: truncation error plus the quantiser's share,
    plus rounding; unclipped, so usually a little pessimistic."""
    residual = sum(np.maximum(c.total_energy - np.cumsum(s[: dec.max_rank] ** 2), 0.0)
                   for c, s in zip(dec.channels, dec.singular_values))
    mse = residual * (1.0 + NOISE_SHARE) / dec.image.size + 1.0 / (12.0 * (2**bit_depth - 1) ** 2)
    return 10.0 * np.log10(1.0 / mse)


def rank_for_decoded_psnr(dec, psnr_db: float, *, bit_depth: int = 8) -> int:
    """Smallest rank (the same on every channel) whose decoded, rounded .svdz image reaches psnr_db.

    Each try decodes a whole image, so the search starts where the singular values predict
    and corrects that prediction by the offset each measurement shows.
    """
    if isinstance(psnr_db, bool) or not isinstance(psnr_db, (int, float, np.floating, np.integer)) \
            or not math.isfinite(psnr_db) or psnr_db <= 0:
        raise TargetError(f"PSNR target must be a positive number of dB, got {psnr_db!r}")
    top = dec.max_rank
    model = _psnr_model(dec, bit_depth)
    measured: dict[int, float] = {}

    def reaches(r: int) -> bool:
        if r > top:
            return True  # the sentinel above the largest rank; checked below
        if r not in measured:
            measured[r] = quantised_psnr(dec, r, bit_depth=bit_depth)
        return measured[r] >= psnr_db

    def propose(lo: int, hi: int) -> int | None:
        near = [r for r in measured if lo <= r <= hi] or list(measured)
        offset = 0.0
        if near:  # the model is off by a smooth amount: shift it by what the nearest measurement showed
            r0 = min(near, key=lambda r: min(abs(r - lo), abs(r - hi)))
            offset = measured[r0] - model[r0 - 1]
        hits = np.nonzero(model + offset >= psnr_db)[0]
        return int(hits[0]) + 1 if hits.size else None

    rank = _first_true(reaches, 0, top + 1, propose)
    if rank > top:
        limit = "full rank" if top == dec.full_rank else "the largest computed rank"
        raise TargetError(f"{psnr_db} dB is out of reach: the .svdz at {limit} ({top}) gives {measured[top]:.2f} dB")
    return rank


# ---- decoding -----------------------------------------------------------------------
def _expect(cond: bool, reason: str) -> None:
    if not cond:
        raise ContainerError(reason)


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and header length of one .npy member, read without loading its data."""
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=_MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=_MAX_HEADER)
        else:
            raise ContainerError(f"member {info.filename} has npy version {version}")
        header_len = fh.tell()
    _expect(not fortran, f"member {info.filename.removesuffix('.npy')} is in Fortran order")
    return tuple(shape), dtype, header_len


def _check_member(zf, infos, name: str, dtype: str, shape: tuple[int, ...], image_bytes: int = 0) -> None:
    info = infos[name]
    got_shape, got_dtype, header_len = _member_header(zf, info)
    _expect(not got_dtype.hasobject and got_dtype == np.dtype(dtype),
            f"member {name} has dtype {got_dtype}, expected {np.dtype(dtype)}")
    _expect(got_shape == shape, f"member {name} has shape {got_shape}, expected {shape}")
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    # The zip's declared size must match exactly: no trailing data, no inflated member.
    _expect(info.file_size == header_len + nbytes,
            f"member {name} declares {info.file_size} bytes, expected {header_len + nbytes}")
    # A photo's quantised factors hold a few bits of noise per entry and compress 2–8×; a big member
    # that expands far more and is larger than the image it claims to hold is a zip bomb aimed at the
    # decoder's time and memory. (A smooth image's factors are nearly all zeros and expand thousands
    # of times: at no more than the image's own bytes they cost what decoding a photo that size does.)
    ratio = info.file_size / max(info.compress_size, 1)
    _expect(info.file_size <= _BOMB_MIN_BYTES or ratio <= _BOMB_RATIO or info.file_size <= image_bytes,
            f"member {name} expands {ratio:.0f}× ({info.file_size:,} bytes from {info.compress_size:,}): "
            f"not plausible for factor data")


def _scalar(npz, zf, infos, name: str, dtype: str):
    _check_member(zf, infos, name, dtype, ())
    return npz[name][()]


def _parse(data: bytes, max_pixels: int) -> tuple[_Quantised, int]:
    _expect(len(data) <= MAX_FILE_BYTES, f"the file is larger than {MAX_FILE_BYTES:,} bytes")
    _expect(data[:4] == _ZIP_MAGIC, "not a .svdz file (no zip signature)")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        zf = npz.zip
        infos = {}
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            _expect(name in _MEMBERS, f"unexpected member {info.filename!r}")
            _expect(name not in infos, f"member {name} appears twice")
            _expect(info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2),
                    f"member {name} uses an unsupported compression method")
            _expect(not info.flag_bits & 0x1, f"member {name} is encrypted")
            infos[name] = info
        missing = [m for m in _MEMBERS if m not in infos]
        _expect(not missing, f"missing member(s): {', '.join(missing)}")

        version = int(_scalar(npz, zf, infos, "version", "<u2"))
        _expect(version == FORMAT_VERSION,
                f"format version {version} is not supported (this svdlens reads {FORMAT_VERSION})")
        bit_depth = int(_scalar(npz, zf, infos, "bit_depth", "u1"))
        _expect(bit_depth in BIT_DEPTHS, f"bit depth {bit_depth} is not 8 or 16")
        colour_space = str(_scalar(npz, zf, infos, "colour_space", "<U5"))
        _expect(colour_space in COLOUR_SPACES, f"unknown colour space {colour_space!r}")
        channels = 1 if colour_space == "grey" else 3

        _check_member(zf, infos, "shape", "<u4", (2,) if channels == 1 else (3,))
        shape = tuple(int(x) for x in npz["shape"])
        _expect(channels == 1 or shape[-1] == 3, f"a colour image needs 3 channels, the file says {shape[-1]}")
        height, width = shape[0], shape[1]
        _expect(height >= 1 and width >= 1, f"image size {width}×{height} has no pixels")
        _expect(height * width <= max_pixels,
                f"image size {width}×{height} is above the limit of {max_pixels:,} pixels")

        _check_member(zf, infos, "ranks", "<u4", (channels,))
        ranks = tuple(int(x) for x in npz["ranks"])
        for r in ranks:
            _expect(1 <= r <= min(height, width),
                    f"rank {r} is outside 1..{min(height, width)} for a {width}×{height} image")
        total = sum(ranks)

        # Every big member's shape follows from the fields above and is checked before it is read.
        _check_member(zf, infos, "s", "<f4", (total,))
        _check_member(zf, infos, "steps", "<f4", (2, total))
        _check_member(zf, infos, "delta", "u1", (2, total))
        image_bytes = height * width * channels
        _check_member(zf, infos, "u", "u1", (2, total, height), image_bytes)
        _check_member(zf, infos, "v", "u1", (2, total, width), image_bytes)
        s = npz["s"]
        steps = npz["steps"]
        _expect(bool(np.isfinite(s).all()) and bool((s >= 0).all()), "singular values must be finite and not negative")
        # σ₁ ≤ ‖A‖_F ≤ √(H·W) for planes in [0, 1]; a larger one cannot come from an image.
        _expect(float(s.max()) <= math.sqrt(height * width) * 1.01 + 1.0, "singular values are too large for the image")
        _expect(bool(np.isfinite(steps).all()) and bool((steps > 0).all()),
                "quantisation steps must be finite and positive")
        delta = npz["delta"]
        _expect(bool((delta <= 1).all()), "delta flags must be 0 or 1")
        qu = _from_differences(_unzigzag(npz["u"]), delta[0])
        qv = _from_differences(_unzigzag(npz["v"]), delta[1])
    # Columns of U and V are unit vectors: no entry exceeds 1 before rounding to a step, 1 + step/2 after.
    for name, qq, st in (("U", qu, steps[0]), ("V", qv, steps[1])):
        st = st.astype(np.float64)
        _expect(bool((np.abs(qq).max(axis=1) * st <= 1.01 + st / 2).all()),
                f"{name} has entries larger than a unit vector allows")
    q = _Quantised(colour_space=colour_space, shape=shape, ranks=ranks, s=s, steps=steps, qu=qu, qv=qv)
    return q, bit_depth


# Errors the zip, zlib and npy readers raise on damaged input.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, IndexError,
                struct.error, UnicodeDecodeError, NotImplementedError, RuntimeError, OverflowError, SyntaxError)


def decode(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> SvdzImage:
    """Decode .svdz bytes; ContainerError (one line) for anything malformed or unsafe."""
    try:
        q, bit_depth = _parse(bytes(data), max_pixels)
    except ContainerError:
        raise
    except MemoryError:
        raise ContainerError("not enough memory to decode the file") from None
    except _READ_ERRORS as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ContainerError(f"damaged .svdz file ({reason})") from None
    pixels = _reconstruct(q)
    _expect(bool(np.isfinite(pixels).all()), "the factors decode to non-finite pixels")
    # Rounded to the file's bit depth: the image `decode -o` writes, so every PSNR quoted for a
    # .svdz (rank search, report, compress) measures the same pixels.
    pixels = as_saved(pixels, bit_depth)
    singular_values, start = [], 0
    for r in q.ranks:
        singular_values.append(q.s[start:start + r].astype(np.float64))
        start += r
    return SvdzImage(pixels=pixels, bit_depth=bit_depth, ranks=q.ranks, colour_space=q.colour_space,
                     singular_values=tuple(singular_values), file_bytes=len(data))


def read_svdz(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> SvdzImage:
    """Read and decode a .svdz file; ContainerError naming the file for anything wrong."""
    path = Path(path)
    data = read_file(path, ContainerError, "a .svdz file", MAX_FILE_BYTES)
    try:
        return decode(data, max_pixels=max_pixels)
    except ContainerError as exc:
        raise ContainerError(f"{display_path(path)}: {exc}") from None
