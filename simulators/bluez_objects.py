"""The org.bluez D-Bus objects of the BlueZ stand-in (dbus-fast service interfaces).

Only what bleak's scanner uses (REFERENCE.md section 2): Adapter1 with discovery methods and the
``Roles``/``Powered`` properties, AdvertisementMonitorManager1 (passive scans), and Device1 with
address, RSSI and advertisement data. The signatures below are D-Bus type strings, which is how
dbus-fast declares interfaces (hence the file-wide lint/type exemptions for annotations).
"""
# ruff: noqa: F821, F722
# mypy: disable-error-code="valid-type,name-defined,misc,no-untyped-def"

from __future__ import annotations

from typing import Any

from dbus_fast import Variant
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method


class Adapter(ServiceInterface):
    """org.bluez.Adapter1 at /org/bluez/hciN. Never assign ``self.name`` (dbus-fast's interface name)."""

    def __init__(self, adapter: str, address: str) -> None:
        super().__init__("org.bluez.Adapter1")
        self.adapter = adapter
        self.address = address
        self.discovering = 0
        self.filters: dict[str, Any] = {}
        self.discovery_starts = 0

    @method()
    def SetDiscoveryFilter(self, properties: "a{sv}"):
        self.filters = {k: v.value for k, v in properties.items()}

    @method()
    def StartDiscovery(self):
        self.discovering += 1
        self.discovery_starts += 1
        if self.discovering == 1:
            self.emit_properties_changed({"Discovering": True})

    @method()
    def StopDiscovery(self):
        if self.discovering > 0:
            self.discovering -= 1
            if self.discovering == 0:
                self.emit_properties_changed({"Discovering": False})

    @method()
    def GetDiscoveryFilters(self) -> "as":
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"]

    @method()
    def RemoveDevice(self, device: o):
        return None

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> s:
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> s:
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> s:
        return f"shelf-sim {self.adapter}"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> s:
        return f"shelf-sim {self.adapter}"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> b:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> b:
        return self.discovering > 0

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return []


class MonitorManager(ServiceInterface):
    """org.bluez.AdvertisementMonitorManager1 (bleak's passive mode registers a monitor here)."""

    def __init__(self) -> None:
        super().__init__("org.bluez.AdvertisementMonitorManager1")
        self.monitors: list[str] = []

    @method()
    def RegisterMonitor(self, application: o):
        self.monitors.append(application)

    @method()
    def UnregisterMonitor(self, application: o):
        if application in self.monitors:
            self.monitors.remove(application)

    @dbus_property(access=PropertyAccess.READ)
    def SupportedMonitorTypes(self) -> "as":
        return ["or_patterns"]

    @dbus_property(access=PropertyAccess.READ)
    def SupportedFeatures(self) -> "as":
        return []


class Device(ServiceInterface):
    """org.bluez.Device1 at /org/bluez/hciN/dev_XX_..: one remote phone as heard by one adapter."""

    def __init__(self, adapter_path: str, address: str) -> None:
        super().__init__("org.bluez.Device1")
        self._adapter_path = adapter_path
        self._address = address
        self.rssi = -127
        self.manufacturer_data: dict[int, bytes] = {}
        self.service_data: dict[str, bytes] = {}
        self.uuids: list[str] = []
        self.last_heard = 0.0

    def advertise(
        self, rssi: int, manufacturer_data: dict[int, bytes], service_data: dict[str, bytes], uuids: list[str]
    ) -> dict[str, Any]:
        """Take one advertisement; return the properties that changed (RSSI always counts)."""
        changed: dict[str, Any] = {"RSSI": rssi}
        self.rssi = rssi
        if manufacturer_data != self.manufacturer_data:
            self.manufacturer_data = dict(manufacturer_data)
            changed["ManufacturerData"] = self._mdata()
        if service_data != self.service_data:
            self.service_data = dict(service_data)
            changed["ServiceData"] = self._sdata()
        if uuids != self.uuids:
            self.uuids = list(uuids)
            changed["UUIDs"] = list(uuids)
        return changed

    def _mdata(self) -> dict[int, Variant]:
        return {k: Variant("ay", v) for k, v in self.manufacturer_data.items()}

    def _sdata(self) -> dict[str, Variant]:
        return {k: Variant("ay", v) for k, v in self.service_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> s:
        return self._address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> s:
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> s:
        return self._address.replace(":", "-")

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> o:
        return self._adapter_path

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> n:
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":
        return self._mdata()

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        return self._sdata()

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return self.uuids

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> b:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> b:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> b:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> b:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> b:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> b:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> b:
        return False
