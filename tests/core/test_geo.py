"""WGS-84 ⇄ GCJ-02 ⇄ BD-09 against the published reference pairs of wandergis/coordtransform
(the conversion most Chinese map SDK helpers reproduce), and round trips within a metre."""

from __future__ import annotations

import numpy as np
import pytest

from src.core.geo import (
    CoordSys,
    Location,
    bd09_to_gcj02,
    convert,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    out_of_china,
    wgs84_to_gcj02,
)
from src.facilities_nearby.coords import wgs84_to_gcj02 as vec_wgs84_to_gcj02

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
    # The README's BD-09 inverse is the one-step approximation; ours is exact (below).
    assert haversine_m(*bd09_to_gcj02(*BD09_TO_GCJ02[0]), *BD09_TO_GCJ02[1]) < 0.5
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


# Checked against the GCJ-02 area (mainland China's land border, src/core/data/).
NOT_SHIFTED = {
    "Seoul": (37.5665, 126.9780),
    "Pyongyang": (39.0392, 125.7625),
    "Hanoi": (21.0278, 105.8342),
    "Ulaanbaatar": (47.9184, 106.9177),
    "New Delhi": (28.6139, 77.2090),
    "Vladivostok": (43.1155, 131.8855),
    "Manila": (14.5995, 120.9842),
    "Hong Kong, Central": (22.2819, 114.1582),
    "Hong Kong, Sheung Shui": (22.5015, 114.1282),
    "Macau, Senado Square": (22.1937, 113.5399),
    "Taipei": (25.0330, 121.5654),
    "Kaohsiung": (22.6273, 120.3014),
    "Thimphu": (27.4728, 89.6390),
    "Almaty": (43.2389, 76.8897),
    "Tokyo": (35.6800, 139.6900),
}
SHIFTED = {
    "Shanghai": (31.2304, 121.4737),
    "Kashgar": (39.4704, 75.9898),
    "Harbin": (45.8038, 126.5350),
    "Sanya": (18.2528, 109.5120),
    "Shenzhen, Futian": (22.5431, 114.0579),
    "Zhuhai, Gongbei": (22.2707, 113.5767),
    "Dandong": (40.1200, 124.3800),
    "Lhasa": (29.6500, 91.1300),
    "Manzhouli": (49.6000, 117.4300),
    "Haikou": (20.0400, 110.3400),
}


@pytest.mark.parametrize("city", list(NOT_SHIFTED))
def test_outside_mainland_china_every_system_is_wgs84(city: str) -> None:
    lat, lng = NOT_SHIFTED[city]
    assert out_of_china(lat, lng)
    assert convert(lat, lng, CoordSys.wgs84, CoordSys.gcj02) == (lat, lng)
    assert convert(lat, lng, CoordSys.gcj02, CoordSys.wgs84) == (lat, lng)
    vec_lat, vec_lng = vec_wgs84_to_gcj02(np.array([lat]), np.array([lng]))
    assert (vec_lat[0], vec_lng[0]) == (lat, lng)


@pytest.mark.parametrize("city", list(SHIFTED))
def test_inside_mainland_china_gcj02_shifts(city: str) -> None:
    lat, lng = SHIFTED[city]
    assert not out_of_china(lat, lng)
    shifted = wgs84_to_gcj02(lat, lng)
    assert 50 < haversine_m(*shifted, lat, lng) < 1000
    vec_lat, vec_lng = vec_wgs84_to_gcj02(np.array([lat]), np.array([lng]))
    assert (vec_lat[0], vec_lng[0]) == pytest.approx(shifted, abs=1e-12)


def test_the_inverses_are_exact_to_a_centimetre() -> None:
    rng = np.random.default_rng(20)
    worst_gcj = worst_bd = 0.0
    for lat, lng in zip(rng.uniform(18, 53, 3000), rng.uniform(74, 134, 3000), strict=True):
        g = wgs84_to_gcj02(lat, lng)
        worst_gcj = max(worst_gcj, haversine_m(*gcj02_to_wgs84(*g), lat, lng))
        b = gcj02_to_bd09(lat, lng)
        worst_bd = max(worst_bd, haversine_m(*bd09_to_gcj02(*b), lat, lng))
    assert worst_gcj <= 0.01 and worst_bd <= 0.01


def test_the_inverse_near_the_hong_kong_border_gives_its_input_back() -> None:
    # Just north of the border GCJ-02 moves points by ~600 m, some of them over the border:
    # such a GCJ-02 point has two WGS-84 points mapping to it (itself, in Hong Kong, and one
    # in Shenzhen). The inverse answers one whose conversion gives the input back: the point
    # itself when it qualifies, so a position in Hong Kong is never moved to Shenzhen.
    moved = 0
    for lat in np.linspace(22.40, 22.60, 60):
        for lng in (114.05, 114.1, 114.15, 114.2):
            g = wgs84_to_gcj02(float(lat), lng)
            w = gcj02_to_wgs84(*g)
            assert haversine_m(*wgs84_to_gcj02(*w), *g) <= 0.01
            if out_of_china(*g):
                assert w == g
            moved += haversine_m(*w, float(lat), lng) > 1
    assert moved  # the ambiguous band exists
