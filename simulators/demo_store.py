"""Prepares the files of the demo store: planogram, catalogue, offer model, enrolled keys, config.

Everything is derived from the real Online Retail data in ../shared/data and cached in the work
directory, so a second ``shelf-sim demo`` starts in seconds.
"""

from __future__ import annotations

import csv
import logging
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.config_camera import CameraSection, LaneSection
from edge.events import ShelfId
from edge.ops.tomlwrite import dumps
from simulators.camera.mjpeg import MjpegCamera
from simulators.camera.scenario import CameraScenario
from simulators.store_layout import (
    PlacedProduct,
    find_online_retail,
    layout,
    slice_online_retail,
    top_products,
    write_planogram,
)

log = logging.getLogger("simulators.demo")

GONDOLAS = 2
SHELVES = 2
PLATES = 6
#: The demo works on the first invoices of Online Retail (Dec 2010 - Jan 2011): its products,
#: catalogue and offer model all come from this slice, which keeps the first start under a minute.
SLICE_INVOICES = 4000


@dataclass(frozen=True, slots=True)
class DemoFiles:
    workdir: Path
    planogram: Path
    catalogue: Path
    model_dir: Path
    keys: Path
    config: Path
    products: tuple[PlacedProduct, ...]

    def shelves(self) -> list[ShelfId]:
        return sorted({ShelfId(p.gondola, p.shelf) for p in self.products})

    def on_shelf(self, shelf: ShelfId) -> list[PlacedProduct]:
        return [p for p in self.products if p.gondola == shelf.gondola and p.shelf == shelf.shelf]


def read_planogram(path: Path) -> tuple[PlacedProduct, ...]:
    with path.open(newline="") as fh:
        return tuple(
            PlacedProduct(
                r["product_id"],
                r["name"],
                int(r["gondola"]),
                int(r["shelf"]),
                int(r["plate"]),
                float(r["unit_weight_g"]),
                float(r["price"]),
            )
            for r in csv.DictReader(fh)
        )


def prepare(workdir: Path, say: object = print) -> tuple[Path, Path, Path, tuple[PlacedProduct, ...]]:
    """Planogram, catalogue and offer model in ``workdir`` (built once, then reused)."""
    from models.offers import build
    from models.offers.catalogue import catalogue_from_online_retail
    from models.offers.transactions import convert_online_retail

    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "online_retail_slice.csv.gz"
    if not source.exists():
        slice_online_retail(find_online_retail(), source, SLICE_INVOICES)
    planogram = workdir / "planogram.csv"
    if not planogram.exists():
        say(
            f"store layout: the {GONDOLAS * SHELVES * PLATES} most-bought Online Retail products on "  # type: ignore[operator]
            f"{GONDOLAS} gondolas x {SHELVES} shelves x {PLATES} plates"
        )
        write_planogram(layout(top_products(source, 80), GONDOLAS, SHELVES, PLATES), planogram)
    products = read_planogram(planogram)
    catalogue = workdir / "catalogue.csv"
    if not catalogue.exists():
        with planogram.open(newline="") as fh:
            places = list(csv.DictReader(fh))
        catalogue_from_online_retail(source, places, units=12).write(catalogue)
    model_dir = workdir / "models" / "offers"
    if (model_dir / "manifest.json").exists():
        from edge.offers.model import ModelLoadError, OfferModel

        try:
            OfferModel.load(model_dir)
        except ModelLoadError as exc:
            say(f"offer model: cached model refused ({exc.reason}); rebuilding")  # type: ignore[operator]
            shutil.rmtree(model_dir)
    if not (model_dir / "manifest.json").exists():
        transactions = workdir / "transactions.csv"
        if not transactions.exists():
            convert_online_retail(source, transactions)
        say(f"offer model: building from the first {SLICE_INVOICES:,} invoices (cached for the next run)")  # type: ignore[operator]
        build(transactions, model_dir, tune=False)
    return planogram, catalogue, model_dir, products


#: The technician dashboard's password in the demo (printed with its URL).
DASHBOARD_PASSWORD = "shelf-demo-2026"

#: The demo shelf watched by a camera (the other shelves rely on weight alone).
CAMERA_SHELF = ShelfId(1, 1)


def start_camera(files: DemoFiles, shelf: ShelfId, seed: int) -> MjpegCamera:
    """A simulated camera over ``shelf``: its 6 lanes show the products of plates 1..6, served as MJPEG."""
    placed = sorted(files.on_shelf(shelf), key=lambda p: p.plate)
    scenario = CameraScenario(
        name="demo",
        seed=seed,
        products=tuple(p.product_id for p in placed),
        weights_g=tuple(p.unit_weight_g for p in placed),
        reaches=(),
        passes=(),
        visits=(),
        duration_s=24 * 3600.0,
        plates=tuple(p.plate for p in placed),
    )
    return MjpegCamera(scenario, loop=False).start()


def camera_section(camera: MjpegCamera, shelf: ShelfId) -> CameraSection:
    g = camera.scenario.geometry
    lanes = [
        LaneSection(gondola=shelf.gondola, shelf=shelf.shelf, plate=plate, polygon=g.lane_polygon(lane))
        for lane, plate in enumerate(camera.scenario.plates)
    ]
    return CameraSection(
        camera_id=f"cam-g{shelf.gondola}s{shelf.shelf}",
        source=camera.url,
        width=g.width,
        height=g.height,
        fps=camera.scenario.fps,
        lanes=lanes,
    )


def write_config(
    path: Path,
    *,
    store: str,
    data_dir: Path,
    mqtt_port: int,
    shelf_ports: dict[ShelfId, str],
    planogram: Path,
    catalogue: Path,
    model_dir: Path,
    keys: Path | None,
    zones: dict[str, str],
    presence_source: str = "mqtt-receivers",
    backend_url: str | None = None,
    cameras: Sequence[CameraSection] = (),
    dashboard_port: int = 0,
    dashboard_password: str = DASHBOARD_PASSWORD,
    pull_interval_s: float | None = None,
) -> Path:
    """The gateway TOML for the demo (the same file format a store uses)."""
    lines = [
        "# Generated by shelf-sim demo",
        "[gateway]",
        f'store_id = "{store}"',
        'gateway_id = "gw-demo"',
        f'data_dir = "{data_dir}"',
        "",
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {mqtt_port}",
        "reconnect_min_s = 0.5",
        "reconnect_max_s = 2.0",
        "",
        "[logging]",
        'level = "INFO"',
        'format = "console"',
        "",
        "[bridge]",
        'bridge_id = "bridge-demo"',
    ]
    for shelf, port in sorted(shelf_ports.items()):
        lines += [
            "",
            "[[bridge.shelves]]",
            f'port = "{port}"',
            f"gondola = {shelf.gondola}",
            f"shelf = {shelf.shelf}",
        ]
    lines += [
        "",
        "[sensing]",
        f'planogram = "{planogram}"',
        "",
        "[presence]",
        f'source = "{presence_source}"',
        'adapter = "hci0"',
    ]
    if keys is not None:
        lines.append(f'keys_file = "{keys}"')
    lines += ["", "[presence.receivers]"]
    lines += [f'"{receiver}" = "{zone}"' for receiver, zone in sorted(zones.items())]
    for shelf in sorted(shelf_ports):
        lines += [
            "",
            "[[displays]]",
            f'display_id = "d-g{shelf.gondola}s{shelf.shelf}"',
            f"gondola = {shelf.gondola}",
            f"shelf = {shelf.shelf}",
        ]
    rules = Path(__file__).resolve().parents[1] / "edge" / "offers" / "example_rules.json"
    lines += [
        "",
        "[offers]",
        f'model_dir = "{model_dir}"',
        f'catalogue = "{catalogue}"',
        f'rules = "{rules}"',
        "offer_ttl_s = 20",
    ]
    lines += [
        "",
        "[web]",
        'host = "127.0.0.1"',
        f"port = {dashboard_port}",
        f'password = "{dashboard_password}"',
    ]
    if cameras:
        text_cameras = dumps({"cameras": [c.model_dump(mode="json", exclude_none=True) for c in cameras]})
        lines += ["", text_cameras]
    if backend_url:
        lines += ["", "[backend]", f'url = "{backend_url}"']
        if pull_interval_s is not None:
            lines.append(f"pull_interval_s = {pull_interval_s}")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # fail here, not in a child process, if the generator is wrong
    path.write_text(text)
    return path
