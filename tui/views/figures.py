"""The measured figures the gallery labels and the curves need, per rank (run in a worker).

The same core functions, on the same pixels, as core.report.rank_row (the numbers of
`svdlens report`): PSNR of the reconstruction as saved, the PNG bytes of it, the bytes of
the real .svdz file and the best JPEG that fits in those bytes. SSIM is left out: nothing
here shows it and it is the slowest of them. Keys are those of the app's Measured values.
"""

from __future__ import annotations

from typing import Iterator


def measure_figures(source, dec, rank: int) -> Iterator[dict]:
    """Figures for one rank, one at a time (cheapest first) so a worker can stop between them."""
    from core import jpeg, svdz
    from core.metrics import psnr
    from core.outputs import encode_image
    from core.report import saved_pixels

    saved = saved_pixels(dec, rank, source.bit_depth)
    yield {"psnr": psnr(saved, source.pixels)}
    yield {"png_bytes": len(encode_image(saved, ".png", source.bit_depth))}
    del saved
    data = svdz.encode(dec, rank, bit_depth=source.bit_depth)
    yield {"svdz_bytes": len(data)}
    result = jpeg.jpeg_at_budget(source.pixels, len(data))
    if result is None:
        yield {"jpeg_note": "no JPEG fits in so few bytes"}
    else:
        yield {"jpeg_bytes": int(result.size_bytes), "jpeg_psnr": float(result.psnr_db)}
