"""The context tables as filters see them: names, columns, types, units.

Filters may join these to ``objects`` (``FROM objects, gw_hits ...``; the join on diaObjectId
is implied when left out, and ``gw_events`` joins ``gw_hits`` on superevent_id the same way).
``crossmatch_tns`` (the TNS catalogue the operator loads) joins ``objects`` on tns_name.
``watchlist_hits`` and ``area_hits`` are *scoped*: a filter reads only the rows of the lists and
maps its owner may see (their own and public ones). The GW tables are public.
"""

from __future__ import annotations

__all__ = ["CONTEXT_TABLES", "JOIN_KEYS", "SCOPED", "UNITS", "markdown_tables", "write_docs"]

#: {table: {column: type}} in the order ``SELECT t.*`` expands to.
CONTEXT_TABLES: dict[str, dict[str, str]] = {
    "watchlist_hits": {"wl_id": "int", "cone_id": "int", "diaObjectId": "int", "name": "text",
                       "arcsec": "float"},
    "area_hits": {"ar_id": "int", "diaObjectId": "int"},
    "gw_hits": {"superevent_id": "text", "diaObjectId": "int", "contour": "float",
                "probdens2": "float", "t_gw": "float"},
    "gw_events": {"superevent_id": "text", "alert_type": "text", "t_event": "float",
                  "far": "float", "significant": "bool", "gw_group": "text", "p_BNS": "float",
                  "p_NSBH": "float", "p_BBH": "float", "p_Terrestrial": "float",
                  "HasNS": "float", "HasRemnant": "float", "HasMassGap": "float",
                  "area50": "float", "area90": "float", "dist_mean": "float",
                  "dist_std": "float", "retracted": "bool", "map_version": "int"},
    "crossmatch_tns": {"tns_name": "text", "tns_prefix": "text", "ra": "float", "decl": "float",
                       "z": "float", "type": "text", "disc_date": "text",
                       "internal_names": "text"},
}
#: Scoped tables: the column whose value must be one of the ids the filter's owner may read.
SCOPED: dict[str, str] = {"watchlist_hits": "wl_id", "area_hits": "ar_id"}
#: Tables without diaObjectId joined implicitly to another table of FROM: {table: (column, other)}.
JOIN_KEYS: dict[str, tuple[str, str]] = {"gw_events": ("superevent_id", "gw_hits"),
                                         "crossmatch_tns": ("tns_name", "objects")}
#: Units and meaning of each column, for docs/filters.md and the web's schema page.
UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "watchlist_hits": {
        "wl_id": ("", "The watchlist's id."),
        "cone_id": ("", "The cone's id (unique across watchlists)."),
        "diaObjectId": ("", "The object."),
        "name": ("", "The cone's name, as uploaded."),
        "arcsec": ("arcsec", ("Angular separation between the object's (ra, decl) and the cone's "
                             "centre.")),
    },
    "area_hits": {
        "ar_id": ("", "The watchmap's id."),
        "diaObjectId": ("", "The object, whose (ra, decl) lies inside the watchmap."),
    },
    "gw_hits": {
        "superevent_id": ("", "The LVK superevent (e.g. S230518h)."),
        "diaObjectId": ("", "The object."),
        "contour": ("0-1", ("Credible level of the object's position in the event's latest sky "
                           "map: the probability of all pixels at least as dense (0 = the "
                           "most probable point; 0.9 = on the edge of the 90% region).")),
        "probdens2": ("deg-2", ("Sky-map probability per square degree at the object's "
                               "position.")),
        "t_gw": ("days", ("firstDiaSourceMjdTai minus the event time: negative when the object "
                         "was first seen before the event.")),
    },
    "gw_events": {
        "superevent_id": ("", "The LVK superevent."),
        "alert_type": ("", ("Type of the latest notice: EARLYWARNING, PRELIMINARY, INITIAL, "
                           "UPDATE or RETRACTION.")),
        "t_event": ("MJD (TAI)", ("Event time, on the same scale as the objects' *MjdTai "
                                 "columns.")),
        "far": ("Hz", "False alarm rate."),
        "significant": ("0/1", "LVK's significance flag."),
        "gw_group": ("", "CBC or Burst (the notice's event.group)."),
        "p_BNS": ("0-1", "Probability the source is a binary neutron star."),
        "p_NSBH": ("0-1", "Probability of a neutron star-black hole binary."),
        "p_BBH": ("0-1", "Probability of a binary black hole."),
        "p_Terrestrial": ("0-1", "Probability the signal is terrestrial noise."),
        "HasNS": ("0-1", "Probability at least one component is a neutron star."),
        "HasRemnant": ("0-1", "Probability matter was left outside the final object."),
        "HasMassGap": ("0-1", "Probability a component lies in the 3-5 solar-mass gap."),
        "area50": ("deg2", "Area of the 50% credible region of the latest map."),
        "area90": ("deg2", "Area of the 90% credible region of the latest map."),
        "dist_mean": ("Mpc", "Posterior mean luminosity distance (the map's DISTMEAN)."),
        "dist_std": ("Mpc", "Posterior standard deviation of the distance (DISTSTD)."),
        "retracted": ("0/1", "1 once LVK retracted the event (its hits are removed)."),
        "map_version": ("", "Which of the event's maps is in use (1 = the first received)."),
    },
    "crossmatch_tns": {
        "tns_name": ("", ("TNS name without prefix (e.g. 2026abc); joined to objects.tns_name "
                         "when left out, as in Lasair.")),
        "tns_prefix": ("", "SN once classified as a supernova, AT otherwise (also TDE, FRB, ...)."),
        "ra": ("deg", "TNS position, right ascension."),
        "decl": ("deg", "TNS position, declination."),
        "z": ("", "Redshift, when reported (NULL otherwise)."),
        "type": ("", "Classification, e.g. SN Ia, SN II, TDE (NULL when unclassified)."),
        "disc_date": ("UTC", "Discovery date as TNS writes it, e.g. 2026-11-30 03:04:05.000."),
        "internal_names": ("", "The survey names of the object, comma separated."),
    },
}


def markdown_tables() -> str:
    """The context tables' columns as markdown, for docs/filters.md (between the
    ``context-columns`` markers).

    >>> markdown_tables().splitlines()[2]
    '| Column | Type | Unit | Meaning |'
    """
    out: list[str] = []
    for table, columns in CONTEXT_TABLES.items():
        scoped = (f" Scoped: only the rows of watchlists/watchmaps (`{SCOPED[table]}`) the "
                  "filter's owner may read." if table in SCOPED else "")
        out += [f"**`{table}`**.{scoped}", "", "| Column | Type | Unit | Meaning |",
                "|---|---|---|---|"]
        for column, kind in columns.items():
            unit, meaning = UNITS[table][column]
            out.append(f"| `{column}` | {kind} | {unit} | {meaning} |")
        out.append("")
    return "\n".join(out)


def write_docs(path: str) -> None:
    """Replace the block between the ``context-columns`` markers of ``path``."""
    from pathlib import Path

    doc = Path(path)
    text = doc.read_text()
    start, end = "<!-- context-columns:start -->\n", "<!-- context-columns:end -->"
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    doc.write_text(head + start + markdown_tables() + end + tail)


if __name__ == "__main__":  # python -m skysift.context.tables docs/filters.md
    import sys

    write_docs(sys.argv[1])
