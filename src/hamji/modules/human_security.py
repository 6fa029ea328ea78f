"""(being written) human security."""

from hamji.module import Module


class HumanSecurity(Module):
    """Not yet implemented: steps do nothing until this module is written."""

    name = "human_security"
