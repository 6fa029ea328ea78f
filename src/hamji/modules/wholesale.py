"""(being written) wholesale."""

from hamji.module import Module


class Wholesale(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "wholesale"
