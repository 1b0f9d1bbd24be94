"""The commented settings file and the template plugin that ``skysift gcn init`` writes."""

from __future__ import annotations

__all__ = ["PLUGIN_TEMPLATE", "SETTINGS_TEMPLATE"]

SETTINGS_TEMPLATE = """\
# skysift GCN listener settings (skysift gcn init). Every key is documented in docs/gcn.md.
version: 1

gcn-kafka:
  # GCN Kafka client credentials from https://gcn.nasa.gov/quickstart (leave empty for a local broker)
  client_id: ""
  client_secret: ""
  # gcn.nasa.gov (production), test.gcn.nasa.gov or dev.gcn.nasa.gov
  domain: gcn.nasa.gov
  # consumer group; generated and written here on the first run, so restarts resume where they left off
  group_id: ""
  # the LVK topic: JSON notices with base64 sky maps
  topic: igwn.gwalert
  # where the very first connection starts: end (only new alerts, as gocart) or beginning
  start_at: end
  # librdkafka settings passed through unchanged, e.g. for a local broker:
  #   kafka: {bootstrap.servers: "127.0.0.1:9092", security.protocol: PLAINTEXT}
  kafka: {}

lvk:
  # mock (MDC) events have ids starting with M; LVK sends one about every hour (a heartbeat)
  parse_mock_events: false
  # real superevents (ids starting with S)
  parse_real_events: true
  # events land in <download_dir>/superevents/<id>/ and <download_dir>/mockevents/<id>/
  download_dir: ~/lvk_events
  # keep the notice exactly as received (<id>-<alert type>.json or .avro)
  json: true
  # skymap.png: all-sky Hammer projection
  aitoff:
    convert: true
    galactic_plane: true
    # Sun and Moon at the event time, with exclusion zones of these radii (degrees)
    sun_moon: true
    sun_radius: 33
    moon_radius: 20
  # skymap.csv: the map flattened to one HEALPix resolution, one row per pixel
  ascii_map:
    convert: true
    # a power of two; 64 gives 49152 pixels of 0.84 deg2
    nside: 64
  # moc50/moc90 .fits and .json: the 50% and 90% credible regions as MOCs (Aladin, mocpy)
  moc:
    convert: true
  # an alert is kept when at least one filter passes; a filter passes when all its criteria pass.
  # No filters: every alert is kept. Criteria: alert_types, ns_lower, far_upper, dist_upper,
  # area90_upper, hasns_lower, hasremnant_lower, significant, burst, event_dir_exists.
  # Bursts fail every filter that does not say burst: true (as in gocart).
  filters: []
  # filters:
  #   - name: significant bursts
  #     alert_types: [initial, update]
  #     burst: true
  #     significant: true
  #   - name: general
  #     alert_types: [early_warning, preliminary, initial, update, retraction]
  #     ns_lower: 0.9
  #     far_upper: 1.6e-08
  #     dist_upper: 500
  #     area90_upper: 2000
  #   - name: live event
  #     event_dir_exists: true

plugins:
  # run the plugins for every kept alert
  enabled: true
  # gp_*.py are run as `python gp_x.py <alert dir>`; ip_*.py are imported and their
  # plugin(log, settings, alertFiles, alertMeta) called in the listener. Relative to this file.
  folder: plugins
  # seconds before a plugin is stopped
  timeout: 60

# The bridge (docs/context.md): register every written alert in skysift's broker store, so
# filters can join gw_hits and gw_events. Uncomment and name the broker's data directory
# (its skysift.toml is read) or its database URL; `skysift --data-dir D gcn ...` does the same.
# broker:
#   data_dir: ~/skysift-data
#   database: postgresql+psycopg://skysift@127.0.0.1/skysift
"""

PLUGIN_TEMPLATE = '''\
#!/usr/bin/env python
"""A skysift GCN plugin (gocart-compatible).

skysift runs every gp_*.py in the plugins folder for each kept alert as

    python gp_template.py <alert directory>

with SKYSIFT_GCN_SETTINGS naming the settings file. Copy this file to gp_<your name>.py and edit
plugin(). Test it on an alert directory that exists:

    python gp_my_plugin.py ~/lvk_events/superevents/S230518h/20230518T160718_initial/

A file named ip_*.py with the same plugin() function is instead imported and called inside the
listener (faster, but it must not block).
"""

import logging
import os
import sys
from pathlib import Path

import yaml


def plugin(log, settings, alertFiles, alertMeta):
    """Called once per alert.

    log        -- a logging.Logger
    settings   -- the settings file as a dict (add your own keys there)
    alertFiles -- paths of every file written for the alert
    alertMeta  -- meta.yaml as a dict: ALERT (the notice), HEADER (FITS header), EXTRA (areas, ...)
    """
    alert_type = alertMeta["ALERT"]["alert_type"]
    event_id = alertMeta["ALERT"]["superevent_id"]
    print(f"Here are the alert files generated from {alert_type} alert of event {event_id}:")
    for f in alertFiles:
        print(Path(f).name)


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} <alert directory>", file=sys.stderr)
        return 2
    alert_dir = Path(argv[1]).expanduser()
    meta = yaml.safe_load((alert_dir / "meta.yaml").read_text())
    files = sorted(str(p) for p in alert_dir.iterdir() if not p.name.startswith("."))
    settings_path = os.environ.get("SKYSIFT_GCN_SETTINGS")
    settings = yaml.safe_load(Path(settings_path).read_text()) if settings_path else {}
    logging.basicConfig(level=logging.INFO)
    plugin(logging.getLogger("plugin"), settings, files, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''
