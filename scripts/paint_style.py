"""Paint the demo's default style image: swirling impasto strokes, made here, owned by nobody else.

    python scripts/paint_style.py [--output minimal_nst/app/data/default_style.png] [--seed 1889]

Thousands of short brush strokes follow a flow field made of a few vortices, coloured from a
night-sky palette, over a few glowing discs: a texture with strong, multi-scale style statistics.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
PALETTE = {  # (colour, share of the strokes) per region of the canvas
    "sky": [
        ((22, 45, 110), 4),
        ((40, 80, 160), 4),
        ((70, 120, 190), 3),
        ((150, 190, 220), 1),
        ((230, 215, 120), 1),
        ((20, 30, 70), 2),
    ],
    "glow": [((250, 220, 90), 4), ((255, 245, 170), 2), ((230, 160, 50), 2), ((120, 170, 210), 1)],
    "ground": [
        ((20, 40, 40), 3),
        ((40, 70, 60), 3),
        ((80, 90, 50), 2),
        ((10, 20, 30), 2),
        ((150, 110, 50), 1),
    ],
}


def flow_angle(x, y, vortices, rng_field):
    """Direction of the brush at (x, y): the sum of the vortices' swirls plus a gentle wave."""
    vx, vy = 1.0, 0.15 * np.sin(y / 40.0)
    for cx, cy, strength, radius in vortices:
        dx, dy = x - cx, y - cy
        falloff = strength * np.exp(-(dx * dx + dy * dy) / (2 * radius * radius))
        vx, vy = vx - dy / radius * falloff * 3, vy + dx / radius * falloff * 3
    return np.arctan2(vy, vx) + rng_field


def pick(rng, choices):
    colours, shares = zip(*choices)
    c = np.array(colours[rng.choice(len(colours), p=np.array(shares) / sum(shares))], float)
    return tuple(int(v) for v in np.clip(c + rng.normal(0, 12, 3), 0, 255))


def paint(seed=1889, size=SIZE):
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), (25, 45, 100))
    draw = ImageDraw.Draw(img)
    s = size / 512
    vortices = [
        (180 * s, 150 * s, 1.0, 70 * s),
        (330 * s, 210 * s, -0.8, 60 * s),
        (430 * s, 90 * s, 0.7, 45 * s),
    ]
    stars = [(430 * s, 90 * s, 34 * s), (90 * s, 70 * s, 22 * s), (280 * s, 60 * s, 16 * s)]
    horizon = 370 * s

    for cx, cy, r in stars:  # glowing discs under the strokes
        for k in range(8, 0, -1):
            c = (int(240 - 10 * k), int(200 - 8 * k), int(90 + 12 * k))
            rr = r * (1 + k * 0.25)
            draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=c)

    for _ in range(int(9000 * s * s)):
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        near_star = any((x - cx) ** 2 + (y - cy) ** 2 < (1.6 * r) ** 2 for cx, cy, r in stars)
        region = "ground" if y > horizon + rng.normal(0, 12 * s) else "glow" if near_star else "sky"
        colour, width = pick(rng, PALETTE[region]), int(rng.integers(3, 8) * s) or 1
        points, jitter = [(x, y)], rng.normal(0, 0.25)
        if near_star:  # strokes circle around the stars
            cx, cy, _ = min(stars, key=lambda st: (x - st[0]) ** 2 + (y - st[1]) ** 2)
        for _ in range(int(rng.integers(4, 10))):
            if region == "ground":
                a = -0.6 + 0.3 * np.sin(x / 30) + jitter
            elif near_star:
                a = np.arctan2(y - cy, x - cx) + np.pi / 2 + jitter * 0.3
            else:
                a = flow_angle(x, y, vortices, jitter)
            x, y = x + 4 * s * np.cos(a), y + 4 * s * np.sin(a)
            points.append((x, y))
        draw.line(points, fill=colour, width=width, joint="curve")
        highlight = tuple(min(255, v + 40) for v in colour)
        draw.line([(px - 1, py - 1) for px, py in points], fill=highlight, width=max(1, width // 3))
    return img.filter(ImageFilter.SMOOTH)


def main():
    default = (
        Path(__file__).resolve().parents[1] / "minimal_nst" / "app" / "data" / "default_style.png"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=default)
    parser.add_argument("--seed", type=int, default=1889)
    parser.add_argument("--size", type=int, default=SIZE)
    args = parser.parse_args()
    paint(args.seed, args.size).save(args.output, optimize=True)
    print(args.output)


if __name__ == "__main__":
    main()
