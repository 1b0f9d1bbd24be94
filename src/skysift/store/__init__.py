"""The store: SQLAlchemy tables, Alembic migrations, the SQL functions of the filter language,
bulk statements and read-back queries.

The store is the lowest layer that knows the database: it imports no other skysift package but
``config`` and ``errors``. Writing a batch of alerts and recomputing their objects' features is
one layer up (:mod:`skysift.features.update`). Import the modules themselves
(``skysift.store.database``, ``skysift.store.schema``...); this package re-exports nothing.
"""
