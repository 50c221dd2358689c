"""Turn tables labelled with local dates (or bar-open times) into stamped bar frames.

These are the only places where a bar's UTC stamp is decided; every source goes through them.
"""

from __future__ import annotations

import pandas as pd

from backtests.time.calendars import parse_frequency, session_bounds


def daily_bars(table: pd.DataFrame, market: str, close_time: str | None = None) -> pd.DataFrame:
    """Stamp daily bars at their session close in UTC.

    Parameters
    ----------
    table
        Indexed by local session date (naive or date-like), numeric columns.
    market
        Market code whose calendar gives the session open/close.
    close_time
        Local ``HH:MM`` at which the value is known, when it is not the session close (a fixing
        such as FRED's DEXKOUS, the New York noon rate). On a date where that time falls in a
        daylight-saving gap or repeated hour, :class:`~backtests.time.calendars.LocalTimeError`
        (row = the date's position) is raised: the instant is not guessed.

    Returns
    -------
    pandas.DataFrame
        Same columns plus ``open_time``, indexed by the UTC close stamp (name ``time``).
    """
    dates = pd.DatetimeIndex(pd.to_datetime(table.index)).tz_localize(None).normalize()
    opens, closes = session_bounds(market, dates)
    if close_time is not None:
        from backtests.time.calendars import get_market, localize

        h, m = (int(x) for x in close_time.split(":"))
        local = dates + pd.Timedelta(hours=h, minutes=m)
        closes = localize(local, get_market(market).tz)  # a DST gap or repeated hour: LocalTimeError
    out = table.copy()
    out.index = pd.DatetimeIndex(closes, name="time").as_unit("ns")
    out["open_time"] = pd.DatetimeIndex(opens).as_unit("ns")
    return out


def intraday_bars(table: pd.DataFrame, freq: str, stamped_at: str = "open") -> pd.DataFrame:
    """Stamp intraday bars at their end in UTC.

    Parameters
    ----------
    table
        Indexed by tz-aware (or UTC-naive) bar times.
    freq
        Bar length (``5min``, ``4h``).
    stamped_at
        ``open`` when the input labels bars by their start (CoinGlass, ccxt), ``close`` when by
        their end.
    """
    bar = parse_frequency(freq)
    if bar is None:
        raise ValueError("intraday_bars needs an intraday frequency")
    idx = pd.DatetimeIndex(pd.to_datetime(table.index))
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    starts = idx if stamped_at == "open" else idx - bar
    out = table.copy()
    out.index = pd.DatetimeIndex(starts + bar, name="time").as_unit("ns")
    out["open_time"] = pd.DatetimeIndex(starts).as_unit("ns")
    return out


def utc_open_bars(table: pd.DataFrame, freq: str, market: str = "CRYPTO") -> pd.DataFrame:
    """Stamp bars labelled by their UTC *open* time (ccxt, CoinGlass) at the frequency ``freq``.

    Daily bars (``1D``) are UTC days: the day's label is its date and it is stamped at its session
    close (for crypto, the next midnight UTC); intraday bars are stamped at their end.
    """
    from backtests.time.calendars import parse_frequency

    if parse_frequency(freq) is None:
        idx = pd.DatetimeIndex(table.index)
        out = table.set_axis(idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx)
        return daily_bars(out, market)
    return intraday_bars(table, freq, stamped_at="open")
