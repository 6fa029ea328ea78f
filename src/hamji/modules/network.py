"""(being written) network."""

from hamji.module import Module


class Network(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "network"
