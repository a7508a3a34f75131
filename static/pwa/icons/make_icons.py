"""Draws the app's icons (run once: `python static/pwa/icons/make_icons.py`).

A white check mark in a location pin on the theme's blue; the maskable icon keeps the
drawing inside the central safe zone (80 % circle) so that any mask shape shows it whole.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (11, 79, 138, 255)
WHITE = (255, 255, 255, 255)
HERE = Path(__file__).resolve().parent


def draw(size: int, scale: float, rounded: bool) -> Image.Image:
    big = size * 4  # drawn large, then reduced: smooth edges without anti-aliasing support
    image = Image.new("RGBA", (big, big), BLUE if not rounded else (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if rounded:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BLUE)
    c = big / 2
    r = big * 0.30 * scale
    top = c - r * 1.25
    pen.ellipse((c - r, top, c + r, top + 2 * r), fill=WHITE)
    pen.polygon([(c - r * 0.82, top + r * 1.55), (c + r * 0.82, top + r * 1.55), (c, top + r * 2.75)], fill=WHITE)
    w = max(4, int(r * 0.22))
    pen.line([(c - r * 0.45, top + r * 1.0), (c - r * 0.1, top + r * 1.35), (c + r * 0.5, top + r * 0.62)],
             fill=BLUE, width=w, joint="curve")
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    draw(192, 1.0, True).save(HERE / "icon-192.png", optimize=True)
    draw(512, 1.0, True).save(HERE / "icon-512.png", optimize=True)
    draw(512, 0.75, False).save(HERE / "icon-maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
