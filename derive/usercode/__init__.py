"""The user's code under test: their backprop, their notebooks, their torch modules.

A user's forward and backward values against derive's (:mod:`~derive.usercode.backprop`),
graded notebooks (:mod:`~derive.usercode.grading`, :mod:`~derive.usercode.grading73`,
run contained by :mod:`~derive.usercode.sandbox`, with a rubric and a gradebook) and
``torch.nn`` modules lowered into programs (:mod:`~derive.usercode.torch_modules`).
The testing helpers and the pytest plugin are :mod:`derive.testing` and
:mod:`derive.pytest_plugin`.
"""
