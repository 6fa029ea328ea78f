"""(being written) remittances."""

from hamji.module import Module


class Remittances(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "remittances"
