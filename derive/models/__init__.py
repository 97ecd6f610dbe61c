"""The models: the families and their registry, user models, networks.

One registry knows every family (:mod:`~derive.models.families`); a model is a SymPy
expression with values (:mod:`~derive.models.model`); user expressions are read by the
project's own grammar (:mod:`~derive.models.parser`, :mod:`~derive.models.user`);
networks are matrix programs (:mod:`~derive.models.network`) whose names are written
and read in :mod:`~derive.models.names`.
"""
