"""The readings: the program run on other arithmetics, or printed.

Forward mode, dual numbers and second order (:mod:`~derive.readings.modes`), the
symbolic gradient as the reverse sweep on symbols (:mod:`~derive.readings.symbolic`),
generated straight-line code (:mod:`~derive.readings.codegen`) and predicted costs from
exact counts (:mod:`~derive.readings.costs`).
"""
