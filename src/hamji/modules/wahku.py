"""(being written) wahku."""

from hamji.module import Module


class Wahku(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "wahku"
