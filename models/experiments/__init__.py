"""Measurement of offers: uplift against holdout, sequential tests, off-policy policy values.

Pure analysis code (``statistics``, ``frequentist``, ``srm``, ``ope``, ``aggregate``, ``report``,
``replay``) works on arrays and sufficient statistics; only ``events_io`` and the ``*_cli`` modules
read or write files. See README.md in this folder.
"""
