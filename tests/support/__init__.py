"""Helpers shared by the tests: real Mosquitto brokers, waiting on conditions."""
