"""CronWorkflow rules, as Argo's ``validate.CronWorkflow`` (``workflow/validate/validate.go``, v4) checks them.

The schedules are parsed the way Argo parses them, with ``cron.ParseStandard`` of robfig/cron v3
(``parser.go``): five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec,
day of week 0-6 or sun-sat; ``*``, ``?``, ranges ``a-b``, steps ``/n``, lists ``,``), or a descriptor
(``@yearly @annually @monthly @weekly @daily @midnight @hourly``, ``@every <Go duration>``), optionally
after ``TZ=<zone> `` or ``CRON_TZ=<zone> ``. croniter accepts more (``7`` for Sunday, ``L``, ``#``, six
fields), so it is not used here. Each error reads as robfig/cron's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Found = Iterator[tuple[str, str]]

MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
DAYS = {name: number for number, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, MONTHS), (0, 6, DAYS))
DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
ATOI = re.compile(r"[+-]?[0-9]+")
GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+)")
INT64_MAX = 2**63 - 1
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
MAX_NAME = 52  # Argo appends a 10-digit timestamp and a dash to each run's name; 63 in all


class ScheduleError(ValueError):
    """A schedule robfig/cron's ParseStandard refuses, with its message."""


def load_location(name: str) -> None:
    """Go's ``time.LoadLocation``: "" and UTC are UTC, Local is the machine's, else an IANA zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name in ("", "UTC", "Local"):
        return
    if ".." in name or name.startswith(("/", "\\")):
        raise ScheduleError("time: invalid location name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {name}") from None


def _atoi(text: str) -> int:
    if not ATOI.fullmatch(text):
        raise ScheduleError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    number = int(text)
    if abs(number) > INT64_MAX:
        raise ScheduleError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": value out of range'
        )
    if number < 0:
        raise ScheduleError(f"negative number ({number}) not allowed: {text}")
    return number


def _int_or_name(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    return _atoi(text)


def _check_range(expression: str, low: int, high: int, names: dict[str, int] | None) -> None:
    """robfig/cron's getRange: ``number | number "-" number [ "/" number ]``, ``*`` or ``?``."""
    range_and_step = expression.split("/")
    bounds = range_and_step[0].split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _int_or_name(bounds[0], names)
        if len(bounds) == 1:
            end = start
        elif len(bounds) == 2:
            end = _int_or_name(bounds[1], names)
        else:
            raise ScheduleError(f"too many hyphens: {expression}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(bounds) == 1:  # "N/step" means "N-max/step"
            end = high
    else:
        raise ScheduleError(f"too many slashes: {expression}")
    if start < low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expression}")
    if end > high:
        raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expression}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expression}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expression}")


def parse_standard(spec: str) -> None:
    """Raise ScheduleError where robfig/cron v3's ``ParseStandard`` returns an error."""
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        zone = spec[spec.index("=") + 1 : space] if space >= 0 else spec[spec.index("=") + 1 :]
        try:
            load_location(zone)
        except ScheduleError as exc:
            raise ScheduleError(f"provided bad location {zone}: {exc}") from None
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in DESCRIPTORS:
            return
        if spec.startswith("@every "):
            duration = spec[len("@every ") :]
            if not GO_DURATION.fullmatch(duration):
                raise ScheduleError(f'failed to parse duration {spec}: time: invalid duration "{duration}"')
            return
        raise ScheduleError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for field, (low, high, names) in zip(fields, FIELDS, strict=True):
        for expression in (part for part in field.split(",") if part):
            _check_range(expression, low, high, names)


def cron_problems(document: dict[str, Any]) -> Found:
    """(path, message) for each rule of ``validate.CronWorkflow`` the CronWorkflow breaks."""
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    name = str(metadata.get("name") or "")
    if len(name) > MAX_NAME:
        yield (
            "metadata.name",
            f'cron workflow name "{name}" must not be more than {MAX_NAME} characters long (currently {len(name)})',
        )
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    schedules = spec.get("schedules") if isinstance(spec.get("schedules"), list) else []
    if not schedules:
        yield "spec.schedules", "cron workflow must have at least one schedule"
    for index, schedule in enumerate(schedules):
        try:
            parse_standard(str(schedule))
        except ScheduleError as exc:
            yield f"spec.schedules[{index}]", f"cron schedule {schedule} is malformed: {exc}"
    timezone = spec.get("timezone")
    if timezone:
        try:
            load_location(str(timezone))
        except ScheduleError as exc:
            yield "spec.timezone", f'invalid timezone "{timezone}": {exc}'
    policy = spec.get("concurrencyPolicy")
    if policy and policy not in CONCURRENCY_POLICIES:
        yield "spec.concurrencyPolicy", f"'{policy}' is not a valid concurrencyPolicy"
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and deadline < 0:
        yield "spec.startingDeadlineSeconds", "startingDeadlineSeconds must be positive"
