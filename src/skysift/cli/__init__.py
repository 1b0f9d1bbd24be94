"""The ``skysift`` command line: one thin module per command group."""
