"""A day's transactions as columns, and the bookkeeping that keeps balances honest.

Rows are gathered in chunks, the counterparty side of transfers between our own customers is
mirrored, rows that would overdraw a deposit or exceed a card limit are dropped (with their
mirror), and the survivors move the balances. Forced rows (scheduled repayments, and the top-ups
that fund them) are never dropped: their debits are funded before the day is settled.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

CHANNELS: tuple[str, ...] = ("CTR", "ATM", "TEL", "NET", "POS")
CH = {c: i for i, c in enumerate(CHANNELS)}
CODES: tuple[str, ...] = (
    "DEP",
    "WDL",
    "TRI",
    "TRO",
    "PAY",
    "POS",
    "FEE",
    "PRB",
    "PRR",
    "LDR",
    "LRP",
    "QRY",
)
CODE = {c: i for i, c in enumerate(CODES)}
# Written from extract-spec.md on purpose rather than imported from pipeline.ingest.contract:
# the generator plays the source system, so a mistake in the validator's copy shows up in tests.
DIRECTION: dict[str, str] = {
    "DEP": "C",
    "WDL": "D",
    "TRI": "C",
    "TRO": "D",
    "PAY": "D",
    "POS": "D",
    "FEE": "D",
    "PRB": "D",
    "PRR": "C",
    "LDR": "C",
    "LRP": "D",
    "QRY": "N",
}
_SIGN = np.array([{"C": 1, "D": -1, "N": 0}[DIRECTION[c]] for c in CODES], dtype=np.int64)


@dataclass
class Batch:
    """Transaction rows as parallel arrays (amounts in cents, time in seconds)."""

    cust: np.ndarray
    acct: np.ndarray
    channel: np.ndarray
    code: np.ndarray
    amount: np.ndarray
    fee: np.ndarray
    cp: np.ndarray
    mcc: np.ndarray
    branch: np.ndarray
    terminal: np.ndarray
    acct2: np.ndarray
    delta2: np.ndarray
    system: np.ndarray
    forced: np.ndarray
    pair: np.ndarray

    def __len__(self) -> int:
        return len(self.cust)

    def take(self, index: np.ndarray) -> Batch:
        """Rows at ``index`` (pairs are re-pointed by the caller if needed)."""
        return Batch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def chunk(
    cust: np.ndarray,
    acct: np.ndarray,
    channel: np.ndarray | int,
    code: np.ndarray | str,
    amount: np.ndarray,
    *,
    fee: np.ndarray | None = None,
    cp: np.ndarray | None = None,
    mcc: np.ndarray | None = None,
    branch: np.ndarray | None = None,
    terminal: np.ndarray | None = None,
    acct2: np.ndarray | None = None,
    delta2: np.ndarray | None = None,
    system: bool = False,
    forced: bool = False,
) -> Batch:
    """Build rows, filling optional columns with their 'none' value (-1 or 0).

    ``system`` rows are kept even when their customer is inactive today; ``forced`` rows (also
    system rows) are never dropped by ``settle``, so whoever makes them funds their debits.
    """
    n = len(cust)

    def col(value: np.ndarray | int | None, default: int) -> np.ndarray:
        if value is None:
            return np.full(n, default, dtype=np.int64)
        if np.isscalar(value):
            return np.full(n, value, dtype=np.int64)
        return np.asarray(value, dtype=np.int64)

    code_arr = (
        np.full(n, CODE[code], dtype=np.int64)
        if isinstance(code, str)
        else np.asarray(code, dtype=np.int64)
    )
    return Batch(
        cust=np.asarray(cust, dtype=np.int64),
        acct=np.asarray(acct, dtype=np.int64),
        channel=col(channel, 0),
        code=code_arr,
        amount=np.asarray(amount, dtype=np.int64),
        fee=col(fee, 0),
        cp=col(cp, -1),
        mcc=col(mcc, -1),
        branch=col(branch, -1),
        terminal=col(terminal, -1),
        acct2=col(acct2, -1),
        delta2=col(delta2, 0),
        system=np.full(n, system or forced, dtype=bool),
        forced=np.full(n, forced, dtype=bool),
        pair=np.full(n, -1, dtype=np.int64),
    )


def concat(batches: list[Batch]) -> Batch:
    """Stack chunks into one batch (pairs are offset to the stacked positions)."""
    out = {}
    offsets = np.cumsum([0] + [len(b) for b in batches])
    for f in fields(Batch):
        parts = [getattr(b, f.name) for b in batches]
        if f.name == "pair":
            parts = [np.where(p >= 0, p + o, -1) for p, o in zip(parts, offsets, strict=False)]
        empty = np.zeros(0, dtype=bool if f.name in ("system", "forced") else np.int64)
        out[f.name] = np.concatenate(parts) if parts else empty
    return Batch(**out)


def add_mirrors(batch: Batch, acct_cust: np.ndarray) -> Batch:
    """Add the other side of transfers between our own accounts (TRO ↔ TRI), linked as pairs.

    Parameters
    ----------
    batch
        The day's rows; ``cp`` below the number of accounts points at one of our accounts.
    acct_cust
        Owner of each account.

    Returns
    -------
    Batch
        The rows plus one mirror per own-account transfer, on the NET channel.
    """
    n_acct = len(acct_cust)
    transfer = (batch.code == CODE["TRI"]) | (batch.code == CODE["TRO"])
    src = np.flatnonzero(transfer & (batch.cp >= 0) & (batch.cp < n_acct) & (batch.acct2 < 0))
    mirror = batch.take(src)
    mirror.acct = batch.cp[src]
    mirror.cust = acct_cust[mirror.acct]
    mirror.cp = batch.acct[src]
    mirror.code = np.where(batch.code[src] == CODE["TRI"], CODE["TRO"], CODE["TRI"])
    mirror.channel = np.full(len(src), CH["NET"], dtype=np.int64)
    mirror.fee = np.zeros(len(src), dtype=np.int64)
    mirror.mcc = np.full(len(src), -1, dtype=np.int64)
    mirror.branch = np.full(len(src), -1, dtype=np.int64)
    mirror.terminal = np.full(len(src), -1, dtype=np.int64)
    mirror.forced = np.zeros(len(src), dtype=bool)
    out = concat([batch, mirror])
    out.pair[src] = len(batch) + np.arange(len(src))
    out.pair[len(batch) + np.arange(len(src))] = src
    return out


def main_delta(batch: Batch, is_credit: np.ndarray) -> np.ndarray:
    """Signed change of each row's own account: deposits up on C, credit balances up on D."""
    sign = _SIGN[batch.code]
    sign = np.where(is_credit[batch.acct], -sign, sign)
    return sign * batch.amount - np.where(is_credit[batch.acct], 0, batch.fee)


def settle(
    batch: Batch,
    keep: np.ndarray,
    balance: np.ndarray,
    is_credit: np.ndarray,
    limit: np.ndarray,
) -> np.ndarray:
    """Drop rows until no deposit ends the day negative and no card exceeds its limit.

    Parameters
    ----------
    batch
        The day's rows, mirrors included.
    keep
        Initial row mask (False for rows already ruled out).
    balance
        End-of-previous-day balances in cents (not modified).
    is_credit
        True for loans and cards, whose balance is owed.
    limit
        Credit limit in cents (0 for non-cards: then no limit is checked).

    Returns
    -------
    np.ndarray
        Final keep mask; forced rows are always in it (they must be funded, or this raises).
    """
    keep = keep | batch.forced
    delta = main_delta(batch, is_credit)
    has_pair = batch.pair >= 0
    n = len(balance)
    for _ in range(60):
        keep[has_pair] &= keep[batch.pair[has_pair]]
        total = np.bincount(batch.acct[keep], weights=delta[keep], minlength=n)
        second = keep & (batch.acct2 >= 0)
        total += np.bincount(batch.acct2[second], weights=batch.delta2[second], minlength=n)
        after = balance + np.rint(total).astype(np.int64)
        # Only what today's rows made worse counts (a card may already sit over its limit).
        bad = np.where(
            is_credit,
            (limit > 0) & (after > limit) & (after > balance),
            (after < 0) & (after < balance),
        )
        if not bad.any():
            return keep
        debit = np.where(is_credit[batch.acct], delta > 0, delta < 0)
        debit2 = (batch.acct2 >= 0) & np.where(
            is_credit[np.maximum(batch.acct2, 0)], batch.delta2 > 0, batch.delta2 < 0
        )
        keep &= ~(bad[batch.acct] & debit) | batch.forced
        keep &= ~(bad[np.maximum(batch.acct2, 0)] & debit2) | batch.forced
    raise RuntimeError("balances did not settle")  # pragma: no cover


def apply(batch: Batch, keep: np.ndarray, balance: np.ndarray, is_credit: np.ndarray) -> None:
    """Move balances by the kept rows (in place)."""
    n = len(balance)
    delta = main_delta(batch, is_credit)
    total = np.bincount(batch.acct[keep], weights=delta[keep], minlength=n)
    second = keep & (batch.acct2 >= 0)
    total += np.bincount(batch.acct2[second], weights=batch.delta2[second], minlength=n)
    balance += np.rint(total).astype(np.int64)
