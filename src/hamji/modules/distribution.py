"""(being written) distribution."""

from hamji.module import Module


class Distribution(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "distribution"
