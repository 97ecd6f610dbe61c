"""The ground floor: what every layer may use and that knows nothing of derivatives.

Errors a user caused (:mod:`~derive.base.errors`), every cap and limit
(:mod:`~derive.base.limits`), the one agreement rule and central difference
(:mod:`~derive.base.agreement`), reading the user's files within bounds
(:mod:`~derive.base.files`), writing files so that nothing is lost
(:mod:`~derive.base.writing`), the standard streams (:mod:`~derive.base.streams`) and
the small table results are indexed by (:mod:`~derive.base.table`).
"""
