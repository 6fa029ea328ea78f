"""The tools around the engine: ensembles, comparisons, calibration, validation, patterns and
uncertainty analyses (sensitivity, posterior, scenario discovery).

They read the engine's results and never change its state; nothing in the engine imports from here.
"""
