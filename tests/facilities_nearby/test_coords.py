from __future__ import annotations

import numpy as np

from src.core import geo
from src.facilities_nearby.coords import gcj02_to_bd09, wgs84_to_gcj02


def test_vectorised_conversions_equal_the_scalar_ones_and_round_trip() -> None:
    rng = np.random.default_rng(3)
    lat = np.concatenate((rng.uniform(18, 53, 500), [60.17, -33.9]))  # two outside China
    lng = np.concatenate((rng.uniform(74, 134, 500), [24.94, 151.2]))
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    b_lat, b_lng = gcj02_to_bd09(g_lat, g_lng)
    for i in range(len(lat)):
        assert np.allclose((g_lat[i], g_lng[i]), geo.wgs84_to_gcj02(lat[i], lng[i]), atol=1e-12)
        assert np.allclose((b_lat[i], b_lng[i]), geo.gcj02_to_bd09(g_lat[i], g_lng[i]), atol=1e-12)
        # And back through the scalar inverses, exactly (to a centimetre).
        back = geo.convert(b_lat[i], b_lng[i], geo.CoordSys.bd09, geo.CoordSys.wgs84)
        assert geo.haversine_m(*back, lat[i], lng[i]) <= 0.01
    assert (g_lat[-2:] == lat[-2:]).all() and (g_lng[-2:] == lng[-2:]).all()
