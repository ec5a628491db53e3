"""Throughput benchmark: the whole pipeline as a process against the bare loop.

    python benchmarks/throughput.py [--repeat N] [--workers 1,2] [--skip-large]

On ``../shared/corpus/pages/*.html`` (``NEWS_SHARED_DIR`` overrides ``../shared``;
skips when absent unless ``REQUIRE_SHARED=1``), in one run:

- **bare**: one plain Python process (no Beam) doing the pipeline's work per page:
  read the bytes, ``transforms.formats.page.clean_document`` (decode, trafilatura with the
  pipeline's settings, language id, hashes), drop repeated content hashes, then
  ``transforms.nlp.model.parse_texts`` (``nlp.pipe``, same model and components, batches
  bounded by the pipeline's ``--nlp_batch_size``/``--nlp_batch_chars``) over the
  English articles and ``transforms.nlp.model.annotate_doc`` (the same extractors) on
  each ``Doc``. It counts rows and writes no Parquet; it runs in-process what the
  pipeline may run in time-budgeted child processes.
- **bare_Np**: N bare loops at once on every N-th page each: N plain processes
  with a blind static split.
- **bare_Np_balanced**: N bare loops at once, on page sets of equal cleaned text
  (an oracle split planned before the clock starts): the ceiling of N processes
  on this machine.
- **pipeline_1w / _Nw**: ``python -m pipeline --input ... --output ...`` as a
  subprocess (start-up, model loads, Parquet and the run summary included): the
  default in-process runner (one Beam worker, a spaCy child per core:
  ``--nlp_processes`` 0), and ``--direct_running_mode=multi_processing``.
- **pipeline_1w_1child**: one worker with one spaCy child (``--nlp_processes=1``).
- **pipeline_1w_noquotes**: ``--extractors entities,figures`` (the cost of quotes).
- **\*_large**: the corpus copied ``--copies`` times, each copy with a distinct
  sentence in its main text so deduplication keeps it (memory as input grows).

For each: articles/s, words/s, the ratio to the bare loop on the same input (wall
clock, start-up included), CPU seconds of the process tree, and the peak memory
(PSS: shared pages counted by their share) of each worker with its child
processes (CPU every ``--poll`` s, memory every 4th poll: reading it costs more). Prints
a table and, last, one JSON line. Configurations run ``--repeat`` times
round-robin (load drift hits all alike); the fastest run is kept.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ALL_EXTRACTORS = "entities,figures,quotes"
NO_QUOTES = "entities,figures"
TARGETS = {1: 1.0, 2: 1.7}  # x the user's loop, median of rounds
WORKER_ROLES = ("main", "sdk_worker", "bare_part", "zygote", "worker_zygote")
_TEXT_NODE = re.compile(rb">([^<>]{60,})<")
_HIDDEN = re.compile(rb"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)


# --------------------------------------------------------------------------- bare loop

def _timed(module, name: str, totals: dict[str, float]) -> None:
    """Wrap ``module.name`` so the time spent in it adds up in ``totals[name]``."""
    inner = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - start
    setattr(module, name, wrapper)


def pipeline_settings(pipeline_args: list[str]) -> dict:
    """The pipeline's option values (its defaults, overridden by ``pipeline_args``)
    that shape the per-article work, so the bare loop does the same work."""
    from pipeline.options import NewsOptions

    opts = NewsOptions(pipeline_args).view_as(NewsOptions)
    return {"batch_size": opts.nlp_batch_size, "batch_chars": opts.nlp_batch_chars,
            "chunk_chars": opts.nlp_chunk_chars, "min_text_chars": opts.min_text_chars,
            "parse": opts.nlp_parse,
            "max_nlp_chars": getattr(opts, "max_nlp_chars", None)}


def bare_loop(input_dir: str, extractors: tuple[str, ...], settings: dict,
              part: tuple[int, int] = (0, 1), names: list[str] | None = None) -> dict:
    """The pipeline's work on every ``*.html`` under ``input_dir`` (``part`` k of n:
    every n-th file from the k-th; ``names``: only these files) without Beam;
    returns counts and seconds per phase."""
    import logging

    started = time.perf_counter()
    from transforms.nlp import model as nlp_lib
    from transforms.formats.document import Document
    from transforms.formats.page import clean_document
    import transforms.nlp.entities as entities
    import transforms.nlp.figures as figures
    import transforms.nlp.quotes as quotes
    for name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    imported = time.perf_counter()
    import psutil  # start-up counts from the process's creation (interpreter, imports)
    started -= time.time() - psutil.Process().create_time() - (imported - started)
    nlp = nlp_lib.load_model(None, settings["chunk_chars"], settings["parse"])
    loaded = time.perf_counter()

    per_fn: dict[str, float] = {}
    for module, name in ((entities, "link_entities"), (entities, "entity_rows"),
                         (entities, "mention_rows"), (figures, "extract_figures"),
                         (quotes, "extract_quotes")):
        _timed(module, name, per_fn)
    prefix = getattr(nlp_lib, "nlp_prefix", None)
    max_nlp_chars = settings.get("max_nlp_chars")
    seconds = {"clean": 0.0, "parse": 0.0, "extract": 0.0}
    counts = {"documents": 0, "articles": 0, "errors": 0, "duplicates": 0, "parsed": 0,
              "words": 0, "rows": {}}
    seen: set[str] = set()
    batch: list[tuple[str, str]] = []
    batch_chars = 0

    def flush() -> None:
        t0 = time.perf_counter()
        docs = list(nlp_lib.parse_texts(nlp, (text for _, text in batch),
                                        settings["chunk_chars"], batch_size=len(batch)))
        t1 = time.perf_counter()
        for (article_id, _), doc in zip(batch, docs):
            for table, rows in nlp_lib.annotate_doc(article_id, doc, extractors).items():
                counts["rows"][table] = counts["rows"].get(table, 0) + len(rows)
        seconds["parse"] += t1 - t0
        seconds["extract"] += time.perf_counter() - t1
        counts["parsed"] += len(batch)
        batch.clear()

    paths = sorted(Path(input_dir).glob("*.html"))[part[0]::part[1]]
    if names is not None:
        paths = [p for p in paths if p.name in set(names)]
    for path in paths:
        t0 = time.perf_counter()
        counts["documents"] += 1
        try:
            article = clean_document(Document(str(path), "html", raw=path.read_bytes()),
                                     settings["min_text_chars"])
        except Exception:
            counts["errors"] += 1
            seconds["clean"] += time.perf_counter() - t0
            continue
        seconds["clean"] += time.perf_counter() - t0
        if article["content_hash"] in seen:
            counts["duplicates"] += 1
            continue
        seen.add(article["content_hash"])
        counts["articles"] += 1
        counts["words"] += article["word_count"]
        if article["language"] in nlp_lib.MODEL_LANGUAGES:
            text = article["text"]
            if prefix is not None and max_nlp_chars:
                text = prefix(text, max_nlp_chars)
            if batch and batch_chars + len(text) + 1 > settings["batch_chars"]:
                flush()
                batch_chars = 0
            batch.append((article["article_id"], text))
            batch_chars += len(text) + 1
            if len(batch) >= settings["batch_size"]:
                flush()
                batch_chars = 0
    if batch:
        flush()
    done = time.perf_counter()
    return {**counts, "seconds": {
        "import": imported - started, "model_load": loaded - imported,
        **seconds, "work": done - loaded, "per_function": per_fn}}


def user_loop(input_dir: str, model: str | None = None, batch_size: int = 32) -> dict:
    """The loop a user would write instead of this product: for each ``*.html`` under
    ``input_dir``, ``trafilatura.bare_extraction(html, with_metadata=True)``, then
    ``nlp.pipe(texts, batch_size=32)`` with the same model and every default component
    but the lemmatizer; no extractors, no deduplication, no Parquet."""
    import logging

    started = time.perf_counter()
    import spacy
    import trafilatura
    from transforms.nlp.model import default_model
    for name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    imported = time.perf_counter()
    import psutil
    started -= time.time() - psutil.Process().create_time() - (imported - started)
    nlp = spacy.load(model or default_model(), exclude=["lemmatizer"])
    loaded = time.perf_counter()
    texts, documents = [], 0
    for path in sorted(Path(input_dir).glob("*.html")):
        documents += 1
        result = trafilatura.bare_extraction(path.read_bytes(), with_metadata=True)
        if result is not None and result.text:
            texts.append(result.text)
    cleaned = time.perf_counter()
    entities = words = 0
    for doc in nlp.pipe(texts, batch_size=batch_size):
        entities += len(doc.ents)
        words += sum(1 for t in doc if not (t.is_punct or t.is_space))
    done = time.perf_counter()
    return {"documents": documents, "articles": len(texts), "errors": documents - len(texts),
            "duplicates": 0, "parsed": len(texts), "words": sum(len(t.split()) for t in texts),
            "rows": {"entities_mentions": entities},
            "seconds": {"import": imported - started, "model_load": loaded - imported,
                        "clean": cleaned - loaded, "parse": done - cleaned, "extract": 0.0,
                        "work": done - loaded, "per_function": {}}}


def code_fingerprint() -> str:
    """A hash of the pipeline's code, to notice edits made while the benchmark runs."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("pipeline/*.py"), *REPO.glob("transforms/**/*.py"),
                        *REPO.glob("schemas/*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------- monitoring

@dataclass
class Tree:
    """Peak memory (PSS) and CPU seconds of a process and its descendants, polled.

    A *worker* is the root process (1 worker: everything runs in it) or a Beam SDK
    worker; its memory includes its own children (the trafilatura and spaCy child
    processes of ``transforms.sandbox.worker``, forked by the run's zygote, which counts
    as a group of its own), summed at each poll.
    """

    root: int
    peak_mem: dict[int, int] = field(default_factory=dict)
    role: dict[int, str] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    first_seen: dict[int, float] = field(default_factory=dict)
    peak_group: dict[int, int] = field(default_factory=dict)
    peak_total: int = 0
    memory_every: int = 4  # PSS costs ~6 ms per large process: every 4th poll
    polls: int = 0

    def poll(self, t: float) -> None:
        import psutil

        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        measure = self.polls % self.memory_every == 0
        self.polls += 1
        groups: dict[int, int] = {}
        for proc in procs:
            try:
                with proc.oneshot():
                    mem = _pss(proc) if measure else 0
                    times = proc.cpu_times()
                    if self.role.get(proc.pid, "python") == "python":  # a fork may rename itself
                        self.role[proc.pid], owner = _role(proc, self.root)
                        self.parent[proc.pid] = owner or proc.ppid()
                        self.first_seen.setdefault(proc.pid, t)
            except psutil.Error:
                continue
            if self.role[proc.pid] == "other":
                continue
            self.cpu[proc.pid] = times.user + times.system
            if not measure:
                continue
            self.peak_mem[proc.pid] = max(self.peak_mem.get(proc.pid, 0), mem)
            group = self._group(proc.pid)
            groups[group] = groups.get(group, 0) + mem
        for group, mem in groups.items():
            self.peak_group[group] = max(self.peak_group.get(group, 0), mem)
        self.peak_total = max(self.peak_total, sum(groups.values()))

    def _group(self, pid: int) -> int:
        while self.role.get(pid) not in WORKER_ROLES and pid in self.parent:
            pid = self.parent[pid]
        return pid

    def processes(self) -> list[dict]:
        """One entry per Python process: role, peak PSS (MB), CPU s, first seen (s)."""
        return [{"pid": pid, "role": self.role[pid], "parent": self.parent[pid],
                 "peak_pss_mb": round(self.peak_mem.get(pid, 0) / 2**20),
                 "cpu_s": round(self.cpu.get(pid, 0.0), 1),
                 "seen_at_s": round(self.first_seen[pid], 1)}
                for pid in sorted(self.cpu)]

    def workers(self) -> list[dict]:
        """Peak PSS (MB) of each worker with its children; the root last when
        SDK workers did the work (it then only coordinates)."""
        out = [{"worker": self.role[g], "pid": g, "peak_pss_mb": round(mem / 2**20)}
               for g, mem in sorted(self.peak_group.items())]
        return sorted(out, key=lambda w: w["worker"] == "main")


def _pss(proc) -> int:
    """Proportional set size in bytes: pages shared with other processes (a
    zygote's children share its model copy-on-write) count by their share, so
    the sum over processes is the memory really used. RSS where unavailable."""
    try:
        with open(f"/proc/{proc.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return proc.memory_info().rss


def _role(proc, root: int) -> tuple[str, int | None]:
    """A process's role, and the process it works for when that is not its
    parent (a zygote's children are named ``news:<client pid>``)."""
    cmdline = proc.cmdline()
    if not cmdline or "python" not in os.path.basename(cmdline[0]):
        return "other", None
    if proc.pid == root:
        return "main", None
    cmd = " ".join(cmdline)
    if "sdk_worker" in cmd:
        return "sdk_worker", None
    if "--bare-child" in cmd:
        return "bare_part", None
    if proc.name() == "news-workers":  # pipeline.worker_fork: forks of the launcher
        return _forked_worker_role(proc, root), None
    if "transforms.sandbox.zygote" in cmd:
        name = proc.name()
        if name.startswith("news:") and name[5:].isdigit():
            return "child", int(name[5:])
        return "zygote", None
    return ("child" if "transforms.sandbox.worker" in cmd else "python"), None


def _forked_worker_role(proc, root: int) -> str:
    """The launcher's fork that forks SDK workers (``worker_zygote``), its waiters
    (``waiter``) and the SDK workers themselves (``sdk_worker``), by their depth below
    the launcher."""
    import psutil

    roles = ("worker_zygote", "waiter", "sdk_worker")
    depth = 0
    try:
        while proc.ppid() != root and depth < len(roles):
            proc, depth = psutil.Process(proc.ppid()), depth + 1
    except psutil.Error:
        return "python"
    return roles[depth] if depth < len(roles) else "python"


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass


def run_monitored(cmd: list[str], poll: float, env: dict | None = None) -> dict:
    """Run ``cmd``; wall seconds, stdout, exit code, and the process tree's figures."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    tree = Tree(proc.pid)
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            tree.poll(time.perf_counter() - started)
            stop.wait(poll)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate()
    except BaseException:  # interrupted: take the run's processes down with us
        _kill_tree(proc.pid)
        raise
    wall = time.perf_counter() - started
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-3000:]}")
    return {"wall_s": wall, "stdout": out, "load_before": load,
            "load_after": os.getloadavg()[0],
            "cpu_s": sum(tree.cpu.values()), "peak_tree_pss_mb": round(tree.peak_total / 2**20),
            "workers": tree.workers(), "processes": tree.processes()}


# --------------------------------------------------------------------------- runs

@dataclass
class Config:
    name: str
    kind: str  # user | bare | bare_split | pipeline
    input_dir: str
    workers: int = 1
    extractors: str = ALL_EXTRACTORS
    parts_file: str | None = None  # bare_split: page names per process (JSON)
    args: tuple[str, ...] = ()     # pipeline: extra options


def balanced_parts(input_dir: str, parts: int) -> list[list[str]]:
    """Page names in ``parts`` sets of equal cleaned text (largest first into the
    lightest set): an oracle split, since it cleans every page first."""
    from transforms.shaping.balance import plan_bins
    from transforms.formats.document import Document
    from transforms.formats.page import clean_document

    weights = {}
    for path in sorted(Path(input_dir).glob("*.html")):
        try:
            text = clean_document(Document(str(path), "html", raw=path.read_bytes()))["text"]
        except Exception:
            text = ""
        weights[path.name] = len(text) + 1
    plan = plan_bins(weights.items(), parts)
    return [[name for name, b in plan.items() if b == k] for k in range(parts)]


def bare_split(input_dir: str, parts: int, extra: list[str],
               lists: list[list[str]] | None = None) -> dict:
    """``parts`` bare loops at once, each on every ``parts``-th page: what two plain
    processes with a static split (as the local runner partitions a stage) reach.
    ``lists``: the page names of each process instead (``balanced_parts``)."""
    if lists:
        what = [["--names", json.dumps(names)] for names in lists]
    else:
        what = [["--part", f"{k}/{parts}"] for k in range(parts)]
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--bare-child",
                               input_dir, *what[k], *extra],
                              stdout=subprocess.PIPE, text=True) for k in range(parts)]
    results = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    total = {key: sum(r[key] for r in results)
             for key in ("documents", "articles", "words", "parsed")}
    slowest = max(results, key=lambda r: r["seconds"]["work"])
    rows = {t: sum(r["rows"].get(t, 0) for r in results) for t in results[0]["rows"]}
    per_fn = {k: sum(r["seconds"]["per_function"].get(k, 0) for r in results)
              for k in results[0]["seconds"]["per_function"]}
    return {**total, "rows": rows, "seconds": {**slowest["seconds"], "per_function": per_fn},
            "parts_work_s": [round(r["seconds"]["work"], 2) for r in results]}


def run_config(cfg: Config, args, scratch: Path) -> dict:
    """One run of ``cfg``: throughput figures plus the monitored process tree."""
    if cfg.kind in ("bare", "bare_split", "user"):
        extra = ["--extractors", cfg.extractors,
                 *(f"--pipeline-arg={a}" for a in args.pipeline_arg)]
        mode = (["--bare-child", cfg.input_dir] if cfg.kind == "bare" else
                ["--user-child", cfg.input_dir] if cfg.kind == "user" else
                ["--bare-split", cfg.input_dir, "--parts", str(cfg.workers),
                 *(["--parts-file", cfg.parts_file] if cfg.parts_file else [])])
        res = run_monitored([sys.executable, str(Path(__file__).resolve()), *mode, *extra],
                            args.poll)
        child = json.loads(res.pop("stdout").strip().splitlines()[-1])
        if "parts_work_s" in child:
            res["parts_work_s"] = child["parts_work_s"]
        res.update(documents=child["documents"], articles=child["articles"],
                   words=child["words"], parsed=child["parsed"],
                   rows=child["rows"], inner_s=child["seconds"]["work"],
                   startup_s=child["seconds"]["import"] + child["seconds"]["model_load"],
                   phases={k: round(v, 2) for k, v in child["seconds"].items()
                           if k != "per_function"},
                   per_function={k: round(v, 2) for k, v in
                                 child["seconds"]["per_function"].items()})
        return res
    output = scratch / f"out-{cfg.name}"
    shutil.rmtree(output, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline", "--input", cfg.input_dir + "/*.html",
           "--output", str(output), "--extractors", cfg.extractors, "--progress_seconds", "0",
           *args.pipeline_arg, *cfg.args]
    if cfg.workers > 1:
        cmd += ["--direct_running_mode=multi_processing", f"--direct_num_workers={cfg.workers}"]
    res = run_monitored(cmd, args.poll)
    res.pop("stdout")
    summary = json.loads((output / "_run.json").read_text())
    words = _sum_column(output, "articles", "word_count")
    shutil.rmtree(output, ignore_errors=True)
    res.update(documents=len(list(Path(cfg.input_dir).glob("*.html"))),
               articles=summary["articles"], duplicates=summary["duplicates"],
               errors=summary["errors"], words=words, rows=summary["rows"],
               nlp_status=summary["nlp_status"], inner_s=summary["seconds"],
               startup_s=res["wall_s"] - summary["seconds"])
    return res


def _sum_column(output: Path, table: str, column: str) -> int:
    import pyarrow.parquet as pq

    return sum(sum(v for v in pq.read_table(f, columns=[column]).column(0).to_pylist() if v)
               for f in sorted((output / table).rglob("*.parquet")))


def make_copies(pages: Path, target: Path, copies: int) -> int:
    """``copies`` copies of every page, each with a distinct sentence in its main
    text (at the end of a long text node that trafilatura keeps); returns the
    number of files written."""
    from transforms.formats.page import clean_document

    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(pages.glob("*.html")):
        raw = path.read_bytes()
        at = _injection_point(raw, clean_document, str(path))
        for k in range(1, copies + 1):
            sentence = f" Benchmark copy {k} of this page carries this sentence.".encode()
            data = raw if at is None else raw[:at] + sentence + raw[at:]
            (target / f"{path.stem}__copy{k:02d}.html").write_bytes(data)
            written += 1
    return written


def _injection_point(raw: bytes, clean, source: str) -> int | None:
    """Offset of the end of a long text node (outside scripts and styles) whose
    text trafilatura keeps in the main text, or None."""
    from transforms.formats.document import Document

    hidden = [m.span() for m in _HIDDEN.finditer(raw)]
    candidates = []
    for node in _TEXT_NODE.finditer(raw):
        at = node.end(1)
        if not any(start <= at < end for start, end in hidden):
            candidates.append((len(node.group(1).strip()), at))
    for _, at in sorted(candidates, reverse=True)[:12]:
        probe = raw[:at] + b" Zqxbenchmarkprobe." + raw[at:]
        try:
            if "Zqxbenchmarkprobe" in clean(Document(source, "html", raw=probe))["text"]:
                return at
        except Exception:
            return None
    return None


# --------------------------------------------------------------------------- report

def _rate(res: dict, key: str) -> float:
    return res[key] / res["wall_s"]


REFERENCES = ("user", "bare")


def _reference(results: dict[str, dict], name: str, kind: str = "bare") -> dict | None:
    """The ``kind`` reference run (``user`` or ``bare``) on the same input as ``name``."""
    if name.endswith("_large"):
        return results.get(f"{kind}_large") or (results.get(kind) if kind == "bare" else None)
    return results.get(kind)


def _speedup(res: dict, ref: dict, wall_res: float, wall_ref: float) -> float:
    """How many times faster than ``ref`` per input page (wall clock, whole process)."""
    return (wall_ref / ref["documents"]) / (wall_res / res["documents"])


def _round_ratios(res: dict, ref: dict) -> list[float]:
    """The speed-up over the reference run of the same round (the machine's speed
    drifts over minutes; adjacent runs share more of it than best-of-N does)."""
    if res is ref or len(res["all_wall_s"]) != len(ref["all_wall_s"]):
        return []
    return [round(_speedup(res, ref, w, rw), 3)
            for rw, w in zip(ref["all_wall_s"], res["all_wall_s"])]


def report(results: dict[str, dict], cfgs: dict[str, Config], meta: dict) -> dict:
    bare = results["bare"]
    lines = [f"{'config':<22}{'arts':>6}{'wall s':>8}{'start s':>8}{'art/s':>8}{'words/s':>9}"
             f"{'x user':>8}{'x bare':>8}{'cpu s':>8}{'load':>6}  "
             "peak PSS MB per worker (with its children)"]
    summary = {}
    for name, res in results.items():
        ratios = {}
        for kind in REFERENCES:
            ref = _reference(results, name, kind)
            if ref is not None:
                ratios[kind] = _speedup(res, ref, res["wall_s"], ref["wall_s"])
        procs = ", ".join(f"{w['worker']} {w['peak_pss_mb']}" for w in res["workers"])
        shown = "".join(f"{ratios[k]:>8.2f}" if k in ratios else f"{'-':>8}" for k in REFERENCES)
        lines.append(f"{name:<22}{res['articles']:>6}{res['wall_s']:>8.1f}{res['startup_s']:>8.1f}"
                     f"{_rate(res, 'articles'):>8.2f}{_rate(res, 'words'):>9.0f}{shown}"
                     f"{res['cpu_s']:>8.1f}{res['load_before']:>6.1f}  {procs}")
        summary[name] = {
            "documents": res["documents"], "articles": res["articles"], "words": res["words"],
            "wall_s": round(res["wall_s"], 2), "inner_s": round(res["inner_s"], 2),
            "startup_s": round(res["startup_s"], 2),
            "articles_per_s": round(_rate(res, "articles"), 3),
            "words_per_s": round(_rate(res, "words"), 1),
            **{f"best_x_{k}": round(v, 3) for k, v in ratios.items()},
            "cpu_s": round(res["cpu_s"], 1),
            "load": [round(res["load_before"], 2), round(res["load_after"], 2)],
            "peak_tree_pss_mb": res["peak_tree_pss_mb"], "workers": res["workers"],
            "processes": res["processes"],
            "all_wall_s": [round(w, 1) for w in res["all_wall_s"]],
            "all_cpu_s": [round(c, 1) for c in res["all_cpu_s"]],
            **({"phases": res["phases"], "per_function": res["per_function"]}
               if "phases" in res else {"rows": res["rows"]}),
            **({"parts_work_s": res["parts_work_s"]} if "parts_work_s" in res else {}),
        }
        for kind in REFERENCES:
            ref = _reference(results, name, kind)
            rounds = _round_ratios(res, ref) if ref is not None else []
            if rounds:
                summary[name][f"rounds_x_{kind}"] = rounds
                summary[name][f"median_x_{kind}"] = round(statistics.median(rounds), 3)
    print("\n".join(lines))
    print("(x user / x bare: times faster per input page than the user's loop / the bare "
          "loop of the pipeline's own work, best runs, wall clock, start-up included)")
    for kind in REFERENCES:
        print(f"\n{kind} loop phases (s): {results[kind]['phases']}"
              + (f"; per function: {results[kind]['per_function']}" if results[kind]["per_function"]
                 else ""))
    for name, res in results.items():
        if "parts_work_s" in res:
            n = len(res["parts_work_s"])
            split = ("on pages of equal cleaned text (oracle split)" if "balanced" in name
                     else f"each on 1 page in {n} (a blind static split)")
            print(f"{name}: the bare loop in {n} processes at once, {split}; work s per "
                  f"process: {res['parts_work_s']}")
    for name, res in summary.items():
        for kind in REFERENCES:
            r = res.get(f"rounds_x_{kind}", [])
            if len(r) > 1:
                print(f"{name}: x {kind} round by round {r}, median {statistics.median(r):.2f}, "
                      f"best {max(r):.2f}")
    checks = []
    for name, cfg in cfgs.items():
        if cfg.kind == "pipeline" and cfg.extractors == ALL_EXTRACTORS and \
                cfg.workers in TARGETS and not name.endswith("_large") and "user" in results:
            got = summary[name].get("median_x_user", summary[name]["best_x_user"])
            met = got >= TARGETS[cfg.workers]
            checks.append({"config": name, "x_user_median": got, "target": TARGETS[cfg.workers],
                           "met": met})
            print(f"target {name}: {got:.2f}x the user's loop (median of rounds; target >= "
                  f"{TARGETS[cfg.workers]}x): {'met' if met else 'MISSED'}")
    quotes = {}
    if "pipeline_1w" in results and "pipeline_1w_noquotes" in results:
        with_q = summary["pipeline_1w"]["articles_per_s"]
        without = summary["pipeline_1w_noquotes"]["articles_per_s"]
        quotes = {"articles_per_s_with": with_q, "articles_per_s_without": without,
                  "slowdown": round(1 - with_q / without, 3),
                  "bare_quotes_s": bare["per_function"].get("extract_quotes"),
                  "bare_quotes_ms_per_article": round(
                      1000 * bare["per_function"].get("extract_quotes", 0) / bare["parsed"], 2)}
        print(f"quotes cost: pipeline 1 worker {with_q} art/s with quotes, {without} without "
              f"(with/without {with_q / without:.2f}); in the bare loop extract_quotes takes "
              f"{quotes['bare_quotes_ms_per_article']} ms/article "
              f"({bare['per_function'].get('extract_quotes', 0) / bare['inner_s']:.1%} of its work)")
    memory = {}
    for name, res in results.items():
        if name.endswith("_large"):
            small = results[name[:-len("_large")]]
            memory[name] = {"small": [w["peak_pss_mb"] for w in small["workers"]],
                            "large": [w["peak_pss_mb"] for w in res["workers"]],
                            "articles": [small["articles"], res["articles"]]}
            print(f"memory {name[:-6]}: peak PSS MB {memory[name]['small']} at "
                  f"{small['articles']} articles -> {memory[name]['large']} at {res['articles']}")
    return {"benchmark": "throughput", **meta, "results": summary, "targets": checks,
            "quotes_cost": quotes, "memory": memory}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=None, help="shared/ folder (default ../shared or "
                    "$NEWS_SHARED_DIR)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (best kept)")
    ap.add_argument("--workers", default="1,2", help="pipeline worker counts, e.g. 1,2")
    ap.add_argument("--skip-large", action="store_true", help="skip the copied-corpus runs")
    ap.add_argument("--large-workers", default=None,
                    help="worker counts for the large runs (default: --workers)")
    ap.add_argument("--copies", type=int, default=10, help="copies of the corpus (large runs)")
    ap.add_argument("--skip-large-bare", action="store_true",
                    help="large runs: no bare loop on the copies (compare with the bare loop "
                         "on the 140 pages; the user's loop still runs on the copies)")
    ap.add_argument("--skip-large-user", action="store_true",
                    help="large runs: no user's loop on the copies either (for memory at many "
                         "copies: x bare is then against the bare loop on the 140 pages)")
    ap.add_argument("--skip-quotes-cost", action="store_true")
    ap.add_argument("--balance-off", action="store_true",
                    help="also run each multi-worker configuration with --balance=off")
    ap.add_argument("--skip-one-child", action="store_true",
                    help="skip the 1-worker run with one spaCy child (--nlp_processes=1)")
    ap.add_argument("--skip-selective", action="store_true",
                    help="skip the run with --nlp_parse=selective")
    ap.add_argument("--poll", type=float, default=0.5, help="polling interval (s) of CPU; memory every 4th")
    ap.add_argument("--pipeline-arg", action="append", default=[],
                    help="extra pipeline option, e.g. --pipeline-arg=--nlp_batch_size=64 "
                         "(NLP batching options apply to the bare loop too)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--log", default=None, help="append one JSON line per run to this file")
    ap.add_argument("--skip-bare-split", action="store_true",
                    help="skip the reference of N plain processes on 1/N of the pages each")
    ap.add_argument("--bare-child", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--user-child", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--part", default="0/1", help=argparse.SUPPRESS)
    ap.add_argument("--bare-split", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--parts", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--parts-file", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--names", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--extractors", default=ALL_EXTRACTORS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill

    if args.bare_child:
        k, n = (int(x) for x in args.part.split("/"))
        result = bare_loop(args.bare_child, tuple(args.extractors.split(",")),
                           pipeline_settings(args.pipeline_arg), (k, n),
                           json.loads(args.names) if args.names else None)
        print(json.dumps(result))
        return 0
    if args.user_child:
        print(json.dumps(user_loop(args.user_child)))
        return 0
    if args.bare_split:
        print(json.dumps(bare_split(args.bare_split, args.parts, [
            "--extractors", args.extractors,
            *(f"--pipeline-arg={a}" for a in args.pipeline_arg)],
            json.loads(Path(args.parts_file).read_text()) if args.parts_file else None)))
        return 0

    from evaluation.shared import require, shared_dir
    pages = require(shared_dir(args.shared) / "corpus" / "pages")
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    large_workers = ([int(w) for w in args.large_workers.split(",")]
                     if args.large_workers else workers)
    scratch = Path(tempfile.mkdtemp(prefix="news-throughput-"))
    try:
        cfgs = {"user": Config("user", "user", str(pages)),
                "bare": Config("bare", "bare", str(pages))}
        if not args.skip_bare_split:
            for w in workers:
                if w > 1:
                    cfgs[f"bare_{w}p"] = Config(f"bare_{w}p", "bare_split", str(pages), w)
                    parts_file = scratch / f"balanced-{w}.json"
                    parts_file.write_text(json.dumps(balanced_parts(str(pages), w)))
                    cfgs[f"bare_{w}p_balanced"] = Config(
                        f"bare_{w}p_balanced", "bare_split", str(pages), w,
                        parts_file=str(parts_file))
        for w in workers:
            cfgs[f"pipeline_{w}w"] = Config(f"pipeline_{w}w", "pipeline", str(pages), w)
            if w > 1 and args.balance_off:
                cfgs[f"pipeline_{w}w_balance_off"] = Config(
                    f"pipeline_{w}w_balance_off", "pipeline", str(pages), w, args=("--balance=off",))
            if w == 1 and not args.skip_one_child:  # the default has a spaCy child per core
                cfgs["pipeline_1w_1child"] = Config("pipeline_1w_1child", "pipeline", str(pages), 1,
                                                    args=("--nlp_processes=1",))
        if not args.skip_selective:
            cfgs["pipeline_1w_selective"] = Config("pipeline_1w_selective", "pipeline",
                                                   str(pages), 1, args=("--nlp_parse=selective",))
        if not args.skip_quotes_cost:
            cfgs["pipeline_1w_noquotes"] = Config("pipeline_1w_noquotes", "pipeline",
                                                  str(pages), 1, NO_QUOTES)
        copies_written = None
        if not args.skip_large:
            copies_dir = scratch / "copies"
            copies_written = make_copies(pages, copies_dir, args.copies)
            if not args.skip_large_user:
                cfgs["user_large"] = Config("user_large", "user", str(copies_dir))  # the reference
            if not args.skip_large_bare:
                cfgs["bare_large"] = Config("bare_large", "bare", str(copies_dir))
            for w in large_workers:
                cfgs[f"pipeline_{w}w_large"] = Config(f"pipeline_{w}w_large", "pipeline",
                                                      str(copies_dir), w)
        runs: dict[str, list[dict]] = {name: [] for name in cfgs}
        fingerprints = {code_fingerprint()}
        for round_ in range(args.repeat):
            for name, cfg in cfgs.items():
                if name.endswith("_large") and round_ > 0:
                    continue  # memory, not speed: once is enough
                print(f"[{time.strftime('%H:%M:%S')}] round {round_ + 1}: {name} "
                      f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
                res = run_config(cfg, args, scratch)
                fingerprints.add(code_fingerprint())
                if args.log:
                    with open(args.log, "a") as f:
                        f.write(json.dumps({"config": name, "round": round_ + 1, **{
                            k: v for k, v in res.items() if k != "processes"}}, default=str) + "\n")
                print(f"    {res['articles']} articles in {res['wall_s']:.1f} s", file=sys.stderr,
                      flush=True)
                runs[name].append(res)
        results = {}
        for name, rs in runs.items():
            best = dict(min(rs, key=lambda r: r["wall_s"]))
            best["all_wall_s"] = [r["wall_s"] for r in rs]
            best["all_cpu_s"] = [r["cpu_s"] for r in rs]
            results[name] = best
        meta = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                "pages": str(pages), "repeat": args.repeat, "cpus": os.cpu_count(),
                "pipeline_args": args.pipeline_arg, "code": sorted(fingerprints)}
        if copies_written is not None:
            meta["large_files"] = copies_written
        out = report(results, cfgs, meta)
        problems = []
        for name, res in results.items():
            if cfgs[name].kind == "user":
                continue  # no deduplication, no minimum length: its own count
            expected = results["bare"]["articles"] * (args.copies if name.endswith("_large") else 1)
            if res["articles"] != expected:
                problems.append(f"{name}: {res['articles']} articles, expected {expected}")
        if len(fingerprints) > 1:
            problems.append("the pipeline's code changed during the benchmark "
                            f"(fingerprints {sorted(fingerprints)}): rerun on a quiet tree")
        out["problems"] = problems
        for p in problems:
            print(f"WARNING: {p}")
        print(json.dumps(out, default=str))
        return 0
    finally:
        if args.keep:
            print(f"scratch kept in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
