"""Sample datasets made at run time: small PNGs (pure Python), for both task types."""

import struct
import zlib

FLOWER_COLOURS = {"rose": (200, 30, 60), "tulip": (240, 200, 40)}
FRUIT_COLOURS = {"apple": (60, 170, 60), "blueberry": (50, 60, 200)}
BACKGROUND = (235, 235, 235)
# Every sample class's colour: the emulated endpoint "recognises" classes by colour.
SAMPLE_COLOURS = {**FLOWER_COLOURS, **FRUIT_COLOURS}

Colour = tuple[int, int, int]
Rect = tuple[int, int, int, int]  # left, top, width, height


def png(
    width: int,
    height: int,
    rgb: Colour,
    seed: int = 0,
    box: Rect | None = None,
    background: Colour = BACKGROUND,
) -> bytes:
    """A valid RGB PNG: one colour with seed-shaded rows, or a box of it on a background."""
    rows = []
    for y in range(height):
        shade = (y * 7 + seed * 13) % 40
        pixel = bytes(max(0, c - shade) for c in rgb)
        if box is None:
            rows.append(b"\x00" + pixel * width)
            continue
        left, top, box_width, box_height = box
        row = bytearray(bytes(background) * width)
        if top <= y < top + box_height:
            row[3 * left : 3 * (left + box_width)] = pixel * box_width
        rows.append(b"\x00" + bytes(row))

    return _encode_png(width, height, b"".join(rows))


def _encode_png(width: int, height: int, raw_rows: bytes, level: int = -1) -> bytes:
    """An 8-bit RGB PNG from filter-prefixed rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw_rows, level=level))
        + chunk(b"IEND", b"")
    )


def flower_images(per_class: int = 4) -> dict[str, bytes]:
    """<label>/<n>.png -> bytes, for the image-classification sample."""
    return {
        f"{label}/{i}.png": png(32, 32, colour, seed=i)
        for label, colour in FLOWER_COLOURS.items()
        for i in range(per_class)
    }


def fruit_images(per_class: int = 3) -> dict[str, tuple[bytes, Rect]]:
    """<label>-<n>.png -> (bytes, the fruit's box), one fruit per image, for object detection."""
    images = {}
    for index, (label, colour) in enumerate(sorted(FRUIT_COLOURS.items())):
        for i in range(per_class):
            box = (4 + 2 * i, 6 + index * 3, 20, 18)
            images[f"{label}-{i}.png"] = (png(40, 40, colour, seed=i, box=box), box)
    return images


def all_bytes_png(width: int = 32, height: int = 32) -> bytes:
    """A valid RGB PNG stored uncompressed whose pixels run through every byte value, so the
    file holds 0x00, CR, LF, 0xFF and the rest: what a text-mangled body would break first."""
    rows = b"".join(
        b"\x00" + bytes((y * width * 3 + i) * 7 % 256 for i in range(width * 3)) for y in range(height)
    )

    return _encode_png(width, height, rows, level=0)


if __name__ == "__main__":
    # local/sample_data.png, the image the predict tests and sample events send.
    from pathlib import Path

    Path(__file__).with_suffix(".png").write_bytes(all_bytes_png())
