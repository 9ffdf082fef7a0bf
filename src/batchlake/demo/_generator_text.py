"""String makers for :mod:`batchlake.demo.generator`: catalogue names and customer rows.

Every function draws from the numpy ``Generator`` it is given, in a fixed order, so the strings
are a deterministic function of the seed.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from batchlake.demo import _generator_data as data

_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
_PERSON_GROUPS = ("en", "en", "en", "pt", "de", "fr", "es", "it", "nordic")
_COMPANY_WORDS = ("Music", "Media", "Records", "Digital", "Solutions", "Trading", "Systems")
COMPANY_P = 0.12  # share of customers with a company (and a fax)


def pick(rng: np.random.Generator, seq: tuple[str, ...]) -> str:
    return seq[int(rng.integers(len(seq)))]


def person(rng: np.random.Generator) -> str:
    first, last, *_ = data.NAME_GROUPS[pick(rng, _PERSON_GROUPS)]
    return f"{pick(rng, first)} {pick(rng, last)}"


def _city(rng: np.random.Generator) -> str:
    return data.COUNTRIES[int(rng.integers(len(data.COUNTRIES)))][5][0][0]


def artist_name(rng: np.random.Generator, is_tv: bool, classical: bool) -> str:
    if classical:
        return f"{_city(rng)} {pick(rng, data.ENSEMBLES)}"
    adj, noun = pick(rng, data.ADJECTIVES), pick(rng, data.NOUNS)
    if is_tv:
        kind = int(rng.integers(3))
        return (f"The {noun}", f"{adj} {noun}", f"{noun} {pick(rng, data.NOUNS)}")[kind]
    kind = int(rng.integers(5))
    if kind == 0:
        return f"The {adj} {noun}s"
    if kind == 1:
        return f"{adj} {noun}"
    if kind == 2:
        return person(rng)
    if kind == 3:
        return f"{noun}{pick(rng, data.NOUNS).lower()}"
    return f"{person(rng)} & The {noun}s"


def album_title(rng: np.random.Generator, classical: bool) -> str:
    if classical:
        return f"{pick(rng, data.CLASSICAL_COMPOSERS)}: {pick(rng, data.CLASSICAL_FORMS)}s"
    adj, noun = pick(rng, data.ADJECTIVES), pick(rng, data.NOUNS)
    kind = int(rng.integers(7))
    if kind == 0:
        return f"{adj} {noun}"
    if kind == 1:
        return f"{noun} of the {pick(rng, data.NOUNS)}"
    if kind == 2:
        return f"{pick(rng, data.VERBS)} the {noun}"
    if kind == 3:
        return "Greatest Hits"
    if kind == 4:
        return f"Live in {_city(rng)}"
    return f"{noun}s" if kind == 5 else adj


def track_name(rng: np.random.Generator, is_tv: bool, classical: bool, i: int) -> str:
    if classical:
        form, key = pick(rng, data.CLASSICAL_FORMS), pick(rng, data.KEYS)
        return f"{form} No. {int(rng.integers(1, 28))} in {key}: {pick(rng, data.MOVEMENTS)}"
    adj, noun = pick(rng, data.ADJECTIVES), pick(rng, data.NOUNS)
    if is_tv:
        kind = int(rng.integers(4))
        if i == 0 and kind < 2:
            return "Pilot"
        if kind == 0:
            return pick(rng, data.EPISODE_WORDS)
        if kind == 1:
            return f"{adj} {noun}"
        return (
            f"The {noun} (Part {i % 3 + 1})" if kind == 2 else f"{pick(rng, data.VERBS)} the {noun}"
        )
    kind = int(rng.integers(6))
    if kind == 0:
        return f"{adj} {noun}"
    if kind == 1:
        return f"{pick(rng, data.VERBS)} the {noun}"
    if kind == 2:
        return noun
    if kind == 3:
        return f"{noun} of {pick(rng, data.NOUNS)}s"
    return f"{adj} {noun} (Remastered)" if kind == 4 else f"{noun} in the {pick(rng, data.NOUNS)}"


def composer(rng: np.random.Generator, members: list[str]) -> str | None:
    """A music track's composer credit: None (28%) or 1-3 of the artist's members."""
    if rng.random() < 0.28:
        return None
    picks = rng.permutation(len(members))[: int(rng.integers(1, 4))]
    return ", ".join(members[j] for j in sorted(picks.tolist()))


@lru_cache(maxsize=4096)
def _ascii(s: str) -> str:
    plain = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def fill(pattern: str, r: int) -> str:
    """Replace each '#' in `pattern` by a digit and each '@' by a capital letter taken from `r`."""
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(r % 10))
            r //= 10
        elif ch == "@":
            out.append(_LETTERS[r % len(_LETTERS)])
            r //= len(_LETTERS)
        else:
            out.append(ch)
    return "".join(out)


def customers(rng: np.random.Generator, n: int, chunk: int) -> Iterator[list[tuple[object, ...]]]:
    """Customer rows 1..n, `chunk` at a time; the first customers cover every country."""
    countries = data.COUNTRIES
    cw = np.array([c[1] for c in countries], dtype=np.float64)
    covering = rng.permutation(len(countries))
    city_cdfs = []
    for c in countries:
        w = 1.0 / np.arange(1, len(c[5]) + 1) ** 0.8
        city_cdfs.append((np.cumsum(w) / w.sum()).tolist())
    agents = np.array([a[1] for a in data.SUPPORT_AGENTS])
    agent_cdf = np.cumsum(agents) / agents.sum()
    for lo in range(0, n, chunk):
        k = min(chunk, n - lo)
        ids = np.arange(lo, lo + k)
        country = rng.choice(len(countries), k, p=cw / cw.sum())
        head = ids < len(countries)
        country[head] = covering[ids[head]]
        city_u, company_u = rng.random(k).tolist(), rng.random(k).tolist()
        rep = np.minimum(np.searchsorted(agent_cdf, rng.random(k), side="right"), 2).tolist()
        ints = rng.integers(0, 2**62, (k, 6)).tolist()
        rows: list[tuple[object, ...]] = []
        for j, cid in enumerate(range(lo + 1, lo + k + 1)):
            ci = int(country[j])
            cname, _, group, phone_fmt, tld, cities = countries[ci]
            city, state, postal_fmt, area = cities[bisect_right(city_cdfs[ci], city_u[j])]
            firsts, lasts, addr_fmt, streets, suffix = data.NAME_GROUPS[group]
            r_name, r_addr, r_post, r_phone, r_fax, r_mail = ints[j]
            first, last = firsts[r_name % len(firsts)], lasts[(r_name >> 20) % len(lasts)]
            address = addr_fmt.format(n=1 + (r_addr >> 8) % 2400, s=streets[r_addr % len(streets)])
            phone_pat = phone_fmt.replace("{a}", area)
            company = fax = None
            if company_u[j] < COMPANY_P:
                word = _COMPANY_WORDS[(r_name >> 30) % len(_COMPANY_WORDS)]
                company = f"{lasts[(r_name >> 40) % len(lasts)]} {word} {suffix}"
                fax = fill(phone_pat, r_fax)
            fa, la = _ascii(first), _ascii(last)
            local = (f"{fa}.{la}", f"{fa[0]}{la}", f"{fa}{la}", f"{fa}_{la}")[r_mail % 4]
            host = data.EMAIL_HOSTS[(r_mail >> 4) % len(data.EMAIL_HOSTS)].format(tld=tld)
            rows.append(
                (
                    cid,
                    first,
                    last,
                    company,
                    address,
                    city,
                    state,
                    cname,
                    fill(postal_fmt, r_post),
                    fill(phone_pat, r_phone),
                    fax,
                    f"{local}{cid}@{host}",
                    data.SUPPORT_AGENTS[rep[j]][0],
                )
            )
        yield rows
