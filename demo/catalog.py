"""What the demo shop sells: a few products and three plans, enough for varied events."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    price: float
    blurb: str


PRODUCTS = (
    Product("trail-shoes", "Trail Shoes", 89.0, "Grippy soles for muddy paths."),
    Product("rain-jacket", "Rain Jacket", 129.0, "Packs into its own pocket."),
    Product("day-pack", "Day Pack", 59.0, "Twenty litres, two bottle pockets."),
    Product("wool-socks", "Wool Socks", 14.0, "Warm when wet, three pairs."),
)
PLANS = (("starter", "Starter", 0), ("pro", "Pro", 29), ("team", "Team", 99))


def product(slug: str) -> Product | None:
    return next((p for p in PRODUCTS if p.slug == slug), None)
