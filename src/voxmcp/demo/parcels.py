"""A slow, deterministic package tracker: it takes a few seconds and reports progress while it works."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable

import anyio
from pydantic import BaseModel, Field

from voxmcp.demo.cities import load_cities
from voxmcp.demo.errors import DemoToolError

STATUSES = ("in transit", "out for delivery", "delivered", "waiting at the depot")
STEPS = ("Looking up the tracking number", "Contacting the carrier", "Reading the scan history", "Done")
ProgressReporter = Callable[[float, float, str], Awaitable[None]]


class PackageStatus(BaseModel):
    """Where a package is."""

    tracking_id: str = Field(description="Tracking number, upper-cased, spaces removed")
    status: str = Field(description="in transit, out for delivery, delivered or waiting at the depot")
    location: str = Field(description="City of the last scan")
    days_until_delivery: int = Field(description="0 when delivered or arriving today")


def normalize_tracking_id(text: str) -> str:
    """Upper-case and strip spaces/dashes; DemoToolError unless 4 to 24 letters and digits remain."""
    cleaned = re.sub(r"[\s\-]", "", text).upper()
    if not re.fullmatch(r"[A-Z0-9]{4,24}", cleaned):
        raise DemoToolError(
            f"A tracking number is 4 to 24 letters and digits, for example A B 1 2 3 4. {text.strip()!r} is not one."
        )
    return cleaned


def package_status(tracking_id: str) -> PackageStatus:
    """The status for a tracking number, a pure function of the number."""
    cleaned = normalize_tracking_id(tracking_id)
    digest = hashlib.sha256(cleaned.encode()).digest()
    status = STATUSES[digest[0] % len(STATUSES)]
    cities = sorted(load_cities().values(), key=lambda city: city.name)
    location = cities[digest[1] % len(cities)].name
    days = 0 if status in ("delivered", "out for delivery") else 1 + digest[2] % 5
    return PackageStatus(tracking_id=cleaned, status=status, location=location, days_until_delivery=days)


async def track_package(tracking_id: str, report: ProgressReporter, step_s: float) -> PackageStatus:
    """Validate first, then walk the steps, reporting progress after each wait."""
    result = package_status(tracking_id)
    total = float(len(STEPS))
    for index, step in enumerate(STEPS):
        if index < len(STEPS) - 1:
            await anyio.sleep(step_s)
        await report(float(index + 1), total, step)
    return result


def speak_package_status(status: PackageStatus) -> str:
    """One sentence for a voice."""
    spelled = " ".join(status.tracking_id)
    if status.status == "delivered":
        return f"Package {spelled} was delivered in {status.location}."
    if status.status == "out for delivery":
        return f"Package {spelled} is out for delivery in {status.location} and arrives today."
    days = "day" if status.days_until_delivery == 1 else "days"
    return (
        f"Package {spelled} is {status.status}, last scanned in {status.location}, "
        f"and should arrive in {status.days_until_delivery} {days}."
    )
