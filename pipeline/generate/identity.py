"""Personal identity fields: Chinese names, resident ID numbers, mobile numbers."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.generate import vocab

# GB 11643-1999: weights of the 17 body digits and the check character for sum mod 11.
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))

_MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        166,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        185,
        186,
        187,
        188,
        189,
        198,
        199,
    ]
)


def draw_names(rng: np.random.Generator, female: np.ndarray) -> pl.Series:
    """Draw Chinese personal names, one per element of ``female``.

    Parameters
    ----------
    rng
        Random generator.
    female
        Boolean array; female names draw their given characters from the female list.

    Returns
    -------
    pl.Series
        Names of one surname and one or two given characters.
    """
    n = len(female)
    ranks = np.arange(1, len(vocab.SURNAMES) + 1)
    weights = 1.0 / ranks**0.8
    surname = np.array(vocab.SURNAMES)[rng.choice(len(ranks), n, p=weights / weights.sum())]
    male_chars = np.array(vocab.GIVEN_MALE)
    female_chars = np.array(vocab.GIVEN_FEMALE)
    first = np.where(
        female,
        female_chars[rng.integers(0, len(female_chars), n)],
        male_chars[rng.integers(0, len(male_chars), n)],
    )
    second = np.where(
        female,
        female_chars[rng.integers(0, len(female_chars), n)],
        male_chars[rng.integers(0, len(male_chars), n)],
    )
    second = np.where(rng.random(n) < 0.7, second, "")
    return pl.Series("name", surname.astype(object) + first.astype(object) + second.astype(object))


def resident_ids(
    rng: np.random.Generator, birth_region: np.ndarray, birth_date: np.ndarray, female: np.ndarray
) -> pl.Series:
    """Build 18-character resident ID numbers with a valid GB 11643 check character.

    Parameters
    ----------
    rng
        Random generator (for the sequence number).
    birth_region
        Six-digit region codes as strings.
    birth_date
        ``datetime64[D]`` birth dates.
    female
        Boolean array; the sequence number is even for women and odd for men.

    Returns
    -------
    pl.Series
        ID numbers: region (6) + birth date (8) + sequence (3) + check character.
    """
    n = len(birth_region)
    region = birth_region.astype(np.int64)
    ymd = birth_date.astype("datetime64[D]").astype(str)
    ymd_int = np.char.replace(ymd, "-", "").astype(np.int64)
    seq = rng.integers(0, 500, n) * 2 + np.where(female, 0, 1)
    body = region * 10**11 + ymd_int * 10**3 + seq
    powers = 10 ** np.arange(16, -1, -1, dtype=np.int64)
    digits = (body[:, None] // powers[None, :]) % 10
    check = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    return pl.Series("id_number", np.char.add(body.astype(str), check).astype(object))


def mobiles(rng: np.random.Generator, n: int) -> pl.Series:
    """Draw 11-digit mainland mobile numbers (13x, 15x, 18x ... prefixes)."""
    prefix = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), n)]
    number = prefix * 10**8 + rng.integers(0, 10**8, n)
    return pl.Series("mobile", number.astype(str).astype(object))


def id_check_char(body17: str) -> str:
    """Return the GB 11643 check character for a 17-digit ID body."""
    total = sum(int(d) * int(w) for d, w in zip(body17, _ID_WEIGHTS, strict=True))
    return str(_ID_CHECK[total % 11])
