"""A stacked bar chart as numbers for an inline SVG: no JavaScript, no chart library.

One bar per day, one coloured segment per model; the template draws rectangles and a
legend, and a table beside it carries the same figures for screen readers.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

COLOURS = ["#2458d6", "#067647", "#b54708", "#7a2e9e", "#b42318", "#0e7090", "#5b6475"]
HEIGHT, BAR_WIDTH, GAP = 160, 14, 4


@dataclass
class Segment:
    model: str
    value: Decimal | int
    y: float
    height: float
    colour: str


@dataclass
class Bar:
    day: date
    x: int
    total: Decimal | int
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Chart:
    bars: list[Bar]
    legend: list[tuple[str, str]]  # (model, colour)
    maximum: Decimal | int
    width: int
    height: int = HEIGHT

    @property
    def half(self) -> Decimal | float:
        """The value at the middle of the vertical axis."""
        return self.maximum / 2

    @property
    def days(self) -> list[date]:
        """The dates under the horizontal axis: first, middle and last day."""
        if not self.bars:
            return []
        return [self.bars[0].day, self.bars[len(self.bars) // 2].day, self.bars[-1].day]


def stacked_by_day(rows, *, value, days: int, today: date) -> Chart:
    """``rows`` have ``day`` and ``model``; ``value(row)`` is what each segment measures."""
    per_day: dict[date, dict[str, Decimal | int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        per_day[row.day][row.model] += value(row)
    models = sorted({row.model for row in rows})
    colour = {model: COLOURS[i % len(COLOURS)] for i, model in enumerate(models)}
    span = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    maximum = max((sum(per_day[day].values()) for day in span), default=0) or 1
    bars = [_bar(day, i, per_day[day], colour, maximum) for i, day in enumerate(span)]
    return Chart(bars, [(m, colour[m]) for m in models], maximum, len(span) * (BAR_WIDTH + GAP))


def _bar(day: date, index: int, values: dict, colour: dict, maximum) -> Bar:
    bar = Bar(day=day, x=index * (BAR_WIDTH + GAP), total=sum(values.values()))
    top: float = HEIGHT
    for model in sorted(values):
        height = float(values[model]) / float(maximum) * HEIGHT
        top -= height
        bar.segments.append(Segment(model, values[model], round(top, 2), round(height, 2),
                                    colour[model]))  # fmt: skip
    return bar
