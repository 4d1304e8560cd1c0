"""The ``thresher`` command line.

Exit status: 0 success; 2 usage, recipe, input-path or output-path errors (nothing ran);
1 a failed run (its books are still written).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from thresher.errors import (
    AccountingError,
    ConfigError,
    InputError,
    OutputError,
    RunFailedError,
    ThresherError,
)

DEFAULT_RECIPE = "pipelines/default.yaml"


def _offline_environment() -> None:
    # Presidio's tldextract must use its bundled suffix list; HF libraries must not call home.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _check_beam_args(beam_args: Sequence[str]) -> None:
    """Reject options Beam does not know: Beam itself only warns and drops them, which turns
    a typo such as ``--ouput`` into a silently ignored flag."""
    from apache_beam.options.pipeline_options import PipelineOptions

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    seen: set[type] = set()
    stack = list(PipelineOptions.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        try:
            cls._add_argparse_args(parser)  # Beam's own registration hook
        except argparse.ArgumentError:
            pass  # an option registered by two classes
    _, unknown = parser.parse_known_args(list(beam_args))
    flags = [u for u in unknown if u.startswith("-")]
    if flags:
        raise ConfigError(
            f"unknown option(s) {', '.join(flags)}: not a thresher option nor a Beam pipeline "
            "option; see `thresher run --help`"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thresher",
        description="Curate raw text corpora into clean, deduplicated, privacy-safe datasets.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run a curation recipe",
        description="Run a recipe. Options thresher does not know pass to Beam unchanged "
        "(--runner, --direct_num_workers, --project, --temp_location, ...). Without --runner, "
        "thresher uses Beam's FnApiRunner locally (no network).",
        allow_abbrev=False,
    )
    run.add_argument("recipe", nargs="?", default=DEFAULT_RECIPE, help="YAML recipe")
    run.add_argument("--input", action="append", metavar="PATTERN", help="replaces input.paths")
    run.add_argument("--output", metavar="DIR", help="replaces output.path")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key"
    )
    run.add_argument("--overwrite", action="store_true", help="replace a previous output")
    run.add_argument("--quiet", action="store_true", help="no progress lines or summary")

    val = sub.add_parser("validate", help="check a recipe against the schema")
    val.add_argument("recipe")
    val.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    exp = sub.add_parser("explain", help="the full history of one input record")
    exp.add_argument("dir")
    exp.add_argument("record_id")
    exp.add_argument("--json", action="store_true", help="machine-readable output")

    aud = sub.add_parser(
        "audit",
        help="rescan an output for residual PII and measure canary recall",
        description="Rescan kept records with a high-recall configuration (residual PII rate "
        "per entity type, 95%% interval, records to look at by id/type/offset) and inject "
        "synthetic PII into copies of sampled records to measure recall. Results go into the "
        "output's manifest.json under `audit`.",
    )
    aud.add_argument("dir")
    aud.add_argument("--sample", type=int, default=1000, help="records to rescan (default 1000)")
    aud.add_argument("--canaries", type=int, default=100, help="records to plant canaries in")
    aud.add_argument("--seed", type=int, default=0, help="sample seed")
    aud.add_argument("--json", action="store_true", help="print the full result as JSON")

    rid = sub.add_parser(
        "reidentify",
        help="restore encrypted PII values into a new directory (key holders only)",
    )
    rid.add_argument("dir")
    rid.add_argument("--key-file", required=True, help="the key file of the run")
    rid.add_argument("--output", required=True, metavar="DIR", help="new directory to write")

    sch = sub.add_parser("schemas", help="export the Parquet and recipe schemas")
    sch.add_argument("dir", nargs="?", default="schemas")
    return parser


def _load(recipe: str, overrides: Sequence[str], input_paths=None, output=None):
    from thresher.config import load_config

    extra = {}
    if input_paths:
        extra["input.paths"] = list(input_paths)
    if output:
        extra["output.path"] = output
    return load_config(recipe, overrides, extra)


def _cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from thresher.run import print_summary
    from thresher.run import execute

    _check_beam_args(beam_args)
    config = _load(args.recipe, args.set, args.input, args.output)
    if not args.quiet and os.environ.get("THRESHER_PROGRESS") is None:
        os.environ["THRESHER_PROGRESS"] = "1"
    outcome = execute(config, beam_args, overwrite=args.overwrite, recipe_path=args.recipe)
    if not args.quiet:
        print_summary(outcome.manifest)
    if not outcome.succeeded:
        print(f"thresher: run failed: {outcome.manifest['failure']}", file=sys.stderr)
        return 1
    print(f"wrote {config.output.path}", file=sys.stderr)
    return 0


class _QuietBeamNoise(logging.Filter):
    """Drop two Beam warnings that say nothing actionable to a thresher user."""

    _NOISE = ("apitools not found", "requested in with_outputs() but not declared")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(n in msg for n in self._NOISE)


def main(argv: Sequence[str] | None = None) -> int:
    _offline_environment()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietBeamNoise())
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = parser.parse_known_args(argv)
    if args.command != "run" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "run":
            return _cmd_run(args, rest)
        if args.command == "validate":
            cfg = _load(args.recipe, args.set)
            print(f"ok: {args.recipe} is a valid recipe (hash {cfg.recipe_hash()[:12]})")
            return 0
        if args.command == "explain":
            from thresher.explain import explain, render

            story = explain(args.dir, args.record_id)
            print(json.dumps(story, indent=2, default=str) if args.json else render(story))
            return 0
        if args.command == "audit":
            from thresher.pii.audit import audit, render

            result = audit(args.dir, sample=args.sample, canaries=args.canaries, seed=args.seed)
            print(json.dumps(result, indent=2) if args.json else render(result))
            return 0
        if args.command == "reidentify":
            from thresher.pii.reidentify import reidentify

            summary = reidentify(args.dir, args.key_file, args.output)
            print(
                f"restored {summary['values_restored']} values in {summary['records']} records "
                f"into {args.output}"
            )
            return 0
        if args.command == "schemas":
            from thresher.schema import export_schemas

            for path in export_schemas(args.dir):
                print(path)
            return 0
    except (ConfigError, InputError, OutputError) as exc:
        print(f"thresher: {exc}", file=sys.stderr)
        return 2
    except (RunFailedError, AccountingError) as exc:
        print(f"thresher: run failed: {exc}", file=sys.stderr)
        return 1
    except ThresherError as exc:
        print(f"thresher: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
