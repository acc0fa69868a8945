"""smartshelf-edge: the gateway daemon of a smart-shelf store (package ``edge``, command ``shelf-edge``)."""

__version__ = "0.1.0"
