"""Sub-commands of the ``infobench`` CLI, one module each (see :mod:`infobench.cli`)."""
