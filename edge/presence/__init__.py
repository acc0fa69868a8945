"""Shopper presence over BLE for opted-in loyalty customers only (see README.md and TOKENS.md).

Pure cores: ``tokens`` (the rolling-token scheme), ``aesbatch``, ``resolver`` (O(1) token -> shopper),
``core`` (zones, arrival/dwell/departure). Adapters: ``sources`` (bleak, MQTT receivers), ``keys``
(keys file), ``checkin`` (iOS check-in bodies), ``privacy`` (revocation in the database).
``service.PresenceService`` wires them for the daemon.
"""
