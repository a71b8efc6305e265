"""The ``media-bridge`` subcommands' bodies, one module each (``consumer.cli`` parses and wires).

* ``run``: load settings, bind the status port, open source and sink, run
  ``consumer.service`` and map every start-up problem to one line and an exit code;
* ``normalize``: bodies from files or stdin → the events they make, offline;
* ``parked``: list the parking queue without taking anything off it;
* ``replay``: feed parked bodies through normalization again, re-parking what still fails.
"""
