"""``riskgrade export --format durable DIR``: a pack's conditions as durable-rules rulesets.

Registered through :data:`riskgrade.cli.SUBCOMMAND_MODULES`. Prints (or writes atomically with
``--out``) one JSON document: the rulesets, ready for a durable-rules host, and the fields of the
facts they match. Needs no durable-rules installation. Exit code 3 when the pack is bad or cannot
run on durable-rules (the error names the rule).
"""

from __future__ import annotations

import argparse
import json

from riskgrade.cli import atomic_output, open_pack

__all__ = ["register"]

FORMATS = ("durable",)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="export a pack's rule conditions for another rule engine (durable-rules)",
        description="Print a rule pack's conditions (class rules, overrides, floors, flags, "
        "requirements, condition terms) as durable-rules 2.0.28 JSON rulesets, with the fields "
        "of the facts they match. Exit 3 if the pack cannot run on that engine.",
    )
    parser.add_argument(
        "--format", required=True, choices=FORMATS, help="the target engine's format"
    )
    parser.add_argument(
        "dir", metavar="DIR", help="rule pack folder, or a shipped pack's name (zhuji, ...)"
    )
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    parser.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from riskgrade.durable import export_rulesets

    pack = open_pack(args.dir, option="DIR")
    document = export_rulesets(pack)
    with atomic_output(args.out) as out:
        out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    return 0
