"""hamji: an agent-based model of the Hamgyong-Jilin cross-border economy and human security.

Model output is a scenario, not a forecast.
"""

__version__ = "0.1.0"
