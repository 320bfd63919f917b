"""Write the shipped store YAMLs (``small.yaml``, ``convenience.yaml``) from a compact description.

The YAMLs are what ``load_store`` reads and what an integrator would write by hand; this script only
saves typing 200+ bins. Run ``python -m go_common.stores.generate`` after editing it; the result is
deterministic (fixed seed), so a diff of the YAML shows exactly what changed.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from go_common.core.store import ean13, load_store, store_from_dict

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sku:
    """Catalogue entry in the compact description. dims: width, depth, height [m]."""

    sku: str
    name: str
    price: float
    weight_g: float
    dims: tuple[float, float, float]
    color: tuple[int, int, int]
    image: bool = False


# Products photographed in the Grocery Store Dataset (fine-grained class names are the SKUs, so the
# product recogniser and the catalogue share names). Prices in SEK, weights include the package.
_L_CARTON = (0.07, 0.07, 0.195)
_JUICE = (0.07, 0.07, 0.235)
_TUB_1KG = (0.095, 0.095, 0.17)
_CUP = (0.09, 0.09, 0.075)
GROCERY: tuple[Sku, ...] = (
    Sku("Bravo-Apple-Juice", "Bravo apple juice 1 l", 22.95, 1085.0, _JUICE, (132, 159, 91), True),
    Sku(
        "Bravo-Orange-Juice", "Bravo orange juice 1 l", 22.95, 1085.0, _JUICE, (191, 155, 67), True
    ),
    Sku(
        "God-Morgon-Apple-Juice",
        "God Morgon apple juice 1 l",
        29.95,
        1080.0,
        _JUICE,
        (92, 85, 66),
        True,
    ),
    Sku(
        "God-Morgon-Orange-Juice",
        "God Morgon orange juice 1 l",
        29.95,
        1080.0,
        _JUICE,
        (116, 101, 58),
        True,
    ),
    Sku(
        "God-Morgon-Orange-Red-Grapefruit-Juice",
        "God Morgon orange & red grapefruit 1 l",
        31.95,
        1080.0,
        _JUICE,
        (116, 85, 54),
        True,
    ),
    Sku(
        "God-Morgon-Red-Grapefruit-Juice",
        "God Morgon red grapefruit juice 1 l",
        31.95,
        1080.0,
        _JUICE,
        (111, 69, 54),
        True,
    ),
    Sku(
        "Tropicana-Apple-Juice",
        "Tropicana apple juice 850 ml",
        34.95,
        930.0,
        (0.09, 0.09, 0.22),
        (152, 161, 99),
        True,
    ),
    Sku(
        "Tropicana-Golden-Grapefruit",
        "Tropicana golden grapefruit 850 ml",
        34.95,
        930.0,
        (0.09, 0.09, 0.22),
        (176, 184, 82),
        True,
    ),
    Sku(
        "Tropicana-Juice-Smooth",
        "Tropicana orange juice smooth 850 ml",
        34.95,
        930.0,
        (0.09, 0.09, 0.22),
        (131, 158, 132),
        True,
    ),
    Sku(
        "Tropicana-Mandarin-Morning",
        "Tropicana mandarin morning 850 ml",
        36.95,
        935.0,
        (0.09, 0.09, 0.22),
        (193, 145, 70),
        True,
    ),
    Sku(
        "Arla-Ecological-Medium-Fat-Milk",
        "Arla organic milk 1.5 % 1 l",
        17.95,
        1065.0,
        _L_CARTON,
        (136, 134, 93),
        True,
    ),
    Sku(
        "Arla-Lactose-Medium-Fat-Milk",
        "Arla lactose-free milk 1.5 % 1 l",
        19.95,
        1065.0,
        _L_CARTON,
        (88, 133, 111),
        True,
    ),
    Sku(
        "Arla-Medium-Fat-Milk",
        "Arla milk 1.5 % 1 l",
        14.95,
        1065.0,
        _L_CARTON,
        (98, 142, 109),
        True,
    ),
    Sku("Arla-Standard-Milk", "Arla milk 3 % 1 l", 15.95, 1065.0, _L_CARTON, (181, 101, 92), True),
    Sku(
        "Garant-Ecological-Medium-Fat-Milk",
        "Garant organic milk 1.5 % 1 l",
        15.45,
        1062.0,
        _L_CARTON,
        (132, 172, 117),
        True,
    ),
    Sku(
        "Garant-Ecological-Standard-Milk",
        "Garant organic milk 3 % 1 l",
        15.95,
        1062.0,
        _L_CARTON,
        (204, 132, 123),
        True,
    ),
    Sku(
        "Oatly-Natural-Oatghurt",
        "Oatly oatgurt natural 1 kg",
        32.95,
        1035.0,
        _TUB_1KG,
        (100, 132, 137),
        True,
    ),
    Sku("Oatly-Oat-Milk", "Oatly oat drink 1 l", 21.95, 1055.0, _L_CARTON, (113, 132, 144), True),
    Sku(
        "Arla-Ecological-Sour-Cream",
        "Arla organic sour cream 300 g",
        18.95,
        318.0,
        _CUP,
        (112, 100, 129),
        True,
    ),
    Sku("Arla-Sour-Cream", "Arla sour cream 300 g", 16.95, 318.0, _CUP, (92, 83, 130), True),
    Sku("Arla-Sour-Milk", "Arla sour milk 3 % 1 l", 15.95, 1065.0, _L_CARTON, (102, 97, 137), True),
    Sku(
        "Alpro-Blueberry-Soyghurt",
        "Alpro soy yoghurt blueberry 500 g",
        24.95,
        522.0,
        (0.095, 0.095, 0.1),
        (146, 148, 140),
        True,
    ),
    Sku(
        "Alpro-Vanilla-Soyghurt",
        "Alpro soy yoghurt vanilla 500 g",
        24.95,
        522.0,
        (0.095, 0.095, 0.1),
        (166, 163, 139),
        True,
    ),
    Sku(
        "Alpro-Fresh-Soy-Milk",
        "Alpro fresh soy drink 1 l",
        22.95,
        1060.0,
        _L_CARTON,
        (132, 165, 151),
        True,
    ),
    Sku(
        "Alpro-Shelf-Soy-Milk",
        "Alpro soy drink long life 1 l",
        22.95,
        1060.0,
        _L_CARTON,
        (127, 173, 168),
        True,
    ),
    Sku(
        "Arla-Mild-Vanilla-Yoghurt",
        "Arla mild yoghurt vanilla 1 kg",
        27.95,
        1040.0,
        _L_CARTON,
        (160, 142, 114),
        True,
    ),
    Sku(
        "Arla-Natural-Mild-Low-Fat-Yoghurt",
        "Arla mild yoghurt natural 0.5 % 1 kg",
        24.95,
        1040.0,
        _L_CARTON,
        (122, 124, 121),
        True,
    ),
    Sku(
        "Arla-Natural-Yoghurt",
        "Arla natural yoghurt 3 % 1 kg",
        23.95,
        1040.0,
        _L_CARTON,
        (94, 137, 150),
        True,
    ),
    Sku(
        "Valio-Vanilla-Yoghurt",
        "Valio vanilla yoghurt 1 kg",
        29.95,
        1042.0,
        _L_CARTON,
        (183, 173, 122),
        True,
    ),
    Sku(
        "Yoggi-Strawberry-Yoghurt",
        "Yoggi yoghurt strawberry 1 kg",
        28.95,
        1040.0,
        _L_CARTON,
        (180, 158, 119),
        True,
    ),
    Sku(
        "Yoggi-Vanilla-Yoghurt",
        "Yoggi yoghurt vanilla 1 kg",
        28.95,
        1040.0,
        _L_CARTON,
        (193, 186, 137),
        True,
    ),
)

_CAN = (0.066, 0.066, 0.115)
_PET05 = (0.065, 0.065, 0.21)
_CHIPS = (0.17, 0.07, 0.25)
_BAR = (0.15, 0.02, 0.08)
# Other everyday products (no photograph; renderers draw their colour). Equal-weight pairs that
# look alike are adjacent in this list: cans, bottles, chocolate, noodles, chips.
OTHER: tuple[Sku, ...] = (
    Sku("cola-can-330ml", "Cola 33 cl can", 12.95, 348.0, _CAN, (200, 16, 30)),
    Sku("cola-zero-can-330ml", "Cola zero 33 cl can", 12.95, 346.0, _CAN, (30, 30, 30)),
    Sku("orange-soda-can-330ml", "Orange soda 33 cl can", 11.95, 350.0, _CAN, (240, 130, 20)),
    Sku("lemon-soda-can-330ml", "Lemon soda 33 cl can", 11.95, 350.0, _CAN, (230, 220, 60)),
    Sku(
        "energy-drink-can-250ml",
        "Energy drink 25 cl can",
        19.95,
        275.0,
        (0.053, 0.053, 0.135),
        (30, 60, 160),
    ),
    Sku(
        "energy-drink-sugarfree-can-250ml",
        "Energy drink sugar free 25 cl",
        19.95,
        273.0,
        (0.053, 0.053, 0.135),
        (160, 170, 190),
    ),
    Sku(
        "sparkling-water-lemon-500ml",
        "Sparkling water lemon 50 cl",
        14.95,
        528.0,
        _PET05,
        (225, 235, 120),
    ),
    Sku(
        "sparkling-water-lime-500ml",
        "Sparkling water lime 50 cl",
        14.95,
        528.0,
        _PET05,
        (140, 210, 90),
    ),
    Sku("still-water-500ml", "Still water 50 cl", 12.95, 525.0, _PET05, (120, 180, 230)),
    Sku("iced-tea-peach-500ml", "Iced tea peach 50 cl", 21.95, 540.0, _PET05, (240, 170, 110)),
    Sku("iced-tea-lemon-500ml", "Iced tea lemon 50 cl", 21.95, 540.0, _PET05, (230, 200, 90)),
    Sku(
        "cold-brew-coffee-250ml",
        "Cold brew coffee 25 cl",
        24.95,
        285.0,
        (0.06, 0.06, 0.14),
        (90, 60, 40),
    ),
    Sku("milk-chocolate-bar-100g", "Milk chocolate 100 g", 19.95, 104.0, _BAR, (110, 60, 150)),
    Sku("dark-chocolate-bar-100g", "Dark chocolate 70 % 100 g", 19.95, 104.0, _BAR, (60, 40, 30)),
    Sku(
        "hazelnut-chocolate-bar-100g", "Hazelnut chocolate 100 g", 21.95, 106.0, _BAR, (150, 90, 50)
    ),
    Sku(
        "chocolate-wafer-45g", "Chocolate wafer 45 g", 9.95, 48.0, (0.12, 0.03, 0.03), (200, 40, 40)
    ),
    Sku(
        "caramel-bar-50g",
        "Caramel chocolate bar 50 g",
        11.95,
        53.0,
        (0.13, 0.03, 0.025),
        (120, 50, 30),
    ),
    Sku("licorice-bag-200g", "Licorice mix 200 g", 24.95, 210.0, (0.16, 0.05, 0.22), (40, 40, 40)),
    Sku("gummy-bears-200g", "Gummy bears 200 g", 24.95, 210.0, (0.16, 0.05, 0.22), (230, 120, 40)),
    Sku("salted-chips-175g", "Potato chips salted 175 g", 27.95, 182.0, _CHIPS, (230, 200, 40)),
    Sku(
        "sourcream-chips-175g",
        "Potato chips sour cream & onion 175 g",
        27.95,
        182.0,
        _CHIPS,
        (60, 160, 80),
    ),
    Sku("paprika-chips-175g", "Potato chips paprika 175 g", 27.95, 182.0, _CHIPS, (210, 60, 40)),
    Sku(
        "tortilla-chips-200g",
        "Tortilla chips 200 g",
        24.95,
        208.0,
        (0.2, 0.08, 0.28),
        (240, 180, 40),
    ),
    Sku(
        "salted-peanuts-300g",
        "Salted peanuts 300 g",
        29.95,
        318.0,
        (0.1, 0.1, 0.13),
        (200, 120, 50),
    ),
    Sku(
        "cashew-nuts-150g",
        "Roasted cashews 150 g",
        34.95,
        158.0,
        (0.13, 0.05, 0.18),
        (190, 160, 100),
    ),
    Sku(
        "popcorn-microwave-3pk",
        "Microwave popcorn 3 x 90 g",
        26.95,
        285.0,
        (0.16, 0.06, 0.13),
        (230, 60, 60),
    ),
    Sku(
        "crispbread-rye-500g",
        "Rye crispbread 500 g",
        26.95,
        525.0,
        (0.22, 0.08, 0.12),
        (190, 150, 90),
    ),
    Sku(
        "crispbread-sesame-250g",
        "Sesame crispbread 250 g",
        24.95,
        265.0,
        (0.22, 0.05, 0.12),
        (220, 200, 150),
    ),
    Sku("oat-cookies-300g", "Oat cookies 300 g", 25.95, 315.0, (0.07, 0.07, 0.2), (200, 150, 80)),
    Sku(
        "digestive-biscuits-400g",
        "Digestive biscuits 400 g",
        24.95,
        420.0,
        (0.07, 0.07, 0.22),
        (50, 70, 150),
    ),
    Sku("pasta-penne-500g", "Penne 500 g", 17.95, 510.0, (0.12, 0.06, 0.2), (30, 70, 160)),
    Sku("pasta-fusilli-500g", "Fusilli 500 g", 17.95, 510.0, (0.12, 0.06, 0.2), (30, 90, 170)),
    Sku("pasta-spaghetti-500g", "Spaghetti 500 g", 17.95, 510.0, (0.08, 0.03, 0.27), (30, 60, 150)),
    Sku(
        "rice-jasmine-1kg", "Jasmine rice 1 kg", 39.95, 1015.0, (0.15, 0.07, 0.22), (240, 240, 230)
    ),
    Sku(
        "tomato-sauce-500g",
        "Tomato sauce 500 g jar",
        24.95,
        760.0,
        (0.08, 0.08, 0.14),
        (200, 30, 30),
    ),
    Sku("pesto-190g", "Pesto genovese 190 g jar", 32.95, 330.0, (0.07, 0.07, 0.09), (60, 130, 50)),
    Sku(
        "instant-noodles-chicken",
        "Instant noodles chicken 85 g",
        8.95,
        88.0,
        (0.12, 0.03, 0.15),
        (230, 180, 40),
    ),
    Sku(
        "instant-noodles-beef",
        "Instant noodles beef 85 g",
        8.95,
        88.0,
        (0.12, 0.03, 0.15),
        (170, 60, 40),
    ),
    Sku(
        "canned-tuna-185g",
        "Tuna in water 185 g",
        21.95,
        215.0,
        (0.085, 0.085, 0.045),
        (40, 90, 170),
    ),
    Sku(
        "canned-tomatoes-400g",
        "Chopped tomatoes 400 g",
        11.95,
        460.0,
        (0.075, 0.075, 0.11),
        (210, 40, 40),
    ),
    Sku(
        "kidney-beans-400g", "Kidney beans 400 g", 12.95, 460.0, (0.075, 0.075, 0.11), (130, 40, 40)
    ),
    Sku("chickpeas-400g", "Chickpeas 400 g", 12.95, 460.0, (0.075, 0.075, 0.11), (220, 190, 120)),
    Sku(
        "ground-coffee-450g",
        "Ground coffee medium roast 450 g",
        54.95,
        470.0,
        (0.1, 0.07, 0.17),
        (160, 30, 30),
    ),
    Sku(
        "ground-coffee-dark-450g",
        "Ground coffee dark roast 450 g",
        54.95,
        470.0,
        (0.1, 0.07, 0.17),
        (50, 30, 30),
    ),
    Sku("black-tea-20pk", "Black tea 20 bags", 22.95, 52.0, (0.13, 0.07, 0.07), (180, 30, 40)),
    Sku("green-tea-20pk", "Green tea 20 bags", 24.95, 48.0, (0.13, 0.07, 0.07), (60, 140, 60)),
    Sku("muesli-750g", "Muesli 750 g", 34.95, 780.0, (0.19, 0.07, 0.27), (210, 160, 80)),
    Sku("cornflakes-500g", "Corn flakes 500 g", 32.95, 540.0, (0.19, 0.07, 0.28), (240, 200, 40)),
    Sku(
        "oat-porridge-1kg", "Porridge oats 1 kg", 21.95, 1020.0, (0.14, 0.08, 0.23), (180, 140, 80)
    ),
    Sku("toothpaste-75ml", "Toothpaste 75 ml", 24.95, 112.0, (0.19, 0.04, 0.05), (40, 90, 200)),
    Sku("shampoo-250ml", "Shampoo 250 ml", 34.95, 290.0, (0.07, 0.045, 0.19), (90, 170, 200)),
    Sku("hand-soap-300ml", "Hand soap 300 ml", 26.95, 345.0, (0.075, 0.05, 0.18), (240, 180, 200)),
    Sku(
        "paper-tissues-10pk",
        "Pocket tissues 10 pack",
        19.95,
        130.0,
        (0.16, 0.08, 0.11),
        (230, 230, 240),
    ),
    Sku("batteries-aa-4pk", "AA batteries 4 pack", 49.95, 105.0, (0.09, 0.02, 0.14), (40, 40, 40)),
    Sku("chewing-gum-mint", "Chewing gum mint", 14.95, 35.0, (0.07, 0.03, 0.05), (60, 170, 220)),
    Sku("chewing-gum-fruit", "Chewing gum fruit", 14.95, 35.0, (0.07, 0.03, 0.05), (230, 80, 150)),
)

# Equal-weight pairs placed together in one mixed bin (the vision cue must tell them apart).
MIXED_PAIRS: tuple[tuple[str, str], ...] = (
    ("Alpro-Blueberry-Soyghurt", "Alpro-Vanilla-Soyghurt"),
    ("Arla-Ecological-Sour-Cream", "Arla-Sour-Cream"),
    ("cola-can-330ml", "orange-soda-can-330ml"),
    ("instant-noodles-chicken", "instant-noodles-beef"),
)

# Products whose catalogue weight is off from what the shelf measures (factor measured/catalogue).
MEASURED_FACTORS: dict[str, float] = {
    "Tropicana-Mandarin-Morning": 1.07,
    "Oatly-Natural-Oatghurt": 0.93,
    "Valio-Vanilla-Yoghurt": 1.12,
    "salted-peanuts-300g": 1.06,
    "cashew-nuts-150g": 0.88,
    "popcorn-microwave-3pk": 1.15,
    "crispbread-sesame-250g": 1.09,
    "pesto-190g": 0.92,
    "black-tea-20pk": 1.2,
    "muesli-750g": 1.05,
    "shampoo-250ml": 0.9,
    "paper-tissues-10pk": 1.18,
}


def _barcode(sku: str) -> str:
    digits = str(int(hashlib.sha256(sku.encode()).hexdigest(), 16))[:10]
    return ean13("73" + digits)


def _fmt(values: tuple[float, ...] | list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


@dataclass
class _Layout:
    """Accumulates the YAML sections of one store."""

    gondolas: list[str]
    shelves: list[str]
    bins: list[str]
    boards: list[str]
    bin_ids: list[str]

    def __init__(self) -> None:
        self.gondolas, self.shelves, self.bins, self.boards, self.bin_ids = [], [], [], [], []


def _side(
    lay: _Layout,
    gid: str,
    side: str,
    front: float,
    along: tuple[float, float],
    n_bins: int,
    shelf_z: tuple[float, ...],
    top: float,
    stock: list[dict[str, int]],
    board_split: int = 1,
    board_rate: float = 60.0,
) -> None:
    """Shelves and bins of one gondola side; ``front`` is the aisle face coordinate [m]."""
    axis_x = side in ("+x", "-x")
    sign = 1.0 if side[0] == "+" else -1.0
    depth, width, height = 0.4, (along[1] - along[0]) / n_bins, 0.3
    side_bins: list[str] = []
    for s, z in enumerate(shelf_z):
        sid = f"{gid}_{side[1]}{'p' if sign > 0 else 'm'}_s{s + 1}"
        clearance = (shelf_z[s + 1] if s + 1 < len(shelf_z) else top) - z - 0.02
        lay.shelves.append(
            f"  - {{id: {sid}, gondola: {gid}, side: '{side}', z: {z:g}, "
            f"clearance: {clearance:.2f}}}"
        )
        for b in range(n_bins):
            bid = f"{sid}_b{b + 1}"
            c_depth = front - sign * (depth / 2 + 0.01)
            c_along = along[0] + (b + 0.5) * width
            center = (c_depth, c_along) if axis_x else (c_along, c_depth)
            size = (depth, width - 0.02) if axis_x else (width - 0.02, depth)
            entry = stock.pop(0)
            if len(entry) == 1:
                ((sku, count),) = entry.items()
                what = f"sku: {sku}, count: {count}"
            else:
                what = "stock: {" + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}"
            lay.bins.append(
                f"  - {{id: {bid}, shelf: {sid}, center: "
                f"{_fmt((round(center[0], 3), round(center[1], 3), round(z + height / 2, 3)))}, "
                f"size: {_fmt((round(size[0], 3), round(size[1], 3), height))}, {what}}}"
            )
            side_bins.append(bid)
    per = -(-len(side_bins) // board_split)
    for k in range(board_split):
        chunk = side_bins[k * per : (k + 1) * per]
        name = f"{gid}_{side[1]}{'p' if sign > 0 else 'm'}" + (
            f"_{k + 1}" if board_split > 1 else ""
        )
        lay.boards.append(
            f"  - id: {name}\n    rate_hz: {board_rate:g}\n    noise_sd_g: 0.5\n"
            f"    quantisation_g: 0.2\n    channels: [{', '.join(chunk)}]"
        )


def _count(item: Sku, width: float) -> int:
    facings = max(1, int((width - 0.02) // (item.dims[0] + 0.005)))
    rows = max(1, int(0.4 // (item.dims[1] + 0.005)))
    return int(min(12, max(3, facings * min(rows, 3))))


def _products_yaml(items: tuple[Sku, ...]) -> list[str]:
    lines = []
    for it in items:
        image = f", image: images/{it.sku}.jpg" if it.image else ""
        lines.append(
            f"  - {{sku: {it.sku}, name: '{it.name}', price: {it.price:.2f}, "
            f"weight_g: {it.weight_g:g}, weight_sd_g: {max(0.5, round(it.weight_g * 0.006, 1)):g}, "
            f"dims_m: {_fmt(it.dims)}, barcode: '{_barcode(it.sku)}', color: {list(it.color)}"
            f"{image}}}"
        )
    return lines


def _document(
    header: str,
    top: list[str],
    lay: _Layout,
    items: tuple[Sku, ...],
    cameras: list[str],
    gates: list[str],
) -> str:
    measured = [
        f"    {it.sku}: {round(it.weight_g * MEASURED_FACTORS[it.sku], 1):g}"
        for it in items
        if it.sku in MEASURED_FACTORS
    ]
    parts = [
        header,
        *top,
        "gondolas:",
        *lay.gondolas,
        "shelves:",
        *lay.shelves,
        "products:",
        *_products_yaml(items),
        "bins:",
        *lay.bins,
        "boards:",
        *lay.boards,
        "cameras:",
        *cameras,
        "gates:",
        *gates,
        "sim:",
        "  # Simulator only: what one unit really weighs (the catalogue is off by 5-20 %).",
        "  measured_weight_g:" + ("" if measured else " {}"),
        *measured,
    ]
    return "\n".join(parts) + "\n"


def _camera(cid: str, pos: tuple[float, ...], look: tuple[float, ...], rate: float = 15.0) -> str:
    # 640x480, 90 deg horizontal field of view: a typical wide ceiling camera, rectified output.
    return (
        f"  - {{id: {cid}, width: 640, height: 480, fx: 320.0, fy: 320.0, cx: 319.5, cy: 239.5, "
        f"dist: [0, 0, 0, 0, 0], rate_hz: {rate:g}, position: {_fmt(pos)}, look_at: {_fmt(look)}}}"
    )


HEADER = (
    "# Store '{name}'. Generated by `python -m go_common.stores.generate` (edit that, rerun).\n"
    "# Frame 'store': origin at a floor corner, x/y on the floor, z up, metres. Bins are\n"
    "# axis-aligned boxes; prices in SEK; weights in grams including the package.\n"
    "# Product photographs: images/ (Grocery Store Dataset, MIT licence, see images/README.md)."
)


def small() -> str:
    """One single-sided gondola with 3 x 4 bins, three cameras, an entry and an exit gate."""
    by = {it.sku: it for it in GROCERY}
    rows = [
        [
            "Arla-Natural-Yoghurt",
            "Arla-Mild-Vanilla-Yoghurt",
            "Yoggi-Strawberry-Yoghurt",
            "Yoggi-Vanilla-Yoghurt",
        ],
        [
            "Arla-Standard-Milk",
            "Arla-Medium-Fat-Milk",
            "Arla-Ecological-Medium-Fat-Milk",
            "Oatly-Oat-Milk",
        ],
        [
            "Bravo-Apple-Juice",
            "Bravo-Orange-Juice",
            "Alpro-Blueberry-Soyghurt+Alpro-Vanilla-Soyghurt",
            "Tropicana-Mandarin-Morning",
        ],
    ]
    stock: list[dict[str, int]] = []
    used: list[str] = []
    for row in rows:
        for cell in row:
            skus = cell.split("+")
            used += skus
            n = _count(by[skus[0]], 0.6)
            stock.append({s: (n if len(skus) == 1 else max(2, n // 2)) for s in skus})
    lay = _Layout()
    lay.gondolas.append("  - {id: g1, center: [0.55, 2.0, 0.8], size: [0.5, 2.4, 1.6]}")
    _side(lay, "g1", "+x", 0.8, (0.8, 3.2), 4, (0.35, 0.8, 1.25), 1.6, stock, board_rate=30.0)
    items = tuple(by[s] for s in dict.fromkeys(used))
    # Two corner cameras see the aisle end to end; the third hangs over the aisle facing the shelf,
    # so that the three centres form a triangle (two cameras on one line share their epipolar
    # planes: shoppers side by side along the shelf pair up wrongly across views) and shoppers
    # reaching side by side are seen apart, arms and bins in view.
    cameras = [
        _camera("cam_front", (3.7, 0.3, 2.9), (0.9, 2.0, 0.8)),
        _camera("cam_back", (3.7, 3.7, 2.9), (0.9, 2.0, 0.8)),
        _camera("cam_aisle", (2.4, 2.0, 2.95), (0.8, 2.0, 0.9)),
    ]
    gates = [
        "  - {id: entry, kind: entry, min_xy: [1.6, 0.0], max_xy: [2.6, 0.5]}",
        "  - {id: exit, kind: exit, min_xy: [1.6, 3.5], max_xy: [2.6, 4.0]}",
    ]
    top = [
        "store_id: small",
        "frame_id: store",
        "currency: SEK",
        "floor_size: [4.0, 4.0]",
        "ceiling_height: 3.0",
    ]
    return _document(HEADER.format(name="small"), top, lay, items, cameras, gates)


def convenience() -> str:
    """A 7.1 x 8.3 m convenience store: 6 gondolas, 207 bins, 86 products, 8 cameras."""
    items = GROCERY + OTHER
    by = {it.sku: it for it in items}
    mixed = dict(MIXED_PAIRS)
    # Dairy and juice go to the back wall and the walls (fridges), dry goods to the middle.
    cells: list[list[str]] = []
    for it in items:
        cells.append([it.sku])
        if it.sku in mixed:
            cells.append([it.sku, mixed[it.sku]])
    # 237 bins: every cell twice (wide facings), then again from the top until full.
    n_bins = 207
    sequence = [c for c in cells for _ in range(2)]
    sequence += cells[: n_bins - len(sequence)]
    stock = []
    for cell in sequence:
        n = _count(by[cell[0]], 0.6)
        stock.append({s: (n if len(cell) == 1 else max(2, n // 2)) for s in cell})

    lay = _Layout()
    z5 = (0.12, 0.45, 0.78, 1.11, 1.44)
    z4 = z5[:4]
    lay.gondolas += [
        "  - {id: w1, center: [0.45, 4.4, 0.9], size: [0.5, 3.6, 1.8]}",
        "  - {id: g2, center: [2.45, 4.4, 0.75], size: [0.9, 3.6, 1.5], double_sided: true}",
        "  - {id: g3, center: [4.65, 4.4, 0.75], size: [0.9, 3.6, 1.5], double_sided: true}",
        "  - {id: w4, center: [6.65, 4.4, 0.9], size: [0.5, 3.6, 1.8]}",
        "  - {id: w5, center: [3.5, 7.85, 0.9], size: [5.4, 0.5, 1.8]}",
        "  - {id: g6, center: [3.55, 1.65, 0.6], size: [1.2, 0.5, 1.2]}",
    ]
    _side(lay, "w5", "-y", 7.6, (0.8, 6.2), 9, z5, 1.8, stock, board_split=2)
    _side(lay, "w1", "+x", 0.7, (2.6, 6.2), 6, z5, 1.8, stock)
    _side(lay, "w4", "-x", 6.4, (2.6, 6.2), 6, z5, 1.8, stock)
    _side(lay, "g2", "-x", 2.0, (2.6, 6.2), 6, z4, 1.5, stock)
    _side(lay, "g2", "+x", 2.9, (2.6, 6.2), 6, z4, 1.5, stock)
    _side(lay, "g3", "-x", 4.2, (2.6, 6.2), 6, z4, 1.5, stock)
    _side(lay, "g3", "+x", 5.1, (2.6, 6.2), 6, z4, 1.5, stock)
    _side(lay, "g6", "-y", 1.4, (2.95, 4.15), 2, (0.12, 0.45, 0.78), 1.2, stock)
    assert not stock, f"{len(stock)} stock cells left over"
    # Every aisle, the back aisle and the gates are seen by at least two cameras (triangulation).
    cameras = []
    for i, x in enumerate((1.35, 3.55, 5.75)):
        cameras.append(_camera(f"cam_a{i + 1}_front", (x, 0.2, 2.9), (x, 3.5, 0.0)))
        cameras.append(_camera(f"cam_a{i + 1}_back", (x, 7.95, 2.9), (x, 5.3, 0.0)))
    cameras.append(_camera("cam_back_left", (BACK_X[0], BACK_Y, 2.9), (BACK_X[0], 7.9, 0.4)))
    cameras.append(_camera("cam_back_right", (BACK_X[1], BACK_Y, 2.9), (BACK_X[1], 7.9, 0.4)))
    gates = [
        "  - {id: entry, kind: entry, min_xy: [0.6, 0.7], max_xy: [1.8, 1.3]}",
        "  - {id: exit, kind: exit, min_xy: [5.3, 0.7], max_xy: [6.5, 1.3]}",
    ]
    top = [
        "store_id: convenience",
        "frame_id: store",
        "currency: SEK",
        "floor_size: [7.1, 8.3]",
        "ceiling_height: 3.0",
    ]
    return _document(HEADER.format(name="convenience"), top, lay, items, cameras, gates)


BACK_X = (2.45, 4.65)
BACK_Y = 5.6


# Wide packs that rest partly on the next bin's plate (fraction of their weight there).
SHARED: dict[str, dict[str, float]] = {
    "small": {"Yoggi-Vanilla-Yoghurt": 0.25},
    "convenience": {
        "salted-chips-175g": 0.3,
        "sourcream-chips-175g": 0.25,
        "paprika-chips-175g": 0.35,
        "tortilla-chips-200g": 0.4,
        "muesli-750g": 0.3,
        "cornflakes-500g": 0.25,
        "crispbread-rye-500g": 0.35,
        "Yoggi-Vanilla-Yoghurt": 0.25,
    },
}


def _shared_section(text: str, name: str) -> str:
    """``shared_load`` lines for the SHARED products: their first bin and its next neighbour."""
    store = store_from_dict(yaml.safe_load(text), name=f"{name}.yaml", base_dir=HERE)
    lines = []
    for sku, fraction in SHARED[name].items():
        first = store.bins_of_sku(sku)[0]
        b = store.bins[first]
        along = np.array([-b.access_normal[1], b.access_normal[0], 0.0])
        row = sorted(
            (x for x in store.bins.values() if x.shelf_id == b.shelf_id),
            key=lambda x: float(x.center @ along),
        )
        k = [x.bin_id for x in row].index(first)
        other = row[k + 1] if k + 1 < len(row) else row[k - 1]
        lines.append(f"    {first}: [{other.bin_id}, {fraction:g}]")
    return "  shared_load:\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the YAMLs next to this module and check that they load."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    for name, text in (("small", small()), ("convenience", convenience())):
        text += _shared_section(text, name)
        path = args.out / f"{name}.yaml"
        path.write_text(text)
        store = load_store(path)
        logging_line = (
            f"{path}: {len(store.gondolas)} gondolas, {len(store.bins)} bins, "
            f"{len(store.products)} products, {len(store.cameras)} cameras"
        )
        print(logging_line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
