"""Simulated shelves: the physical model of load-cell plates and the controller firmware on a pty."""

from simulators.shelves.firmware import SimulatedShelfFirmware
from simulators.shelves.physics import Interaction, ShelfPhysics

__all__ = ["Interaction", "ShelfPhysics", "SimulatedShelfFirmware"]
