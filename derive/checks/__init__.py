"""The checks and measures: every way of computing a gradient, side by side.

The check (:mod:`~derive.checks.check`, the ways named in
:mod:`~derive.checks.methods`), expression sizes and their growth laws
(:mod:`~derive.checks.growth`), benchmarks (:mod:`~derive.checks.bench`), the frameworks
people use (:mod:`~derive.checks.frameworks`) and notebook 7.3's growth of values
(:mod:`~derive.checks.initialization`).
"""
