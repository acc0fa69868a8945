"""Renders what a shelf camera sees: product facings in lanes, arms and hands reaching, lighting, noise.

The camera hangs above the aisle and looks at the front of one shelf. The frame (320x240 by default)
shows the shelf's lanes side by side (one lane per plate), each filled with facings of its product,
the price rail below them and the aisle floor at the bottom, where arms come in from. Nothing here
draws a face or a body shape that could identify anyone: arms are sleeves ending in a hand.

Rendering reuses preallocated buffers: the static shelf is redrawn only when facings change, and
noise comes from a small bank of precomputed images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

#: Skin tones (BGR) of hands, from light to dark; arms are drawn as sleeves of any colour.
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (189, 205, 240),
    (160, 185, 226),
    (128, 160, 205),
    (96, 128, 176),
    (70, 96, 140),
    (48, 66, 98),
)


@dataclass(frozen=True, slots=True)
class ProductLook:
    """How one product's facings look: body and label colours (BGR) and a label pattern."""

    product_id: str
    body: tuple[int, int, int]
    label: tuple[int, int, int]
    pattern: int

    @staticmethod
    def of(product_id: str) -> ProductLook:
        """A deterministic look derived from the product code (same code, same look, everywhere)."""
        d = hashlib.sha256(product_id.encode()).digest()
        hue = d[0] * 180 // 256
        body_hsv = np.array([[[hue, 150 + d[1] % 106, 110 + d[2] % 146]]], dtype=np.uint8)
        label_hsv = np.array(
            [[[(hue + 45 + d[3] % 90) % 180, 60 + d[4] % 150, 150 + d[5] % 106]]], dtype=np.uint8
        )
        body = tuple(int(v) for v in cv2.cvtColor(body_hsv, cv2.COLOR_HSV2BGR)[0, 0])
        label = tuple(int(v) for v in cv2.cvtColor(label_hsv, cv2.COLOR_HSV2BGR)[0, 0])
        return ProductLook(product_id, body, label, d[6] % 4)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ShelfGeometry:
    """Where things are in the frame (pixels)."""

    width: int = 320
    height: int = 240
    lanes: int = 6
    margin_x: int = 10
    shelf_top: int = 28
    shelf_bottom: int = 150
    rail_bottom: int = 162

    @property
    def lane_width(self) -> float:
        return (self.width - 2 * self.margin_x) / self.lanes

    def lane_x(self, lane: int) -> tuple[int, int]:
        """Left and right x of lane ``lane`` (0-based)."""
        x0 = self.margin_x + lane * self.lane_width
        return round(x0), round(x0 + self.lane_width)

    def lane_polygon(self, lane: int) -> list[tuple[int, int]]:
        """The lane's region as a polygon: its facings and the rail in front of them."""
        x0, x1 = self.lane_x(lane)
        return [
            (x0, self.shelf_top),
            (x1, self.shelf_top),
            (x1, self.rail_bottom + 12),
            (x0, self.rail_bottom + 12),
        ]


@dataclass(slots=True)
class Arm:
    """One arm in the frame at one instant: the hand at (x, y), entering from (base_x, bottom)."""

    x: float
    y: float
    base_x: float
    skin: int
    sleeve: tuple[int, int, int]
    holding: str | None = None
    width: int = 14


@dataclass(slots=True)
class Occluder:
    """Something between camera and shelf that is not a hand: a shopper's back, a trolley."""

    x: float
    y: float
    rx: float
    ry: float
    colour: tuple[int, int, int]


@dataclass(slots=True)
class ShelfRenderer:
    """Draws frames of one shelf into a preallocated BGR buffer."""

    products: list[str]
    geometry: ShelfGeometry = field(default_factory=ShelfGeometry)
    facings: list[int] = field(default_factory=list)
    noise_sigma: float = 3.0
    seed: int = 0
    _looks: dict[str, ProductLook] = field(default_factory=dict)
    _static: np.ndarray = field(init=False)
    _frame: np.ndarray = field(init=False)
    _noise: list[np.ndarray] = field(default_factory=list)
    _static_key: tuple[int, ...] = ()
    _rng: np.random.Generator = field(init=False)
    _tick: int = 0

    def __post_init__(self) -> None:
        g = self.geometry
        if len(self.products) != g.lanes:
            raise ValueError(f"{len(self.products)} products for {g.lanes} lanes")
        if not self.facings:
            self.facings = [6] * g.lanes
        self._rng = np.random.default_rng(self.seed)
        self._static = np.zeros((g.height, g.width, 3), np.uint8)
        self._frame = np.zeros_like(self._static)
        for p in self.products:
            self._looks[p] = ProductLook.of(p)
        self._noise = [
            np.clip(self._rng.normal(0.0, 1.0, (g.height, g.width, 3)) * 40, -127, 127).astype(np.int8)
            for _ in range(6)
        ]

    def look(self, product_id: str) -> ProductLook:
        if product_id not in self._looks:
            self._looks[product_id] = ProductLook.of(product_id)
        return self._looks[product_id]

    # --- static shelf -------------------------------------------------------------------------
    def _draw_static(self) -> None:
        g = self.geometry
        img = self._static
        img[:] = (70, 78, 84)  # back wall
        img[g.shelf_top - 6 : g.shelf_bottom] = (150, 150, 146)  # shelf board seen from above
        img[g.shelf_bottom : g.rail_bottom] = (60, 60, 200)  # red price rail
        img[g.rail_bottom :] = (120, 128, 132)  # aisle floor
        for y in range(g.rail_bottom + 20, g.height, 26):  # floor tiles
            img[y : y + 1, :] = (104, 110, 114)
        for lane, product in enumerate(self.products):
            x0, _x1 = g.lane_x(lane)
            cv2.line(img, (x0, g.shelf_top - 6), (x0, g.shelf_bottom), (110, 110, 108), 1)
            cv2.rectangle(
                img, (x0 + 4, g.shelf_bottom + 2), (x0 + 22, g.rail_bottom - 3), (235, 235, 235), -1
            )
            self._draw_facings(img, lane, self.look(product), self.facings[lane])
        self._static_key = tuple(self.facings)

    def _draw_facings(self, img: np.ndarray, lane: int, look: ProductLook, count: int) -> None:
        """Facings fill the lane from the back (top of frame) to the front, two per row."""
        g = self.geometry
        x0, x1 = g.lane_x(lane)
        cols, rows = 2, 3
        cell_w = (x1 - x0 - 6) / cols
        cell_h = (g.shelf_bottom - g.shelf_top - 4) / rows
        hidden = cols * rows - count  # the front-most facings go first
        for k in range(cols * rows):
            if k >= cols * rows - hidden:
                break
            r, c = divmod(k, cols)
            ix = int(x0 + 3 + c * cell_w)
            iy = int(g.shelf_top + r * cell_h)
            self.draw_item(img, look, ix + 1, iy + 1, int(cell_w) - 2, int(cell_h) - 3)

    @staticmethod
    def draw_item(img: np.ndarray, look: ProductLook, x: int, y: int, w: int, h: int) -> None:
        """One product unit as a box with a label band and its pattern."""
        cv2.rectangle(img, (x, y), (x + w, y + h), look.body, -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), (30, 30, 30), 1)
        ly0, ly1 = y + h // 3, y + (2 * h) // 3
        cv2.rectangle(img, (x + 1, ly0), (x + w - 1, ly1), look.label, -1)
        cx, cy = x + w // 2, (ly0 + ly1) // 2
        r = max(2, min(w, ly1 - ly0) // 3)
        if look.pattern == 0:
            cv2.circle(img, (cx, cy), r, look.body, -1)
        elif look.pattern == 1:
            cv2.line(img, (x + 2, ly0 + 1), (x + w - 2, ly1 - 1), look.body, 2)
        elif look.pattern == 2:
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), (25, 25, 25), -1)
        else:
            pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
            cv2.fillConvexPoly(img, pts, (250, 250, 250))

    # --- dynamic frame ------------------------------------------------------------------------
    def render(
        self,
        arms: list[Arm],
        occluders: list[Occluder] | None = None,
        gain: float = 1.0,
        gradient: float = 0.0,
        noise: bool = True,
    ) -> np.ndarray:
        """Draw one frame; the returned array is reused by the next call (copy it to keep it)."""
        if tuple(self.facings) != self._static_key:
            self._draw_static()
        frame = self._frame
        np.copyto(frame, self._static)
        for occ in occluders or ():
            cv2.ellipse(
                frame, (int(occ.x), int(occ.y)), (int(occ.rx), int(occ.ry)), 0, 0, 360, occ.colour, -1
            )
        for arm in arms:
            self._draw_arm(frame, arm)
        if gain != 1.0 or gradient != 0.0:
            if gradient == 0.0:
                cv2.convertScaleAbs(frame, frame, alpha=gain)
            else:
                ramp = np.linspace(
                    gain * (1 - gradient), gain * (1 + gradient), self.geometry.width, dtype=np.float32
                )
                np.clip(frame * ramp[None, :, None], 0, 255, out=frame, casting="unsafe")
        if noise and self.noise_sigma > 0:
            self._tick += 1
            bank = self._noise[self._tick % len(self._noise)]
            shift = int(self._rng.integers(0, 32))
            n = np.roll(bank, shift, axis=1)
            scaled = (n.astype(np.int16) * round(self.noise_sigma * 4)) // 160
            np.clip(frame.astype(np.int16) + scaled, 0, 255, out=frame, casting="unsafe")
        return frame

    def _draw_arm(self, frame: np.ndarray, arm: Arm) -> None:
        g = self.geometry
        hand = (int(arm.x), int(arm.y))
        base = (int(arm.base_x), g.height + 30)
        cv2.line(frame, base, (hand[0], hand[1] + 12), arm.sleeve, arm.width + 6)
        cv2.line(frame, (hand[0], hand[1] + 26), (hand[0], hand[1] + 10), SKIN_TONES[arm.skin], arm.width - 2)
        if arm.holding is not None:
            look = self.look(arm.holding)
            self.draw_item(frame, look, hand[0] - 10, hand[1] - 22, 20, 30)
        cv2.ellipse(frame, (hand[0], hand[1] + 4), (9, 11), 0, 0, 360, SKIN_TONES[arm.skin], -1)
        for dx in (-6, -2, 2, 6):  # fingers
            cv2.line(frame, (hand[0] + dx, hand[1]), (hand[0] + dx, hand[1] - 8), SKIN_TONES[arm.skin], 3)
