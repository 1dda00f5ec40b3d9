"""Shared setup of the fault suite: imports and the summary tables."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]
                       / "integration"))

import faultload  # noqa: E402  (needs the path above)



def pytest_terminal_summary(terminalreporter):
    if not faultload.FAULT_ROWS and not faultload.READYZ_ROWS:
        return
    terminalreporter.section("fault suite")
    terminalreporter.write_line(faultload.format_table(faultload.FAULT_ROWS))
    terminalreporter.write_line("")
    terminalreporter.write_line("| change | /readyz 503 after s | "
                                "/readyz 200 after s |")
    terminalreporter.write_line("| --- | --- | --- |")
    for change, down, up in faultload.READYZ_ROWS:
        terminalreporter.write_line(
            f"| {change} | {faultload.seconds_text(down)} | "
            f"{faultload.seconds_text(up)} |")
