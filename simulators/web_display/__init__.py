"""The reference web display: a page that shows offers from MQTT over WebSockets (see README.md)."""
