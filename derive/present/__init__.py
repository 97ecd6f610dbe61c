"""Presentation: the book's notation, pictures, charts, terminal text, reports, Jupyter and the explorer.

Printers of the book's notation (:mod:`~derive.present.notation`), the display policy
(:mod:`~derive.present.policy`), the terminal's text (:mod:`~derive.present.terminal`),
the graph (:mod:`~derive.present.picture`) and its step-through
(:mod:`~derive.present.player`), charts (:mod:`~derive.present.charts`), reports
(:mod:`~derive.present.report`), Jupyter's views (:mod:`~derive.present.notebook`,
:mod:`~derive.present.modelview`) and the live explorer
(:mod:`~derive.present.explore`, :mod:`~derive.present.serve`).
"""
