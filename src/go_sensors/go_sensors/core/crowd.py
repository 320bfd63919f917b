"""Random crowds and looks: shoppers drawn from a seeded generator for ``random`` scenarios."""

from __future__ import annotations

import numpy as np

from go_sensors.core.scenario import ActionSpec, RandomSpec, ShopperSpec, Target
from go_sensors.core.world import Appearance


def random_appearance(rng: np.random.Generator, height: float) -> Appearance:
    """Clothes, skin and hair colours of one person."""
    shirts = [
        (200, 40, 40),
        (40, 80, 180),
        (30, 130, 60),
        (230, 200, 60),
        (240, 240, 240),
        (30, 30, 30),
        (130, 60, 150),
        (240, 140, 40),
        (90, 160, 200),
        (150, 150, 150),
    ]
    trousers = [(30, 40, 80), (40, 40, 40), (110, 90, 60), (70, 70, 75), (20, 60, 110)]
    skins = [(241, 194, 165), (224, 172, 135), (198, 134, 94), (141, 85, 54), (92, 58, 38)]
    hair = [(20, 15, 10), (70, 45, 25), (150, 110, 60), (200, 170, 110), (120, 120, 120)]

    def pick(options: list[tuple[int, int, int]]) -> tuple[int, int, int]:
        base = options[int(rng.integers(len(options)))]
        jitter = rng.integers(-15, 16, size=3)
        return tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(base, jitter, strict=True))

    return Appearance(
        shirt_rgb=pick(shirts),
        trousers_rgb=pick(trousers),
        skin_rgb=pick(skins),
        hair_rgb=pick(hair),
        height_m=height,
        girth=float(rng.uniform(0.9, 1.15)),
    )


def random_shoppers(
    spec: RandomSpec, stocked: list[str], taken: set[str], rng: np.random.Generator
) -> list[ShopperSpec]:
    """Shoppers drawn from ``rng``: arrivals, groups, browses, picks and returns among ``stocked``
    bins. ``taken`` holds shopper ids already used (new ids avoid them)."""
    if not stocked:
        return []
    out: list[ShopperSpec] = []
    t = spec.first_arrival
    n = 0
    while n < spec.shoppers:
        group_n = 1
        if rng.random() < spec.p_group:
            group_n = int(rng.integers(2, 4))
        group_n = min(group_n, spec.shoppers - n)
        group = f"group_{n:03d}" if group_n > 1 else None
        for k in range(group_n):
            sid = f"shopper_{n:03d}"
            while sid in taken:
                sid += "_r"
            taken.add(sid)
            actions: list[ActionSpec] = []
            n_picks = int(rng.integers(spec.picks[0], spec.picks[1] + 1))
            for a in range(n_picks):
                fld = f"random.shoppers[{n}].actions[{a}]"
                if rng.random() < spec.p_browse:
                    b = stocked[int(rng.integers(len(stocked)))]
                    actions.append(ActionSpec("browse", fld, Target(bin=b)))
                b = stocked[int(rng.integers(len(stocked)))]
                qty = 2 if rng.random() < spec.p_multi else 1
                actions.append(ActionSpec("pick", fld, Target(bin=b), qty=qty))
                if rng.random() < spec.p_return:
                    back = b
                    if rng.random() < spec.p_wrong_return:
                        back = stocked[int(rng.integers(len(stocked)))]
                    actions.append(ActionSpec("return", fld, Target(bin=back)))
            height = float(np.clip(rng.normal(1.72, 0.08), 1.55, 1.95))
            out.append(ShopperSpec(sid, t + 0.8 * k, tuple(actions), group, height, None))
            n += 1
        t += float(rng.uniform(*spec.arrival_s))
    return out
