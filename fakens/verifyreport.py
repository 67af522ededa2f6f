"""The report of ``fakens lab verify``: one Result per expectation, a Report per lab run, JUnit XML.

    report = Report("io-outage", fixed=False)
    report.results.append(Result("kresd", "fresh resolutions that fail", "18/60 = 0.30", "0.1..0.5", True))
    report.text()          # the table verify prints
    junit_xml([report])    # for CI systems
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree


@dataclass
class Result:
    """One expectation: what it says, what was observed, whether it held."""

    tool: str
    what: str
    observed: str
    bounds: str
    ok: bool

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.tool}: {self.what}: {self.observed} (expected {self.bounds})"


@dataclass
class Report:
    lab: str
    fixed: bool
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    """The version of each tool run ("kresd": "5.6.0")."""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def title(self) -> str:
        return f"{self.lab}{' --fix' if self.fixed else ''}"

    def as_json(self) -> dict[str, Any]:
        """The report as ``--json`` writes it (one object per lab run)."""
        return {"lab": self.lab, "fixed": self.fixed, "ok": self.ok, "notes": list(self.notes),
                "versions": dict(self.versions),
                "results": [{"tool": r.tool, "what": r.what, "observed": r.observed, "expected": r.bounds, "ok": r.ok}
                            for r in self.results]}

    def text(self) -> str:
        head = f"fakens lab verify {self.title}"
        lines = [head, *[f"  {n}" for n in self.notes], *[str(r) for r in self.results]]
        passed = sum(r.ok for r in self.results)
        lines.append(f"{passed}/{len(self.results)} expectations hold: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


def junit_xml(reports: Sequence[Report]) -> str:
    """JUnit XML for CI systems: a testsuite per lab run, a testcase per expectation
    (classname the tool), a failure where it did not hold::

        <testsuites><testsuite name="rfc1912" tests="12" failures="0"><testcase classname="zonecheck" ...
    """
    root = ElementTree.Element("testsuites", name="fakens lab verify", tests=str(sum(len(r.results) for r in reports)),
                               failures=str(sum(not x.ok for r in reports for x in r.results)))
    for report in reports:
        suite = ElementTree.SubElement(root, "testsuite", name=report.title, tests=str(len(report.results)),
                                       failures=str(sum(not x.ok for x in report.results)))
        if report.notes:
            ElementTree.SubElement(suite, "system-out").text = "\n".join(report.notes)
        for result in report.results:
            case = ElementTree.SubElement(suite, "testcase", classname=f"{report.title}.{result.tool}", name=result.what)
            if not result.ok:
                failure = ElementTree.SubElement(case, "failure", message=f"observed {result.observed}, "
                                                                          f"expected {result.bounds}")
                failure.text = str(result)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
