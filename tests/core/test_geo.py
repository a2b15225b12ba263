"""WGS-84 ⇄ GCJ-02 ⇄ BD-09 against the published reference pairs of wandergis/coordtransform
(the conversion most Chinese map SDK helpers reproduce), and round trips within a metre."""

from __future__ import annotations

import pytest

from src.core.geo import (
    CoordSys,
    Location,
    bd09_to_gcj02,
    convert,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    wgs84_to_gcj02,
)

# (lat, lng) in, (lat, lng) out — from the coordtransform README (Tiananmen, 116.404, 39.915).
WGS84_TO_GCJ02 = ((39.915, 116.404), (39.91640428150164, 116.41024449916938))
GCJ02_TO_BD09 = ((39.915, 116.404), (39.92133699351021, 116.41036949371029))
BD09_TO_GCJ02 = ((39.915, 116.404), (39.90865673957631, 116.39762729119315))
# The README's inverse is the one-step approximation; ours iterates, so agree within a metre.
GCJ02_TO_WGS84 = ((39.915, 116.404), (39.91359571849836, 116.39775550083061))
WGS84_TO_BD09 = ((39.915, 116.404), (39.922699552216216, 116.41662724378733))


def test_forward_conversions_match_the_reference_to_the_digit() -> None:
    assert wgs84_to_gcj02(*WGS84_TO_GCJ02[0]) == pytest.approx(WGS84_TO_GCJ02[1], abs=1e-9)
    assert gcj02_to_bd09(*GCJ02_TO_BD09[0]) == pytest.approx(GCJ02_TO_BD09[1], abs=1e-9)
    assert bd09_to_gcj02(*BD09_TO_GCJ02[0]) == pytest.approx(BD09_TO_GCJ02[1], abs=1e-9)
    wgs_to_bd = convert(*WGS84_TO_BD09[0], CoordSys.wgs84, CoordSys.bd09)
    assert wgs_to_bd == pytest.approx(WGS84_TO_BD09[1], abs=1e-9)


def test_the_inverse_is_within_a_metre_of_the_reference_and_exact_on_round_trip() -> None:
    lat, lng = gcj02_to_wgs84(*GCJ02_TO_WGS84[0])
    assert haversine_m(lat, lng, *GCJ02_TO_WGS84[1]) < 1.0
    back = wgs84_to_gcj02(lat, lng)
    assert haversine_m(*back, *GCJ02_TO_WGS84[0]) < 0.01


@pytest.mark.parametrize(
    "point",
    [(31.2398, 121.4131), (31.2270, 121.3990), (39.915, 116.404), (22.5431, 114.0579)],
)
@pytest.mark.parametrize("src", list(CoordSys))
@pytest.mark.parametrize("dst", list(CoordSys))
def test_every_round_trip_lands_within_a_metre(
    point: tuple[float, float], src: CoordSys, dst: CoordSys
) -> None:
    there = convert(*point, src, dst)
    back = convert(*there, dst, src)
    assert haversine_m(*back, *point) < 1.0


def test_points_outside_china_are_not_shifted_by_gcj02() -> None:
    assert wgs84_to_gcj02(48.8584, 2.2945) == (48.8584, 2.2945)
    assert gcj02_to_wgs84(48.8584, 2.2945) == (48.8584, 2.2945)


def test_location_bodies_convert_to_wgs84_and_refuse_impossible_values() -> None:
    location = Location(lat=39.91640428150164, lng=116.41024449916938)  # GCJ-02 by default
    lat, lng = location.to_wgs84()
    assert haversine_m(lat, lng, 39.915, 116.404) < 1.0
    out = Location.from_wgs84(39.915, 116.404, CoordSys.bd09)
    assert out.coord_sys == CoordSys.bd09
    assert haversine_m(out.lat, out.lng, *WGS84_TO_BD09[1]) < 0.05
    for bad in ({"lat": 91, "lng": 0}, {"lat": 0, "lng": 181}, {"lat": 0, "lng": 0, "x": 1}):
        with pytest.raises(ValueError):
            Location.model_validate(bad)
    with pytest.raises(ValueError):
        Location.model_validate({"lat": 0, "lng": 0, "coord_sys": "utm"})
