"""(being written) enforcement."""

from hamji.module import Module


class Enforcement(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "enforcement"
