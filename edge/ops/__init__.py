"""Technician and operations tools: install, provision, doctor, calibrate, health reports."""
