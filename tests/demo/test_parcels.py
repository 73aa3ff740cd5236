"""The slow package tracker."""

import pytest

from voxmcp.demo.errors import DemoToolError
from voxmcp.demo.parcels import STATUSES, package_status, track_package


def test_status_is_a_pure_function_of_the_tracking_number() -> None:
    first = package_status("ab-12 34")
    assert first == package_status("AB1234")
    assert first.tracking_id == "AB1234"
    assert first.status in STATUSES
    different = {package_status(f"PKG{n:04d}").status for n in range(40)}
    assert len(different) > 1


@pytest.mark.parametrize("bad", ["", "ab", "no way!", "X" * 30])
def test_bad_tracking_number_is_refused(bad: str) -> None:
    with pytest.raises(DemoToolError, match="4 to 24 letters and digits"):
        package_status(bad)


async def test_progress_is_reported_for_each_step() -> None:
    seen: list[tuple[float, float, str]] = []

    async def report(progress: float, total: float, message: str) -> None:
        seen.append((progress, total, message))

    status = await track_package("ZX9876", report, step_s=0.01)
    assert [step[0] for step in seen] == [1.0, 2.0, 3.0, 4.0]
    assert all(step[1] == 4.0 for step in seen)
    assert status == package_status("ZX9876")
