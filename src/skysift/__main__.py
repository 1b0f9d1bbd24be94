"""``python -m skysift``: the same as the ``skysift`` command."""

from skysift.cli.main import main

main()
