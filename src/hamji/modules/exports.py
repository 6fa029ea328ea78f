"""(being written) exports."""

from hamji.module import Module


class Exports(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "exports"
