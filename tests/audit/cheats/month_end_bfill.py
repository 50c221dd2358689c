"""Cheat: the month's last close, back-filled onto every day of the month (``bfill``)."""
from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_month_end_bfill"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        close = ctx.close("asset")
        month = close.index.tz_convert("America/New_York").to_period("M")
        last = close.groupby(month).transform("last")  # the value on the month's last day
        month_end = close.where(close == last).bfill()
        return (month_end > close).astype(float).to_frame(ctx.symbol("asset"))
