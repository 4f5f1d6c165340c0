"""`minimal-nst batch`'s command line: a single run's options, each with any number of values.

The jobs are the product of every value of every option (contents and styles given as files,
folders or globs), or the rows of a manifest (CSV, one job per row, columns named as the
options). Each job's options are then read by the single run's own parser, so that they mean
the same and fail the same way; a mistake there stops the batch before any work (exit 2).
"""

import csv
import glob
import itertools
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..app.options import PROG, HelpFormatter, Parser, UsageError, build_parser, options, parse_args
from ..app.probes import probing
from ..transfer import STARTS
from .jobs import Job, safe_name, unique_names

SINGLE_ONLY = {"help", "output", "overwrite", "save_every", "print_every", "preview"}
PATHS = {"content", "style", "init", "content_masks", "style_masks", "content_weight_mask"}
IMAGES = {"content", "style"}  # a folder or a glob stands for the images in it
NAME_COLUMNS = ("output", "name")  # a manifest's column that names each job
DESCRIPTION = (
    "Many style transfers at once on Dask: a local cluster by default, or a running scheduler. "
    "Each option takes several values and the jobs are their product (a value for an option "
    "that takes several, like --style-blend-weights, is quoted: '1 3'); or a --manifest."
)


@dataclass(frozen=True)
class Kind:
    """What a batch repeats: a single run of `minimal-nst` (IMAGES_KIND) or of `minimal-nst video`.

    parser(): the single run's parser; single_only: its options a batch does not take;
    expand: {dest: fn(value, action)}, the values a folder or a glob stands for;
    make(parsed, name): a job from one row of options, as the single run's parser read them."""

    prog: str
    description: str
    outputs: str  # what --output-dir gets, for its help
    parser: Callable
    make: Callable
    single_only: frozenset = frozenset(SINGLE_ONLY)
    expand: dict = field(default_factory=dict)


def build_batch_parser(kind=None):
    """The batch's own options, then every option of a single run taking several values."""
    kind = kind or IMAGES_KIND
    p = Parser(prog=kind.prog, description=kind.description, formatter_class=HelpFormatter)
    a = p.add_argument_group("the batch").add_argument
    a("--manifest", help="CSV, one job per row, columns named as the options (content, style...)")
    a("--output-dir", default="stylized", help=kind.outputs)
    a("--overwrite", action="store_true", help="replace files minimal-nst did not make")
    a("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default: a local cluster)")
    a("--workers", type=int, help="worker processes of the local cluster (default: as measured)")
    group = p.add_argument_group("a single run's options: several values, one job each")
    for action in single_options(kind):
        metavar = action.metavar or action.dest.upper()
        group.add_argument(*action.option_strings, dest=action.dest, nargs="+", metavar=metavar,
                           action="extend", help=action.help)  # fmt: skip
    return p


def single_options(kind=None):
    kind = kind or IMAGES_KIND
    actions = kind.parser()._actions
    return [a for a in actions if a.option_strings and a.dest not in kind.single_only]


def jobs_from_args(args, kind=None):
    """The batch's jobs (kind.make's: a jobs.Job for IMAGES_KIND), named from what varies."""
    kind = kind or IMAGES_KIND
    flags = {a.dest: a for a in single_options(kind)}
    given = {dest: getattr(args, dest) for dest in flags if getattr(args, dest) is not None}
    if args.manifest:
        rows, names = manifest_rows(Path(args.manifest), given, flags)
    else:
        choices = [[(d, c) for c in alternatives(d, v, flags[d], kind)] for d, v in given.items()]
        rows, names = [dict(combo) for combo in itertools.product(*choices)], None
    names = unique_names(names or job_names(rows, flags))
    where = f"--manifest {args.manifest}, job " if args.manifest else ""
    return [make_job(row, name, flags, where, kind) for row, name in zip(rows, names)]


def alternatives(dest, values, action, kind):
    """The command line's values of one option as a list of token tuples, one per job."""
    if dest in kind.expand:
        return [(path,) for value in values for path in kind.expand[dest](value, action)]
    return [tuple(tokens(value, action)) for value in values]


def tokens(value, action):
    """An option's value as argument tokens: split like a shell for an option taking several."""
    return shlex.split(value) if action.nargs in ("+", "*") else [value]


def expand_images(value, action):
    """A folder: the images in it; a glob: the files it matches; else the value as it is."""
    flag = action.option_strings[0]
    with probing(UsageError, f"{flag} {value}"):
        return _expand(Path(value).expanduser(), value, flag)


def _expand(path, value, flag):
    if path.is_dir():
        from PIL import Image

        suffixes = {s for s, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
        found = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in suffixes)
        if not found:
            raise UsageError(f"{flag} {value}: no image in this folder")
        return found
    if glob.has_magic(value):
        found = sorted(p for p in glob.glob(str(path)) if Path(p).is_file())
        if not found:
            raise UsageError(f"{flag} {value}: no file matches")
        return found
    return [value]


def manifest_rows(path, given, flags):
    """(rows, names or None) of a manifest; options on the command line apply to every row."""
    by_name = {a.option_strings[0].lstrip("-"): dest for dest, a in flags.items()}
    by_name.update({dest.replace("_", "-"): dest for dest in flags})
    table = read_manifest(path)
    columns = [c.strip().lstrip("-").replace("_", "-") for c in table[0]]
    for column in columns:
        if column not in by_name and column not in NAME_COLUMNS:
            raise UsageError(f"--manifest {path}: unknown column {column!r}")
    for dest, values in given.items():
        if len(values) > 1:
            raise UsageError(f"with --manifest, {flags[dest].option_strings[0]} takes one value")
    rows, names = [], []
    for cells in table[1:]:
        row = {dest: tokens(v[0], flags[dest]) for dest, v in given.items()}
        for column, cell in zip(columns, cells):
            if cell.strip() and column in NAME_COLUMNS:
                names.append(safe_name(Path(cell.strip()).stem))
            elif cell.strip():
                dest = by_name[column]
                row[dest] = [relative_to(path.parent, t, dest) for t in tokens(cell, flags[dest])]
        rows.append(row)
    if not rows:
        raise UsageError(f"--manifest {path}: no jobs (a header and no rows)")
    return rows, names if len(names) == len(rows) else None


def read_manifest(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"--manifest {path}: cannot read it ({e})") from None
    if not table:
        raise UsageError(f"--manifest {path}: empty")
    return table


def relative_to(folder, token, dest):
    """A path in a manifest is relative to the manifest's folder."""
    if dest not in PATHS or (dest == "init" and token in STARTS):
        return token
    return str(folder / Path(token).expanduser())


def job_names(rows, flags):
    """Each job named from its images and the options that differ between jobs."""
    varying = [d for d in flags if d not in IMAGES and len({tuple(r.get(d, ())) for r in rows}) > 1]
    names = []
    for row in rows:
        parts = [Path(row["content"][0]).stem] if "content" in row else []
        parts += ["+".join(Path(s).stem for s in row["style"])] if "style" in row else []
        for dest in varying:
            flag = flags[dest].option_strings[0].lstrip("-")
            parts.append(f"{flag}-{','.join(row.get(dest, ['default']))}")
        names.append(safe_name("__".join(parts) or "job"))
    return names


def make_job(row, name, flags, where="", kind=None):
    """A job from one row of options, read by the single run's parser."""
    kind = kind or IMAGES_KIND
    argv = [t for dest, toks in row.items() for t in (flags[dest].option_strings[0], *toks)]
    try:
        return kind.make(parse_args(argv, kind.parser()), name)
    except UsageError as e:
        raise UsageError(f"{where}{name + ': ' if where else ''}{e}") from None


def image_job(parsed, name):
    content, styles, settings, loss, masks = options(parsed)
    return Job(name, content, tuple(styles), settings, loss, masks)


IMAGES_KIND = Kind(
    f"{PROG} batch",
    DESCRIPTION,
    "an image per job, its history, and batch.csv",
    build_parser,
    image_job,
    expand={dest: expand_images for dest in IMAGES},
)
