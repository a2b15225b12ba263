"""Categories: suggestion categories (and, once the facilities domain lands, facility ones)."""
