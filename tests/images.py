"""Small real pictures for the avatar tests, drawn with Pillow: a city's emblem-like avatar, the
copies a fake account makes of it (recoloured, resized, recompressed), and other pictures."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

CITY_BLUE, WHITE, RED = (20, 60, 160), (250, 250, 250), (200, 30, 40)


def city_avatar(size: int = 400, *, bg: tuple[int, int, int] = CITY_BLUE, fg: tuple[int, int, int] = WHITE,
                mark: tuple[int, int, int] = RED) -> Image.Image:
    """A round white badge with a red mark on blue, like a city's emblem avatar."""
    image = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(image)
    s = size / 400
    draw.ellipse([60 * s, 60 * s, 340 * s, 340 * s], fill=fg)
    draw.polygon([(200 * s, 90 * s), (310 * s, 290 * s), (90 * s, 290 * s)], fill=mark)
    draw.rectangle([150 * s, 300 * s, 250 * s, 330 * s], fill=bg)
    return image


def recoloured(image: Image.Image) -> Image.Image:
    """The same picture with its colour channels swapped (blue becomes red, red blue)."""
    r, g, b = image.convert("RGB").split()
    return Image.merge("RGB", (b, g, r))


def repainted() -> Image.Image:
    """The emblem redrawn in another palette: green badge background, orange mark."""
    return city_avatar(bg=(30, 130, 60), mark=(240, 160, 20))


def resized(image: Image.Image, side: int = 48) -> Image.Image:
    """As X serves it in a timeline (`_normal`: 48×48)."""
    return image.resize((side, side), Image.Resampling.LANCZOS)


def stripes() -> Image.Image:
    """Another picture: green stripes on yellow and a black disc."""
    image = Image.new("RGB", (400, 400), (240, 200, 40))
    draw = ImageDraw.Draw(image)
    for x in range(0, 400, 50):
        draw.rectangle([x, 0, x + 20, 400], fill=(30, 120, 30))
    draw.ellipse([250, 250, 380, 380], fill=(10, 10, 10))
    return image


def portrait() -> Image.Image:
    """Another picture: a person-like silhouette on grey, as a resident's avatar."""
    image = Image.new("RGB", (400, 400), (200, 200, 205))
    draw = ImageDraw.Draw(image)
    draw.ellipse([140, 60, 260, 180], fill=(90, 70, 60))
    draw.rectangle([100, 200, 300, 400], fill=(60, 80, 120))
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()
