"""shelf_firmware_bridge."""
