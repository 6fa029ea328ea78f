"""``python -m hamji``: the same command line as the ``hamji`` console script."""

from hamji.cli import main

main()
