"""PostgreSQL functions for filters: the guarded maths functions, each argument written once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Filters compiled for PostgreSQL call ``skysift_flux2mag(x)``, ``skysift_exp(x)``... instead of
inline CASE templates that repeated their argument (a nested call grew as 3^depth). SQLite gets
the same functions as Python functions on each connection (skysift.store.functions).

Frozen: this file must keep creating what it creates today, whatever later versions of
``skysift.store.functions`` say; a change is a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = [
    ('CREATE OR REPLACE FUNCTION skysift_flux2mag(a double precision) RETURNS double p'
     'recision AS $$ SELECT CASE WHEN a > 0 THEN -2.5 * log(a) + 31.4 END $$ LANGUAGE '
     'sql IMMUTABLE PARALLEL SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_log10(a double precision) RETURNS double prec'
     'ision AS $$ SELECT CASE WHEN a > 0 THEN log(a) END $$ LANGUAGE sql IMMUTABLE PAR'
     'ALLEL SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_ln(a double precision) RETURNS double precisi'
     'on AS $$ SELECT CASE WHEN a > 0 THEN ln(a) END $$ LANGUAGE sql IMMUTABLE PARALLE'
     'L SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_log(b double precision, x double precision) R'
     'ETURNS double precision AS $$ SELECT CASE WHEN b > 0 AND b <> 1 AND x > 0 THEN l'
     'n(x) / ln(b) END $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_sqrt(a double precision) RETURNS double preci'
     'sion AS $$ SELECT CASE WHEN a >= 0 THEN sqrt(a) END $$ LANGUAGE sql IMMUTABLE PA'
     'RALLEL SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_exp(a double precision) RETURNS double precis'
     'ion AS $$ SELECT CASE WHEN a > 709.78 THEN NULL WHEN a < -708.0 THEN 0.0 ELSE ex'
     'p(a) END $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_power(a double precision, b double precision)'
     ' RETURNS double precision AS $$ SELECT CASE WHEN (a = 0 AND b < 0) OR (a < 0 AND'
     ' b <> floor(b)) THEN NULL ELSE power(a, b) END $$ LANGUAGE sql IMMUTABLE PARALLE'
     'L SAFE'),
    ('CREATE OR REPLACE FUNCTION skysift_greatest(VARIADIC xs anycompatiblearray) RETU'
     'RNS anycompatible AS $$ SELECT CASE WHEN array_position(xs, NULL) IS NULL THEN ('
     'SELECT max(x) FROM unnest(xs) AS u(x)) END $$ LANGUAGE sql IMMUTABLE PARALLEL SA'
     'FE'),
    ('CREATE OR REPLACE FUNCTION skysift_least(VARIADIC xs anycompatiblearray) RETURNS'
     ' anycompatible AS $$ SELECT CASE WHEN array_position(xs, NULL) IS NULL THEN (SEL'
     'ECT min(x) FROM unnest(xs) AS u(x)) END $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE'),
]
NAMES = ["skysift_flux2mag(double precision)", "skysift_log10(double precision)",
         "skysift_ln(double precision)", "skysift_log(double precision, double precision)",
         "skysift_sqrt(double precision)", "skysift_exp(double precision)",
         "skysift_power(double precision, double precision)",
         "skysift_greatest(anycompatiblearray)", "skysift_least(anycompatiblearray)"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in CREATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in NAMES:
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
