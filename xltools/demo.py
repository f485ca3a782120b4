"""``xltools demo``: the monthly loop on built-in sample data, with no input needed.

Each step adds files to the demo folder and a line to the summary. Steps are
small functions so that each verb adds its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .commune import default_file_name, new, sample_commune
from .definitions import Definitions, get_definitions

Echo = Callable[[str], None]


@dataclass
class DemoResult:
    folder: Path
    workbook: Path
    files: dict[str, Path] = field(default_factory=dict)  # label -> path
    lines: list[str] = field(default_factory=list)  # summary lines, Vietnamese


def _step_workbook(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    settings, tables = sample_commune(defs=defs)
    if result.workbook.exists():
        result.workbook.unlink()
    new(result.workbook, settings, tables, defs=defs)
    n_reports = len(tables["reports"])
    n_villages = int(tables["villages"]["active"].fillna(True).astype(bool).sum())
    result.files["Sổ theo dõi của xã (mẫu)"] = result.workbook
    result.lines.append(
        f"Đã tạo sổ theo dõi xã {settings['commune_name']}: {n_villages} thôn, {n_reports} báo cáo tháng năm 2023."
    )
    echo(result.lines[-1])


STEPS: list[Callable[[DemoResult, Definitions, Echo], None]] = [_step_workbook]


def run_demo(folder: str | Path = "xltools-demo", echo: Echo = lambda _: None, defs: Definitions | None = None) -> DemoResult:
    """Build the sample commune and run every step of the loop in ``folder``."""
    defs = defs or get_definitions()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    settings_name = default_file_name({"commune_name": "Hồng Thủy"}, defs)
    result = DemoResult(folder=folder, workbook=folder / settings_name)
    for step in STEPS:
        step(result, defs, echo)
    return result
