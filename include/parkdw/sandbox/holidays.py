"""The PRC public-holiday calendar over the park's period (2022-09 to 2027-09), as data.

Each row is one holiday period from the State Council General Office's annual notice (国务院办公厅
关于部分节假日安排的通知): the days off, first to last inclusive, and the make-up working days
(调休上班) around it. A business day, on which the CNY central parity is published and business-day
settlement lags count, is a weekday that is not a day off, or a make-up working day.

2027: its notice was not out when this table was written. Assumed: only the statutory days of the
holiday rules in force from 2025 (全国年节及纪念日放假办法: New Year 1 day, Spring Festival 4 days from
New Year's Eve, Qingming 1, Labour Day 2, Dragon Boat 1, Mid-Autumn 1), with statutory days that
fall on a weekend made up on the following weekdays (its article 6) and no 调休 weekend workdays.
Replace the 2027 rows with the notice once it is published.
"""

from __future__ import annotations

from datetime import date, timedelta

# (holiday, first day off, last day off, make-up working days)
HOLIDAY_PERIODS: tuple[tuple[str, date, date, tuple[date, ...]], ...] = (
    # 2022 (国办发明电〔2021〕11号)
    ("Mid-Autumn Festival", date(2022, 9, 10), date(2022, 9, 12), ()),
    ("National Day", date(2022, 10, 1), date(2022, 10, 7), (date(2022, 10, 8), date(2022, 10, 9))),
    # 2023 (国办发明电〔2022〕16号)
    ("New Year's Day", date(2022, 12, 31), date(2023, 1, 2), ()),
    ("Spring Festival", date(2023, 1, 21), date(2023, 1, 27), (date(2023, 1, 28), date(2023, 1, 29))),
    ("Qingming Festival", date(2023, 4, 5), date(2023, 4, 5), ()),
    ("Labour Day", date(2023, 4, 29), date(2023, 5, 3), (date(2023, 4, 23), date(2023, 5, 6))),
    ("Dragon Boat Festival", date(2023, 6, 22), date(2023, 6, 24), (date(2023, 6, 25),)),
    ("Mid-Autumn Festival and National Day", date(2023, 9, 29), date(2023, 10, 6),
     (date(2023, 10, 7), date(2023, 10, 8))),
    # 2024 (国办发明电〔2023〕7号)
    ("New Year's Day", date(2023, 12, 30), date(2024, 1, 1), ()),
    ("Spring Festival", date(2024, 2, 10), date(2024, 2, 17), (date(2024, 2, 4), date(2024, 2, 18))),
    ("Qingming Festival", date(2024, 4, 4), date(2024, 4, 6), (date(2024, 4, 7),)),
    ("Labour Day", date(2024, 5, 1), date(2024, 5, 5), (date(2024, 4, 28), date(2024, 5, 11))),
    ("Dragon Boat Festival", date(2024, 6, 8), date(2024, 6, 10), ()),
    ("Mid-Autumn Festival", date(2024, 9, 15), date(2024, 9, 17), (date(2024, 9, 14),)),
    ("National Day", date(2024, 10, 1), date(2024, 10, 7), (date(2024, 9, 29), date(2024, 10, 12))),
    # 2025 (国办发明电〔2024〕12号; the first year of the longer Spring Festival and Labour Day)
    ("New Year's Day", date(2025, 1, 1), date(2025, 1, 1), ()),
    ("Spring Festival", date(2025, 1, 28), date(2025, 2, 4), (date(2025, 1, 26), date(2025, 2, 8))),
    ("Qingming Festival", date(2025, 4, 4), date(2025, 4, 6), ()),
    ("Labour Day", date(2025, 5, 1), date(2025, 5, 5), (date(2025, 4, 27),)),
    ("Dragon Boat Festival", date(2025, 5, 31), date(2025, 6, 2), ()),
    ("National Day and Mid-Autumn Festival", date(2025, 10, 1), date(2025, 10, 8),
     (date(2025, 9, 28), date(2025, 10, 11))),
    # 2026 (国办发明电〔2025〕7号)
    ("New Year's Day", date(2026, 1, 1), date(2026, 1, 3), (date(2026, 1, 4),)),
    ("Spring Festival", date(2026, 2, 15), date(2026, 2, 23), (date(2026, 2, 14), date(2026, 2, 28))),
    ("Qingming Festival", date(2026, 4, 4), date(2026, 4, 6), ()),
    ("Labour Day", date(2026, 5, 1), date(2026, 5, 5), (date(2026, 5, 9),)),
    ("Dragon Boat Festival", date(2026, 6, 19), date(2026, 6, 21), ()),
    ("Mid-Autumn Festival", date(2026, 9, 25), date(2026, 9, 27), ()),
    ("National Day", date(2026, 10, 1), date(2026, 10, 7), (date(2026, 9, 20), date(2026, 10, 10))),
    # 2027: assumed from the statutory rules (see above), not from a notice.
    ("New Year's Day", date(2027, 1, 1), date(2027, 1, 1), ()),
    ("Spring Festival", date(2027, 2, 5), date(2027, 2, 10), ()),  # Fri-Mon statutory, Sat/Sun made up Tue/Wed
    ("Qingming Festival", date(2027, 4, 5), date(2027, 4, 5), ()),
    ("Labour Day", date(2027, 5, 1), date(2027, 5, 4), ()),  # Sat/Sun statutory, made up Mon/Tue
    ("Dragon Boat Festival", date(2027, 6, 9), date(2027, 6, 9), ()),
    ("Mid-Autumn Festival", date(2027, 9, 15), date(2027, 9, 15), ()),
)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


DAYS_OFF = frozenset(d for _, first, last, _ in HOLIDAY_PERIODS for d in _days(first, last))
MAKEUP_WORKDAYS = frozenset(d for *_, makeup in HOLIDAY_PERIODS for d in makeup)


def is_business_day(day: date) -> bool:
    """A working day in mainland China: a weekday that is no day off, or a weekend make-up working day."""
    return day in MAKEUP_WORKDAYS or (day.weekday() < 5 and day not in DAYS_OFF)
