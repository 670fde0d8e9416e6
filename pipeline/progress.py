"""A run's progress as it goes: the file beside the warehouse that ``cvp status`` reads while
the run holds the warehouse, and a bar on a terminal.

``<warehouse>.progress.json`` says which run (``run_id``, as in ``run_ledger``), its pid and
command, the date it is on (N of M), the stage running and since when, and the last stage
finished. It is replaced whole at each step (written aside, then renamed: a reader never sees
half of it), has the mode of cvp's other private files (0600, or 0640 with
``privacy.group_readable``) and is removed when the run ends, failed or not. A run killed
outright (kill -9, the machine down) leaves it behind; :func:`read_progress` then says it is
not alive: its pid is gone, or the warehouse's lock is free (a run holds the lock as long as
it writes the file, so a reused pid does not pass for the run).

The bar (``rich``) is drawn only when the command logs text to a terminal: never under cron,
never with JSON logs.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.config import Config
from pipeline.privacy import modes


def progress_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".progress.json")


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class RunProgress:
    """Tell the progress file (and the bar, with ``bar``) where a run is; a context manager
    that removes the file when the run ends."""

    def __init__(self, cfg: Config, run_id: str, command: str, bar: bool = False) -> None:
        self.path = progress_path(cfg.paths.warehouse)
        self.mode = modes(cfg)[0]
        self.dates: list[date] = []
        self.stages: list[str] = []
        self.state: dict[str, Any] = {
            "run_id": run_id,
            "pid": os.getpid(),
            "command": command,
            "started_at": _now(),
            "date_number": None,
            "dates_total": None,
            "business_date": None,
            "stage": None,
            "stage_started_at": None,
            "last_finished": None,
        }
        self._bar: Any = None
        self._task: Any = None
        if bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> RunProgress:
        self._write()
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("starting", total=None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        self.path.unlink(missing_ok=True)

    def plan(self, dates: list[date], stages: list[str]) -> None:
        """The dates and stages the run goes through (M = ``len(dates)``)."""
        self.dates, self.stages = list(dates), list(stages)
        self.state["dates_total"] = len(self.dates)
        self._write()
        if self._bar is not None:
            self._bar.update(self._task, total=len(self.dates) * max(len(self.stages), 1))

    def stage_started(self, stage: str, day: date) -> None:
        number = self.dates.index(day) + 1 if day in self.dates else None
        self.state.update(
            date_number=number,
            business_date=day.isoformat(),
            stage=stage,
            stage_started_at=_now(),
        )
        self._write()
        if self._bar is not None:
            where = f"date {number} of {len(self.dates)}: " if number else ""
            self._bar.update(self._task, description=f"{where}{day} {stage}")

    def stage_finished(self, stage: str, day: date, outcome: str) -> None:
        self.state.update(
            stage=None,
            stage_started_at=None,
            last_finished={
                "stage": stage,
                "business_date": day.isoformat(),
                "outcome": outcome,
                "ended_at": _now(),
            },
        )
        self._write()
        if self._bar is not None and day in self.dates and stage in self.stages:
            done = self.dates.index(day) * len(self.stages) + self.stages.index(stage) + 1
            self._bar.update(self._task, completed=done)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.state["updated_at"] = _now()
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            os.fchmod(fd, self.mode)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.state, out, ensure_ascii=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _lock_held(lock: Path) -> bool:
    """Whether a process holds the warehouse's lock (taken and let go at once when free)."""
    from filelock import FileLock, Timeout

    if not lock.exists():
        return False
    probe = FileLock(str(lock), timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:  # cannot open it (another user's): the pid alone decides
        return True
    probe.release()
    return False


def read_progress(cfg: Config) -> dict[str, Any] | None:
    """The progress file of the warehouse's run, with ``alive``: whether that run is still
    going; None when there is none (or it cannot be read: it is gone the moment after)."""
    from pipeline.warehouse import lock_path

    try:
        state = json.loads(progress_path(cfg.paths.warehouse).read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    state["alive"] = _pid_alive(pid) and _lock_held(lock_path(cfg))
    if not state["alive"] and not progress_path(cfg.paths.warehouse).exists():
        return None  # it ended meanwhile: a run removes its file before it lets the lock go
    return dict(state)


def render_progress(state: dict[str, Any], warehouse: Path) -> str:
    """What ``cvp status`` says of a progress file: a run going, or one that stopped."""
    where = "starting (opening the warehouse)"
    if state.get("business_date"):
        where = (
            f"date {state['date_number']} of {state['dates_total']}: "
            if state.get("date_number")
            else ""
        ) + str(state["business_date"])
        where += (
            f", stage {state['stage']} running since {state['stage_started_at']}"
            if state.get("stage")
            else ", between stages"
        )
    last = state.get("last_finished")
    done = (
        f"last finished: {last['stage']} for {last['business_date']} ({last['outcome']}, "
        f"{last['ended_at']})"
        if last
        else "no stage finished yet"
    )
    who = (
        f"run {state['run_id']} (pid {state['pid']}, `{state['command']}`, started "
        f"{state['started_at']})"
    )
    if state["alive"]:
        return "\n".join(
            [
                f"warehouse {warehouse} is held by {who}: this is that run's live progress "
                "(its progress file), not the warehouse's status",
                f"  now: {where}",
                f"  {done}",
                "`cvp status` shows the dates again once the run has finished",
            ]
        )
    return "\n".join(
        [
            f"{who} is no longer running (killed or crashed) but left its progress file: "
            f"it stopped at {where}; {done}. The next run replaces the file; run_ledger "
            f"keeps what it did (run_id {state['run_id']})",
        ]
    )
