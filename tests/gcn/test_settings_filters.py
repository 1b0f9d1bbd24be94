"""Settings file and filters: fail closed on unknown keys, gocart semantics, alias spellings."""

from __future__ import annotations

import pytest
import yaml

from skysift.errors import ConfigError
from skysift.gcn.filters import FilterContext, evaluate, parse_filters
from skysift.gcn.settings import ensure_group_id, init_settings, load_gcn_settings


def test_init_writes_commented_settings_with_every_key_and_a_template_plugin(tmp_path):
    path, plugins = init_settings(tmp_path / "conf" / "gcn.yaml")
    text = path.read_text()
    assert text.count("#") > 20
    doc = yaml.safe_load(text)
    assert set(doc["gcn-kafka"]) == {"client_id", "client_secret", "domain", "group_id", "topic",
                                     "start_at", "kafka"}
    assert set(doc["lvk"]) == {"parse_mock_events", "parse_real_events", "download_dir", "json",
                               "aitoff", "ascii_map", "moc", "filters"}
    # installed disabled: the listener runs gp_*.py only
    assert (plugins / "gp_template.py.example").read_text().startswith("#!/usr/bin/env python")
    assert not list(plugins.glob("gp_*.py"))
    s = load_gcn_settings(path)
    assert s.topic == "igwn.gwalert" and s.start_at == "end" and s.nside == 64
    assert s.plugins_dir == plugins
    with pytest.raises(ConfigError, match=r"exists"):
        init_settings(path)


def test_group_id_is_generated_once_and_stored_in_the_file_in_use(tmp_path):
    path, _ = init_settings(tmp_path / "other.yaml")
    s = ensure_group_id(load_gcn_settings(path))
    assert s.group_id.startswith("skysift-")
    text = path.read_text()
    assert f"group_id: {s.group_id}" in text
    assert "# consumer group; generated" in text  # comments kept
    assert load_gcn_settings(path).group_id == s.group_id
    assert ensure_group_id(load_gcn_settings(path)).group_id == s.group_id


def test_unknown_filter_criterion_is_a_settings_error_naming_the_key(gcn_settings):
    with pytest.raises(ConfigError, match=r"unknown filter criterion 'far_uper'") as err:
        gcn_settings(lvk={"filters": [{"name": "typo", "far_uper": 1e-8}]})
    assert err.value.key == "lvk.filters[0].far_uper"
    assert err.value.path.endswith("gcn.yaml")


@pytest.mark.parametrize("bad,match", [
    ({"name": "x", "alert_types": ["initiall"]}, "unknown alert type"),
    ({"name": "x", "far_upper": "small"}, "must be a number"),
    ({"name": "x", "burst": "yes"}, "true or false"),
    ({"far_upper": 1}, "needs a name"),
])
def test_bad_filter_values_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        parse_filters([bad])


def test_unknown_lvk_setting_is_refused(gcn_settings):
    with pytest.raises(ConfigError, match=r"unknown setting lvk.download_directory"):
        gcn_settings(lvk={"download_directory": "/tmp"})


def test_gocart_spelling_event_dir_exist_is_accepted():
    spec = parse_filters([{"name": "live", "event_dir_exist": True}])[0]
    assert spec.criteria == {"event_dir_exists": True}
    assert evaluate([spec],
                    FilterContext("UPDATE", {"group": "CBC"}, event_dir_exists=True))[0].passed
    assert not evaluate([spec],
                        FilterContext("UPDATE", {"group": "CBC"}, event_dir_exists=False))[0].passed


def test_alert_types_match_case_insensitively_and_early_warning_equals_earlywarning():
    spec = parse_filters([{"name": "ew", "alert_types": ["early_warning", "Initial"]}])[0]
    assert spec.criteria["alert_types"] == ["EARLYWARNING", "INITIAL"]
    ev = {"group": "CBC"}
    assert evaluate([spec], FilterContext("EARLYWARNING", ev))[0].passed
    assert evaluate([spec], FilterContext("INITIAL", ev))[0].passed
    assert not evaluate([spec], FilterContext("UPDATE", ev))[0].passed


def test_gocart_general_filter_on_the_real_nsbh_candidate(notice_json):
    ev = notice_json("S230518h-initial")["event"]
    general = parse_filters([{"name": "general", "alert_types": ["initial", "update"],
                              "ns_lower": 0.9,
                              "far_upper": 1.6e-8, "dist_upper": 500, "area90_upper": 2000}])
    # BNS+NSBH = 0.864 < 0.9: fails on ns_lower only
    r = evaluate(general, FilterContext("INITIAL", ev, distmean=277.9, area90=665.8))[0]
    assert not r.passed
    failed = [x for x in r.reasons if x.startswith("FAIL")]
    assert len(failed) == 1 and "BNS+NSBH 0.864" in failed[0]
    looser = parse_filters([{"name": "g", "ns_lower": 0.8, "far_upper": 1.6e-8, "dist_upper": 500,
                             "area90_upper": 2000, "hasns_lower": 0.9, "significant": True}])
    assert evaluate(looser, FilterContext("INITIAL", ev, distmean=277.9, area90=665.8))[0].passed
    assert not evaluate(looser,
                        FilterContext("INITIAL", ev, distmean=600.0, area90=665.8))[0].passed


def test_bursts_fail_filters_without_burst_true():
    burst = {"group": "Burst", "significant": True, "far": 1e-10, "classification": {},
             "properties": {}}
    plain, bursty = parse_filters([{"name": "cbc", "far_upper": 1e-8},
                                   {"name": "bursts", "burst": True, "significant": True}])
    assert not evaluate([plain], FilterContext("INITIAL", burst))[0].passed
    assert evaluate([bursty], FilterContext("INITIAL", burst))[0].passed
    assert not evaluate([bursty],
                        FilterContext("INITIAL", {"group": "CBC", "significant": True}))[0].passed


def test_retraction_skips_event_criteria_and_missing_area_fails_area_filter():
    spec = parse_filters([{"name": "r", "alert_types": ["retraction"], "far_upper": 1e-8}])
    assert evaluate(spec, FilterContext("RETRACTION", None))[0].passed
    area = parse_filters([{"name": "a", "area90_upper": 100}])
    r = evaluate(area, FilterContext("INITIAL", {"group": "CBC"}, area90=None))[0]
    assert (not r.passed and "no sky map area" in r.reasons[-1]) or "no sky map area" in " ".join(
        r.reasons
    )
