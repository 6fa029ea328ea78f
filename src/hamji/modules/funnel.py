"""(being written) funnel."""

from hamji.module import Module


class Funnel(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "funnel"
