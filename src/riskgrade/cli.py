"""The command line of CONTRACT.md: ``grade``, ``explain``, ``check``, ``schema``, ``demo``.

Exit codes: 0 success; 2 bad input (a record, a file, an argument); 3 a bad rule pack. Errors
go to standard error and name the file, the line and the field. Output files are written to a
temporary file beside the target and renamed into place only on success, so a failure never
leaves a partial file behind. Further subcommands live in their own modules and register
themselves through :data:`SUBCOMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TextIO

from riskgrade.compiled import RulePack, load_pack
from riskgrade.dates import parse_date
from riskgrade.errors import InputError, RiskgradeError
from riskgrade.grading import ENGINES, Grader
from riskgrade.records import RecordSet, load_records

__all__ = ["SUBCOMMAND_MODULES", "atomic_output", "main"]

#: Modules with a ``register(subparsers)`` function adding more subcommands.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "riskgrade._cli_report",
    "riskgrade._cli_ledger",
    "riskgrade._cli_export",
    "riskgrade._cli_diff",
)

EPILOG = """\
examples:
  riskgrade demo
  riskgrade check rules/zhuji
  riskgrade grade --pack rules/zhuji --enterprises ents.jsonl --events events.jsonl \\
      --as-of 2009-07-01 --out decisions.jsonl
  riskgrade explain --pack rules/zhuji --enterprises ents.jsonl --events events.jsonl \\
      --id E000123 --as-of 2009-07-01 --lang zh
  riskgrade report --pack zhuji --enterprises ents.jsonl --events events.jsonl --out report.html
  riskgrade ledger init bureau.db --pack zhuji      (then: ledger record / grade / due / verify)

--pack takes a folder or a shipped pack's name: zhuji, cn-2016, uk-fhrs.
`riskgrade COMMAND --help` explains each command.

exit codes: 0 success; 2 bad input (record, file, argument); 3 bad rule pack;
            4 a ledger that fails verification
"""


def default_pack_dir() -> Path:
    """Return the folder of the shipped default pack, ``zhuji``."""
    return builtin_pack("zhuji")


def builtin_pack(name: str) -> Path:
    """Return the folder of a pack shipped with riskgrade (``zhuji``, ``cn-2016``, ``uk-fhrs``)."""
    from importlib import resources

    here = Path(__file__).resolve().parent
    for candidate in (here / "rules" / name, here.parent.parent / "rules" / name):
        if (candidate / "pack.yaml").is_file():
            return candidate
    packaged = resources.files("riskgrade").joinpath("rules", name)
    return Path(str(packaged))


BUILTIN_PACKS = ("zhuji", "cn-2016", "uk-fhrs")


def resolve_pack(text: str, *, option: str = "--pack") -> Path:
    """Return a pack folder from a path, or from the name of a shipped pack (``zhuji``, ...)."""
    path = Path(text)
    if path.is_dir():
        return path
    if text in BUILTIN_PACKS and (builtin_pack(text) / "pack.yaml").is_file():
        return builtin_pack(text)
    import difflib

    close = difflib.get_close_matches(text, BUILTIN_PACKS, n=1)
    msg = f"no rule pack folder {text!r} (nor a shipped pack: {', '.join(BUILTIN_PACKS)})"
    raise InputError(msg, field=option, suggestion=close[0] if close else None)


def open_pack(text: str, *, option: str = "--pack") -> RulePack:
    """Load the pack named by a command-line argument (a folder or a shipped pack's name)."""
    return load_pack(resolve_pack(text, option=option))


def as_of_date(text: str | None) -> dt.date:
    """Parse ``--as-of`` (default: today)."""
    if text is None:
        return dt.date.today()
    try:
        return parse_date(text)
    except ValueError as exc:
        raise InputError(str(exc), field="--as-of") from None


@contextlib.contextmanager
def atomic_output(path: str | None) -> Iterator[TextIO]:
    """Yield a text stream for ``path`` (standard output when None), committed only on success."""
    if path is None or path == "-":
        buffer: list[str] = []

        class _Buffer:
            def write(self, text: str) -> int:
                buffer.append(text)
                return len(text)

        yield _Buffer()  # type: ignore[misc]
        sys.stdout.write("".join(buffer))
        sys.stdout.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        msg = "the folder of the output file does not exist"
        raise InputError(msg, file=str(target), field="--out")
    # Created like any file the user writes (mode 0666 less the umask), not 0600 as a
    # temporary file would be; closed before it is renamed into place.
    temporary = directory / f".{target.name}.{secrets.token_hex(8)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    handle = os.fdopen(descriptor, "w", encoding="utf-8")
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class Progress:
    """A one-line progress counter on standard error, shown only on a terminal or when asked."""

    def __init__(
        self, total: int, label: str, *, enabled: bool | None = None, stream: IO[str] | None = None
    ):
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.step = max(1, total // 100)

    def __call__(self, done: int) -> None:
        if self.enabled and (done % self.step == 0 or done == self.total):
            percent = 100 * done // max(1, self.total)
            self.stream.write(f"\r{self.label}: {done}/{self.total} ({percent}%)")
            if done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def _load(args: argparse.Namespace) -> tuple[RulePack, RecordSet]:
    pack = open_pack(args.pack)
    records = load_records(args.enterprises, args.events)
    check_schemes(pack, records)
    return pack, records


def check_schemes(pack: RulePack, records: RecordSet) -> None:
    """Check every enterprise against its scheme up front, naming its file and line."""
    for enterprise in records.enterprises:
        try:
            scheme = pack.scheme_for(enterprise)
            scheme.check_enterprise(enterprise)
        except InputError as exc:
            file, line = records.locations.get(f"enterprise:{enterprise.id}", (None, None))
            raise InputError(
                exc.message, file=file, line=line, field=exc.field, suggestion=exc.suggestion
            ) from None


def _cmd_grade(args: argparse.Namespace) -> int:
    if args.engine in ("numpy", "auto") and _grade_columns(args):
        return 0
    pack, records = _load(args)
    grader = Grader(pack, engine=args.engine, lang=args.lang)
    as_of = as_of_date(args.as_of)
    progress = Progress(len(records.enterprises), "grading", enabled=args.progress)
    with atomic_output(args.out) as out:
        for decision in grader.iter_grade(records, as_of, progress=progress):
            out.write(decision.to_json() + "\n")
    return 0


def _grade_columns(args: argparse.Namespace) -> bool:
    """``grade`` with the numpy engine, the files read straight into columns (no object per
    record); False where the native path should run instead (``auto`` on a small population
    or a pack the engine refuses, or an ``--as-of`` the native path reports in its turn)."""
    from riskgrade.batch import grade_files, tune_allocator

    tune_allocator()  # process-wide (glibc mallopt): set by this command, never on import
    pack = open_pack(args.pack)
    try:
        as_of = as_of_date(args.as_of)
    except InputError:
        return False  # reported after the records' errors, as the native path does
    enabled = sys.stderr.isatty() if args.progress is None else bool(args.progress)
    bars: dict[int, Progress] = {}

    def writing(done: int, total: int) -> None:
        bars.setdefault(total, Progress(total, "writing", enabled=enabled))(done)

    def percent(label: str, done: int, total: int) -> None:
        line = f"{label}: {100 * done // max(1, total)}%"
        sys.stderr.write(f"\r{line:<40}")  # padded: it overwrites a longer line before it
        if done >= total and label == "grading":
            sys.stderr.write("\n")
        sys.stderr.flush()

    def reading(name: str, done: int, total: int) -> None:
        percent(f"reading {Path(name).name}", done, total)

    def grading(done: int, total: int) -> None:
        percent("grading", done, total)

    class _Native(Exception):  # noqa: N818 - a signal: no output file is committed
        pass

    try:
        with atomic_output(args.out) as out:
            written = grade_files(
                pack,
                args.enterprises,
                args.events,
                as_of,
                out,
                lang=args.lang,
                progress=writing,
                read_progress=reading if enabled else None,
                grade_progress=grading if enabled else None,
                engine=args.engine,
            )
            if written is None:
                raise _Native  # noqa: TRY301 - leaves no output file behind
    except _Native:
        return False
    return True


def _cmd_explain(args: argparse.Namespace) -> int:
    pack, records = _load(args)
    try:
        enterprise = records.enterprise(args.id)
    except KeyError:
        import difflib

        close = difflib.get_close_matches(args.id, [e.id for e in records.enterprises], n=1)
        msg = f"no enterprise with id {args.id!r} in the enterprises file"
        raise InputError(
            msg, file=args.enterprises, field="--id", suggestion=close[0] if close else None
        ) from None
    grader = Grader(pack, engine=args.engine, lang=args.lang)
    explanation = grader.explain(
        enterprise, records.events_of(enterprise.id), as_of_date(args.as_of)
    )
    if args.json:
        sys.stdout.write(explanation.decision.to_json() + "\n")
    else:
        sys.stdout.write(explanation.render(args.lang))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    pack = open_pack(args.dir, option="DIR")
    schemes = ", ".join(f"{name} ({' < '.join(s.levels)})" for name, s in pack.schemes.items())
    sys.stdout.write(
        f"ok: pack {pack.ref.id} {pack.ref.version} {pack.ref.digest}\n  schemes: {schemes}\n"
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from riskgrade.packs import pack_json_schema
    from riskgrade.records import record_json_schema

    if args.write is not None:
        folder = Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        packs, records = pack_json_schema(), record_json_schema()
        files = {
            "pack.schema.json": packs["pack.yaml"],
            "scheme.schema.json": packs["scheme"],
            "enterprise.schema.json": records["enterprise"],
            "event.schema.json": records["event"],
        }
        for name, content in files.items():
            with atomic_output(str(folder / name)) as out:
                out.write(json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        sys.stdout.write(f"wrote {', '.join(str(folder / n) for n in files)}\n")
        return 0
    if args.what == "pack":
        schema: object = pack_json_schema()
    else:
        schema = record_json_schema()
    sys.stdout.write(json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from riskgrade.demo import run_demo

    return run_demo(out_dir=args.out_dir, as_of=args.as_of, lang=args.lang, seed=args.seed)


def add_records_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--pack --enterprises --events --as-of --engine --lang``, shared by subcommands."""
    parser.add_argument(
        "--pack",
        required=True,
        metavar="DIR",
        help="rule pack folder, or a shipped pack's name (zhuji, cn-2016, uk-fhrs)",
    )
    parser.add_argument(
        "--enterprises", required=True, metavar="FILE", help="enterprises, JSON Lines"
    )
    parser.add_argument(
        "--events", required=True, metavar="FILE", help="events, JSON Lines (any order)"
    )
    parser.add_argument(
        "--as-of", metavar="DATE", help="grade as of this date, YYYY-MM-DD (default: today)"
    )
    parser.add_argument(
        "--engine",
        default="python",
        choices=ENGINES,
        help="evaluator; all give identical decisions (default: python; for grade: auto, "
        "which is numpy from 2,000 enterprises on)",
    )
    parser.add_argument(
        "--lang", default="en", choices=("en", "zh"), help="language of texts (default: en)"
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser (also used to render help text in the docs)."""
    parser = argparse.ArgumentParser(
        prog="riskgrade",
        description="Grade supervised enterprises from their spot-check and enforcement records "
        "with declarative rule packs, and say why.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = sub.add_parser(
        "grade",
        help="grade every enterprise; one decision per line (JSON Lines)",
        description="Grade every enterprise as of a date; write one decision per enterprise, "
        "in input order.",
    )
    add_records_arguments(grade)
    grade.set_defaults(engine="auto")  # numpy from 2,000 enterprises on (docs/batch.md)
    grade.add_argument(
        "--out", metavar="FILE", help="write here instead of standard output (atomically)"
    )
    grade.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on standard error (default: when it is a terminal)",
    )
    grade.set_defaults(handler=_cmd_grade)

    explain = sub.add_parser(
        "explain",
        help="explain one enterprise's grade for a person",
        description="Print the level, each reason with its evidence, the transition and its cause, "
        "the treatment, the timeline of re-grades and what stands before the next better level.",
    )
    add_records_arguments(explain)
    explain.add_argument("--id", required=True, metavar="ENTERPRISE", help="the enterprise's id")
    explain.add_argument("--json", action="store_true", help="print the decision as JSON instead")
    explain.set_defaults(handler=_cmd_explain)

    check = sub.add_parser(
        "check",
        help="validate and compile a rule pack (exit 3 if it is bad)",
        description="Validate a rule pack folder: schema, expressions, bands, levels.",
    )
    check.add_argument("dir", metavar="DIR", help="rule pack folder")
    check.set_defaults(handler=_cmd_check)

    schema = sub.add_parser(
        "schema",
        help="print JSON Schemas (records, or rule pack files)",
        description="Print the JSON Schema of the input records (default) or of rule pack files.",
    )
    schema.add_argument("what", nargs="?", default="records", choices=("records", "pack"))
    schema.add_argument(
        "--write", metavar="DIR", help="write all four schemas as files into DIR (e.g. schemas/)"
    )
    schema.set_defaults(handler=_cmd_schema)

    demo = sub.add_parser(
        "demo",
        help="grade a synthetic county end to end",
        description="Generate a synthetic county (about 400 enterprises in about 60 grids, "
        "three years of records), grade it with the default pack and print a summary.",
    )
    demo.add_argument(
        "--out-dir",
        metavar="DIR",
        default="riskgrade-demo",
        help="where to write the files (default: ./riskgrade-demo)",
    )
    demo.add_argument(
        "--as-of", metavar="DATE", default="2009-07-01", help="grading date (default: 2009-07-01)"
    )
    demo.add_argument("--lang", default="en", choices=("en", "zh"))
    demo.add_argument("--seed", type=int, default=2009)
    demo.set_defaults(handler=_cmd_demo)

    for module_name in SUBCOMMAND_MODULES:
        module = importlib.import_module(module_name)
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = (
            module.register
        )
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except RiskgradeError as exc:
        sys.stderr.write(f"riskgrade: error: {exc.describe()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        # Output files are only renamed into place on success; what a ledger committed stays.
        sys.stderr.write("riskgrade: interrupted (no partial output file was left behind)\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other command-line tools do.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
