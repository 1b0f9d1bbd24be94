"""A worker with no active watchmap does not import mocpy; an active one is loaded as its MOC."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_no_active_watchmap_loads_nothing_and_leaves_mocpy_unimported(tmp_path):
    """Every batch asks for the active watchmaps; with none, mocpy (~0.4 s to import) stays out
    of the worker. With one active and one inactive, exactly the active one comes back, as the
    MOC that was stored."""
    code = textwrap.dedent(f"""
        import sys
        from skysift.accounts import add_user
        from skysift.context.watchmaps import load_active_mocs
        from skysift.store.database import open_store

        engine = open_store("sqlite:///{tmp_path / 'store.db'}")
        with engine.begin() as conn:
            add_user(conn, "alice")
            print(load_active_mocs(conn), "mocpy" in sys.modules)
        from skysift.context.watchmaps import add_watchmap, moc_from_polygon
        box = moc_from_polygon([29, 31, 31, 29], [9, 9, 11, 11])
        with engine.begin() as conn:
            user = conn.exec_driver_sql("select id from users").scalar_one()
            on = add_watchmap(conn, user, "on", box)
            add_watchmap(conn, user, "off", box, active=False)
            loaded = load_active_mocs(conn)
        print([i for i, _ in loaded] == [on.id], loaded[0][1] == box)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "[] False"
    assert out[1] == "True True"
