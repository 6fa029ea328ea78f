"""(being written) revenue bases."""

from hamji.module import Module


class RevenueBases(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "revenue_bases"
