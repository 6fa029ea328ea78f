"""(being written) retail."""

from hamji.module import Module


class Retail(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "retail"
