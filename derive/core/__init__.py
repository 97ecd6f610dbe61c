"""The rules and the program: the one intermediate representation.

The rule table (:mod:`~derive.core.rules`: every primitive once, with its numeric and
symbolic arithmetic), the expression graph (:mod:`~derive.core.graph`), the program
lowered from a model (:mod:`~derive.core.program`) and its two loops, forward and
reverse, run on any arithmetic (:mod:`~derive.core.sweep`).  Nothing here names a
step for people or prints.
"""
