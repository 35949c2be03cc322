"""Fault injection: training runs of the automatic recipe killed with
SIGKILL at random moments, resumed with ``--resume`` until they complete,
and their shipped models compared with uninterrupted runs.

Each training process is what ``mim train mmpretrain CONFIG --work-dir W``
runs (MMPretrain's ``tools/train.py``), started in its own process group so
that one ``killpg`` takes its data-loader workers too. A watcher follows
the run's log file (``W/<timestamp>/<timestamp>.log``, written as it goes)
and the work dir's hidden ``.NAME.partial`` files (a checkpoint being
written, ``DataAwareRunner.save_checkpoint``), knows at every moment which
phase the run is in (:func:`classify_phase`), and kills it a random delay
after the phase it aims at begins, or at a uniformly random time.

After each kill the run is launched again with ``--resume``; the kill
counts as resumed once the new attempt trains (or finishes). An attempt
that fails on its own is retried; a kill after which every retry fails is
a failure, its work dir kept for a post-mortem.

The pure parts (phase classification from log lines, kill planning
helpers, the summary and its verdict, the markdown) are tested without
training; the rest launches processes.
"""
import glob
import math
import os
import os.path as osp
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from .report import write_report

NAME = 'fault_injection'

#: The phases kills aim at, in the order a run meets them.
PHASES = ('lr_test', 'train', 'precise_bn', 'checkpoint', 'val')
#: Every phase a kill can hit: also building the runner and resuming
#: (``startup``) and what follows the last epoch (``end``: the best weights
#: loaded back and linked as the shipped model).
ALL_PHASES = ('startup',) + PHASES + ('end', )
UNIFORM = 'uniform'  # a kill's target: a uniformly random moment
SHIPPED = 'best_auto_epochs.pth'
METRIC = 'accuracy/top1'

_EVENT = re.compile(r'^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d - \S+ - [A-Z]+ - (.*)$')
_TRAIN = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')
_VAL = re.compile(r'Epoch\(val\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')
_SAVING = re.compile(r'Saving checkpoint at (\d+) epochs')
_RESUMED = re.compile(r'resumed epoch: (\d+)')
_REVALIDATE = re.compile(r'AutoEpochs: validating resumed epoch (\d+)')
_SHIPPED_LINE = re.compile(
    r'AutoEpochs: final weights .*\(([\w/.-]+)=([-\d.eE+]+)')
_TOP1 = re.compile(r'accuracy/top1: ([\d.]+)')


# log lines and phases (pure) -------------------------------------------------

def event_lines(text: str) -> List[str]:
    """The messages of a MMEngine log's events, one per event (the lines
    that continue a multi-line message, such as the config dump, are
    left out).

    Args:
        text: The log file's content.
    """
    return [m.group(1) for m in map(_EVENT.match, text.splitlines()) if m]


def resumed_epoch(lines: Sequence[str]) -> Optional[int]:
    """The epoch an attempt resumed from (MMEngine's ``resumed epoch: N``
    line), or None for an attempt that started afresh.

    Args:
        lines: The attempt's :func:`event_lines`.
    """
    for line in lines:
        m = _RESUMED.search(line)
        if m:
            return int(m.group(1))
    return None


def current_epoch(lines: Sequence[str]) -> int:
    """The epoch an attempt is in (0 before the first): the latest epoch
    its log names (training, validation, checkpoint lines; the resumed
    epoch right after a resume).

    Args:
        lines: The attempt's :func:`event_lines`.
    """
    for line in reversed(lines):
        m = _TRAIN.search(line)
        if m:
            return int(m.group(1))
        for pattern in (_VAL, _SAVING, _REVALIDATE):
            m = pattern.search(line)
            if m:
                return int(m.group(1))
        m = _RESUMED.search(line)
        if m:
            return int(m.group(1))
    return 0


def phase_epoch(lines: Sequence[str], phase: str) -> int:
    """The epoch a phase that has just begun belongs to: the next epoch for
    training iterations that have logged nothing yet, else
    :func:`current_epoch`.

    Args:
        lines: The attempt's :func:`event_lines`.
        phase: Its current phase (:func:`classify_phase`).
    """
    epoch = current_epoch(lines)
    if phase == 'train' and not (lines and _TRAIN.search(lines[-1])):
        return epoch + 1
    return epoch


def saving_epoch(line: str) -> Optional[int]:
    """N of a ``Saving checkpoint at N epochs`` line, else None."""
    m = _SAVING.search(line)
    return int(m.group(1)) if m else None


def classify_phase(lines: Sequence[str], writing_checkpoint: bool = False,
                   saved: bool = False,
                   last_epoch: Optional[int] = None) -> str:
    """The phase a run is in, from its log's last event line: the work that
    follows that line (one of :data:`ALL_PHASES`).

    MMEngine and mmtricks log the end of most steps, not their start, so
    each line names what comes next: ``Training split`` (PerClassReportHook,
    the first ``before_train`` hook) is followed by the LR range test, which
    logs its result; ``Exp name`` (LoggerHook, after an epoch's last
    iteration) by the BN recomputation; its ``BN statistics recomputed`` by
    the epoch's checkpoint; ``Saving checkpoint at N epochs`` by the write,
    then the validation (``saved``: the checkpoint it announced is on disk,
    so the run is validating); the validation's metrics by the best
    checkpoint's save and the next epoch's iterations.

    Args:
        lines: The run's :func:`event_lines` up to that moment (of this
            attempt).
        writing_checkpoint: A checkpoint's ``.partial`` file was being
            written then (it overrides the lines: saving happens both after
            an epoch and after a new best validation).
        saved: The checkpoint the last ``Saving checkpoint`` line announced
            was complete on disk.
        last_epoch: The run's epoch cap: after its validation comes the
            end of training, not another epoch.
    """
    if writing_checkpoint:
        return 'checkpoint'
    resumed = resumed_epoch(lines) is not None
    for line in reversed(lines):
        if 'AutoEpochs: final weights' in line or 'AutoEpochs: stopping' in \
                line or 'Confusion matrix' in line:
            return 'end'
        if _REVALIDATE.search(line):
            return 'val'
        m = _TRAIN.search(line)
        if m:
            return 'precise_bn' if m.group(2) == m.group(3) else 'train'
        if line.startswith('Exp name:'):
            return 'precise_bn'
        if line.startswith('BN statistics recomputed'):
            return 'checkpoint'
        if saving_epoch(line) is not None:
            return 'val' if saved else 'checkpoint'
        m = _VAL.search(line)
        if m:
            return 'val'
        if 'The previous best checkpoint' in line:
            return 'checkpoint'
        if 'The best checkpoint with' in line or \
                line.startswith('AutoEpochs:'):
            # the next epoch's iterations, unless that was the last
            return 'end' if last_epoch is not None and \
                current_epoch(lines) >= last_epoch else 'train'
        if line.startswith('Checkpoints will be saved to'):
            return 'train'
        if line.startswith('LR range test already done'):
            return 'startup'
        if line.startswith('LR range test'):
            return 'lr_test'  # its outputs (JSON, plot) being written
        if line.startswith('Training split:'):
            return 'startup' if resumed else 'lr_test'
    return 'startup'


def trains(lines: Sequence[str]) -> bool:
    """Whether an attempt got past resuming into training (a logged
    training iteration or epoch end, a validation, the end of training).

    Args:
        lines: The attempt's :func:`event_lines`.
    """
    return any(_TRAIN.search(line) or line.startswith('Exp name:') or
               _VAL.search(line) or 'AutoEpochs: final weights' in line
               for line in lines)


def shipped_claim(lines: Sequence[str]) -> Optional[float]:
    """The monitored val score AutoEpochsHook logged for the shipped
    weights (``AutoEpochs: final weights ... (accuracy/top1=97.5, ...``),
    if it logged one on top-1."""
    for line in reversed(lines):
        m = _SHIPPED_LINE.search(line)
        if m and m.group(1) == METRIC:
            return float(m.group(2))
    return None


def traceback_tail(output: str, lines: int = 12) -> str:
    """The end of a crashed process's output: its traceback's last lines.

    Args:
        output: stdout and stderr of the process.
        lines: How many lines to keep.
    """
    kept = [line for line in output.splitlines() if line.strip()]
    start = max((i for i, line in enumerate(kept)
                 if line.startswith('Traceback')), default=len(kept) - lines)
    tail = kept[start:]
    if len(tail) > lines:
        tail = tail[:2] + ['...'] + tail[-(lines - 3):]
    return '\n'.join(tail)


def is_partial(name: str) -> bool:
    """Whether a work-dir file name is a checkpoint being written
    (``DataAwareRunner``'s ``partial_name``: ``.NAME.partial``)."""
    return name.startswith('.') and name.endswith('.partial')


# kill planning (pure) -------------------------------------------------------

def choose_target(hits: Dict[str, int], lr_test_possible: bool,
                  uniform_share: float, rng) -> str:
    """The phase the next kill aims at: the least hit so far among
    :data:`PHASES` (ties at random), or, with probability
    ``uniform_share``, a uniformly random moment.

    Args:
        hits: Kills per phase so far.
        lr_test_possible: The run will do an LR range test (it starts
            afresh: no checkpoint yet).
        uniform_share: The share of kills at random times.
        rng: A ``random.Random``.
    """
    if rng.random() < uniform_share:
        return UNIFORM
    phases = [p for p in PHASES if lr_test_possible or p != 'lr_test']
    fewest = min(hits.get(p, 0) for p in phases)
    return rng.choice([p for p in phases if hits.get(p, 0) == fewest])


def phase_seconds(spans: Iterable[Sequence], default: float = 0.3,
                  shortest: float = 0.01) -> Dict[str, float]:
    """Median seconds of each phase over observed ``(phase, start, end)``
    spans (a phase missing gets ``default``).

    Args:
        spans: What the watcher observed in uninterrupted runs.
        default: Seconds of a phase never observed.
        shortest: Spans shorter than this are left out: the moments
            between two steps (a best checkpoint written, then its log
            line), not a phase.
    """
    by_phase: Dict[str, List[float]] = {}
    for phase, start, end in spans:
        if end - start >= shortest:
            by_phase.setdefault(phase, []).append(end - start)
    return {p: statistics.median(by_phase[p]) if p in by_phase else default
            for p in ALL_PHASES}


# summary and report (pure) --------------------------------------------------

def mean_sd(values: Sequence[float]) -> Dict:
    values = [float(v) for v in values]
    return dict(mean=statistics.mean(values) if values else math.nan,
                sd=statistics.stdev(values) if len(values) > 1 else 0.0,
                n=len(values))


#: A killed run's shipped val top-1 is within the seed noise when it lies
#: within this many standard deviations of the uninterrupted runs' mean.
NOISE_SDS = 2.0


def within_noise(value: Optional[float], baseline: Dict,
                 sds: float = NOISE_SDS) -> Optional[bool]:
    """Whether ``value`` is within ``sds`` standard deviations of the
    uninterrupted runs' mean (None when either is missing).

    Args:
        value: A killed run's shipped val top-1.
        baseline: :func:`mean_sd` of the uninterrupted runs.
        sds: The width of the band.
    """
    if value is None or baseline['n'] < 2 or math.isnan(baseline['mean']):
        return None
    return abs(value - baseline['mean']) <= sds * baseline['sd'] + 1e-9


def summarise(kills: Sequence[Dict], runs: Sequence[Dict],
              baseline: Sequence[Dict], min_kills: int) -> Dict:
    """Counts by phase, the uninterrupted runs' spread, each killed run
    against it, and the verdict on every goal.

    Args:
        kills: One dict per kill (``phase``, ``resumed``).
        runs: One dict per killed run (``completed``, ``val_top1``).
        baseline: One dict per uninterrupted run (``val_top1``).
        min_kills: The number of kills asked for.
    """
    by_phase = {}
    for phase in ALL_PHASES:
        hit = [k for k in kills if k['phase'] == phase]
        if hit or phase in PHASES:
            by_phase[phase] = dict(kills=len(hit), resumed=sum(
                bool(k['resumed']) for k in hit))
    base = mean_sd([b['val_top1'] for b in baseline
                    if b.get('val_top1') is not None])
    # A run no planned kill reached (it stopped earlier) is no killed run.
    killed = [r for r in runs if r.get('kills')]
    compared = [dict(run=r['run'], seed=r['seed'], val_top1=r.get('val_top1'),
                     gap=None if r.get('val_top1') is None
                     else r['val_top1'] - base['mean'],
                     within=within_noise(r.get('val_top1'), base))
                for r in killed]
    complete = [r for r in runs if r.get('completed')]
    goals = {
        f'at least {min_kills} kills': len(kills) >= min_kills,
        'every phase killed at least once': all(
            by_phase[p]['kills'] > 0 for p in PHASES),
        'every kill resumed': bool(kills) and all(k['resumed']
                                                  for k in kills),
        'every run completed and shipped its model':
            bool(runs) and len(complete) == len(runs),
        f'shipped val top-1 within {NOISE_SDS:g} sd of the uninterrupted '
        'runs': bool(compared) and all(c['within'] for c in compared),
    }
    return dict(kills=len(kills), resumed=sum(bool(k['resumed'])
                                             for k in kills),
                during_file_write=sum(bool(k.get('writing_checkpoint'))
                                      for k in kills),
                by_phase=by_phase, baseline=base, compared=compared,
                goals=goals)


def _num(value, digits=2) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def _yes(value) -> str:
    return {True: 'yes', False: '**no**', None: '-'}[value]


def render(payload: Dict) -> str:
    """The markdown of a stored payload."""
    s, summary = payload['settings'], payload['summary']
    base = summary['baseline']
    lines = [
        '# Fault injection: killed runs resume and ship the same model', '',
        f'Command: `{payload["command"]}`. Machine: {payload["machine"]}. '
        f'Code: {payload["code"]}.', '',
        f'`{s["config"]}` on {s["data"]}, `train_cfg.max_epochs='
        f'{s["max_epochs"]}` (the cap; the automatic epochs may stop '
        f'earlier), seeds {", ".join(map(str, s["seeds"]))}, '
        f'`OMP_NUM_THREADS={s["threads"]}`. Each training process is '
        'MMPretrain\'s `tools/train.py` (what `mim train` runs), killed with '
        'SIGKILL to its whole process group, then launched again with '
        '`--resume` until it exits 0 with `best_auto_epochs.pth`. A kill '
        'aims at a phase (a random delay after the log line or `.partial` '
        'checkpoint file that starts it) or at a uniformly random moment; '
        'the phase it hit is read from the last log line before the kill '
        '(and a checkpoint file left half-written). *Resumed* means the '
        'next attempt trained on (or finished); *attempts* counts the '
        'launches that took; *checkpoint after kill* is what '
        '`last_checkpoint` pointed to, loaded with mmtricks\' checkpoint '
        'loader.', '',
        '## Goals', '',
    ]
    lines += [f'- {goal}: {_yes(met)}' for goal, met in
              summary['goals'].items()]
    lines += ['', '## Kills', '',
              '| kill | run (seed) | aimed at | phase hit | epoch | s into '
              'run | s into attempt | checkpoint after kill | resumed OK | '
              'attempts | last log line before the kill |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- '
              '| --- |']
    for k in payload['kills']:
        last = (k['last_line'] or '(none yet)')[:70].replace('|', '/')
        lines.append(
            f'| {k["kill"]} | {k["run"]} ({k["seed"]}) | {k["target"]} | '
            f'{k["phase"]} | {k["epoch"]} | {k["run_seconds"]:.1f} | '
            f'{k["attempt_seconds"]:.1f} | {k["checkpoint_after"]} | '
            f'{_yes(k["resumed"])} | {k["attempts"]} | {last} |')
    lines += ['', '| phase | kills | resumed |', '| --- | --- | --- |']
    lines += [f'| {p} | {c["kills"]} | {c["resumed"]} |'
              for p, c in summary['by_phase'].items()]
    leftovers = sorted({n for r in payload['runs']
                        for n in r.get('leftover_partials') or []})
    lines += ['', f'{summary.get("during_file_write", 0)} kill(s) struck '
              'while a checkpoint file was being written (its `.partial` '
              'file left behind). Half-written files still in the work dirs '
              'of finished runs: ' + (', '.join(f'`{n}`' for n in leftovers)
                                     or 'none') + '.']
    lines += ['', '## Shipped model: val top-1', '',
              f'Uninterrupted runs (one per seed): '
              f'{_num(base["mean"])} ± {_num(base["sd"])} (n={base["n"]}: '
              + ', '.join(f'seed {b["seed"]} {_num(b.get("val_top1"))}'
                          for b in payload['baseline']) +
              f'). Within the seed noise: within {NOISE_SDS:g} sd of their '
              'mean. Val top-1 is measured on the shipped '
              '`best_auto_epochs.pth` (MMPretrain\'s `tools/test.py` on the '
              'val split); the run\'s own log line agrees unless noted.', '',
              '| killed run | seed | kills | launches | epochs | shipped val '
              'top-1 | gap to the uninterrupted mean | within the seed noise '
              '|', '| --- | --- | --- | --- | --- | --- | --- | --- |']
    compared = {c['run']: c for c in summary['compared']}
    for r in payload['runs']:
        c = compared.get(r['run'], dict(gap=None, within=None))
        note = ''
        if r.get('logged_val_top1') is not None and r.get('val_top1') is \
                not None and abs(r['logged_val_top1'] - r['val_top1']) > 0.01:
            note = f' (log: {r["logged_val_top1"]:.2f})'
        if not r.get('completed'):
            note = ' (did not complete)'
        gap = '-' if c['gap'] is None else f'{c["gap"]:+.2f}'
        lines.append(
            f'| {r["run"]} | {r["seed"]} | {len(r["kills"])} | '
            f'{r["launches"]} | {r.get("epochs") or "-"} | '
            f'{_num(r.get("val_top1"))}{note} | {gap} | '
            f'{_yes(c["within"])} |')
    failed = [dict(f, run=r['run']) for r in payload['runs']
              for f in r.get('failed_launches') or []]
    if failed:
        lines += ['', '## Launches that failed and were retried', '',
                  '| run | launch | after kill | what | last line of its '
                  'output |', '| --- | --- | --- | --- | --- |']
        lines += [f'| {f["run"]} | {f["launch"]} | {f["after_kill"]} | '
                  f'{f["what"]} | {f["error"][:120].replace("|", "/")} |'
                  for f in failed]
    if payload['failures']:
        lines += ['', '## Failures', '']
        for f in payload['failures']:
            lines += [f'- run {f["run"]} (seed {f["seed"]}), after kill '
                      f'{f.get("kill")} in phase {f.get("phase")}: '
                      f'{f["what"]}; work dir kept in `{f["kept"]}`.', '',
                      '```', f['traceback'], '```', '']
    return '\n'.join(lines) + '\n'


# processes ------------------------------------------------------------------

def mmpretrain_tool(name: str) -> str:
    """MMPretrain's ``tools/NAME.py``, the script ``mim`` runs."""
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                    f'{name}.py')


def data_options(data: str) -> List[str]:
    """``--cfg-options`` items that train the recipe on ``data``: a folder
    (``data_root``) or a bundled set's name."""
    if osp.isdir(data):
        return [f'data_root={osp.abspath(data)}']
    return [f'{loader}.dataset.bundled={data}' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]


class Attempt:
    """One launch of the training script, watched: its log's event lines
    (read as they are written), its current phase and the spans of the
    phases so far, the checkpoints it is writing.

    Args:
        command: The command line.
        work_dir: The run's work dir.
        output: Where its stdout and stderr go.
        env: Its environment.
        last_epoch: The run's epoch cap.
    """

    def __init__(self, command: List[str], work_dir: str, output: str,
                 env: Dict[str, str], last_epoch: Optional[int] = None):
        self.work_dir, self.last_epoch = work_dir, last_epoch
        self.output = output
        os.makedirs(work_dir, exist_ok=True)
        self._old_logs = set(self._logs())
        self.start = time.time()
        self._out = open(output, 'w')
        self.proc = subprocess.Popen(command, stdout=self._out,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self._log = None
        self._rest = ''
        self.lines: List[str] = []
        self.trained = False
        self.writing = False  # a .partial checkpoint file at the last poll
        self.phase = 'startup'
        self.phase_start = 0.0
        self.spans: List[tuple] = []  # (phase, start, end) seconds

    def _logs(self) -> List[str]:
        return glob.glob(osp.join(self.work_dir, '*', '*.log'))

    def seconds(self) -> float:
        return time.time() - self.start

    def _read_log(self) -> bool:
        """Take in the lines written since the last read; whether any."""
        if self._log is None:
            new = [p for p in self._logs() if p not in self._old_logs]
            if not new:
                return False
            self._log = open(max(new, key=osp.getmtime), errors='replace')
        text = self._rest + self._log.read()
        complete, _, self._rest = text.rpartition('\n')
        if not complete:
            self._rest = text
            return False
        new_lines = event_lines(complete)
        self.lines += new_lines
        self.trained = self.trained or trains(new_lines)
        return bool(new_lines)

    def partials(self, since: Optional[float] = None) -> List[str]:
        """The checkpoints being written (``.partial`` files); with
        ``since`` (epoch seconds), only those written since then."""
        try:
            names = [n for n in os.listdir(self.work_dir) if is_partial(n)]
        except FileNotFoundError:
            return []
        if since is None:
            return names
        kept = []
        for name in names:
            try:
                if osp.getmtime(osp.join(self.work_dir, name)) >= since - 1:
                    kept.append(name)
            except FileNotFoundError:
                pass
        return kept

    def _saved(self) -> bool:
        """The checkpoint the last ``Saving checkpoint`` line announced is
        complete (written by this attempt)."""
        for line in reversed(self.lines[-50:]):
            epoch = saving_epoch(line)
            if epoch is not None:
                path = osp.join(self.work_dir, f'epoch_{epoch}.pth')
                try:
                    return osp.getmtime(path) >= self.start - 1
                except FileNotFoundError:
                    return False
        return False

    def classify(self, writing: bool) -> str:
        return classify_phase(self.lines, writing, self._saved(),
                              self.last_epoch)

    def poll(self) -> Optional[int]:
        """Read what the run wrote; update its phase; its exit code, or
        None while it runs."""
        code = self.proc.poll()
        self._read_log()
        self.writing = bool(self.partials())
        phase = self.classify(self.writing)
        if phase != self.phase:
            now = self.seconds()
            self.spans.append((self.phase, self.phase_start, now))
            self.phase, self.phase_start = phase, now
        if code is not None:
            self._close()
        return code

    def _close(self) -> None:
        self._out.close()
        if self._log is not None:
            self._log.close()

    def kill(self) -> Dict:
        """SIGKILL the whole process group; what the run was doing."""
        live, seconds = self.phase, self.seconds()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._read_log()  # everything it logged before it died
        self._close()
        writing = bool(self.partials(since=self.start))
        phase = self.classify(writing)
        return dict(phase=phase, live_phase=live,
                    writing_checkpoint=writing,
                    last_line=self.lines[-1] if self.lines else None,
                    epoch=phase_epoch(self.lines, phase),
                    attempt_seconds=seconds)

    def output_text(self) -> str:
        with open(self.output, errors='replace') as f:
            return f.read()


class KillPlan:
    """When to kill an attempt: a random delay after its target phase
    begins (once the attempt has resumed and reached ``min_epoch``), or
    ``delay`` seconds after it starts for a uniform kill.

    Args:
        target: A phase of :data:`PHASES` or :data:`UNIFORM`.
        delay: Seconds after the phase begins (or, for UNIFORM, after the
            attempt starts).
        min_epoch: The earliest epoch the kill may hit.
        on_write: Kill as soon as a checkpoint's ``.partial`` file is seen
            (the file write itself takes milliseconds).
    """

    def __init__(self, target: str, delay: float, min_epoch: int = 0,
                 on_write: bool = False):
        self.target, self.delay, self.min_epoch = target, delay, min_epoch
        self.on_write = on_write
        self.kill_at: Optional[float] = None

    def due(self, attempt: Attempt, armed: bool) -> bool:
        """Whether to kill now.

        Args:
            attempt: The watched attempt.
            armed: The attempt may be killed (it has resumed).
        """
        now = attempt.seconds()
        if self.kill_at is None and armed:
            if self.target == UNIFORM:
                self.kill_at = max(now, self.delay)
            elif attempt.phase == self.target and phase_epoch(
                    attempt.lines, attempt.phase) >= self.min_epoch and \
                    (attempt.writing or not self.on_write):
                self.kill_at = now if self.on_write else \
                    attempt.phase_start + self.delay
        return self.kill_at is not None and now >= self.kill_at


def watch(attempt: Attempt, plan: Optional[KillPlan], needs_resume: bool,
          timeout: float, poll: float = 0.003) -> Dict:
    """Follow ``attempt`` until it exits, is killed by ``plan`` or runs out
    of ``timeout`` seconds.

    Args:
        attempt: The launched attempt.
        plan: When to kill it; None lets it run to its end.
        needs_resume: A kill preceded it: the plan is armed only once this
            attempt trains (:func:`trains`), so that every kill is followed
            by a resume that is seen to work.
        timeout: Seconds after which a hung attempt is killed.
        poll: Seconds between looks at the log and the work dir.
    """
    while True:
        code = attempt.poll()
        trained = attempt.trained
        if code is not None:
            return dict(outcome='exit', code=code, trained=trained,
                        seconds=attempt.seconds())
        if attempt.seconds() > timeout:
            return dict(outcome='hang', trained=trained, **attempt.kill())
        if plan is not None and plan.due(attempt,
                                         trained or not needs_resume):
            return dict(outcome='killed', trained=trained, **attempt.kill())
        time.sleep(poll)


def checkpoint_after_kill(work_dir: str) -> tuple:
    """What ``--resume`` will load: ``(description, epoch)`` of
    ``last_checkpoint``'s file, checked to load with mmtricks' loader
    (``('none', 0)`` when there is none yet: the run starts afresh; epoch
    None when the file is missing or unreadable)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return 'none', 0
    with open(pointer) as f:
        path = f.read().strip()
    name = osp.basename(path)
    if not osp.isfile(path):
        return f'{name} MISSING', None
    from mmtricks.compat.checkpoint_loading import load_checkpoint_file
    try:
        checkpoint = load_checkpoint_file(path)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return f'{name} UNREADABLE ({type(error).__name__})', None
    epoch = checkpoint.get('meta', {}).get('epoch')
    return f'{name} loads', epoch


def evaluate_shipped(config: str, work_dir: str, options: Sequence[str],
                     env: Dict[str, str], output: str) -> Optional[float]:
    """Val top-1 of the run's shipped ``best_auto_epochs.pth``: MMPretrain's
    ``tools/test.py`` on the val split (None when there is none)."""
    shipped = osp.join(work_dir, SHIPPED)
    if not osp.isfile(shipped):
        return None
    command = [sys.executable, mmpretrain_tool('test'), config, shipped,
               '--work-dir', osp.join(work_dir, 'eval_val'), '--cfg-options',
               'test_dataloader.dataset.split=val', *options]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    with open(output, 'w') as f:
        f.write(done.stdout + done.stderr)
    found = _TOP1.findall(done.stdout + done.stderr)
    return float(found[-1]) if done.returncode == 0 and found else None


def shown_path(config: str) -> str:
    """A config's path as the report shows it: from ``configs/`` on."""
    parts = osp.abspath(config).split(osp.sep)
    if 'configs' in parts:
        index = len(parts) - 1 - parts[::-1].index('configs')
        return '/'.join(parts[index:])
    return config


class Campaign:
    """Uninterrupted runs, then killed runs until ``kills`` kills are done;
    the report is rewritten after every run.

    Args:
        config: The recipe.
        data: A bundled name or a folder.
        seeds: Seeds of the uninterrupted runs; the killed runs take them
            in turn.
        max_epochs: ``train_cfg.max_epochs`` of every run.
        kills: Kills in all.
        kills_per_run: The most kills of one run.
        work_root: Where the runs' work dirs and outputs go.
        failures_dir: Where a failing run's work dir is copied.
        out_dir: Where the report goes.
        command, machine, code: Quoted in the report.
        rng: A ``random.Random``.
        threads: ``OMP_NUM_THREADS`` of every process.
        code_dir: A folder that holds the ``mmtricks`` package to train
            (:func:`snapshot_head`), put first on ``PYTHONPATH``; None:
            the installed one.
        uniform_share: Share of kills at uniformly random moments.
        retries: Launches after a kill before it counts as a failure.
        progress: Called with one line per event.
    """

    def __init__(self, config, data, seeds, max_epochs, kills, kills_per_run,
                 work_root, failures_dir, out_dir, command, machine, code,
                 rng, threads=1, uniform_share=0.2, retries=3,
                 progress: Callable[[str], None] = print,
                 code_dir: Optional[str] = None):
        self.config, self.data, self.seeds = config, data, list(seeds)
        self.max_epochs, self.target_kills = max_epochs, kills
        self.kills_per_run = kills_per_run
        self.work_root, self.failures_dir = work_root, failures_dir
        self.out_dir, self.rng, self.retries = out_dir, rng, retries
        self.uniform_share, self.progress = uniform_share, progress
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        if code_dir is not None:
            self.env['PYTHONPATH'] = os.pathsep.join(
                [code_dir] + [p for p in [os.environ.get('PYTHONPATH')] if p])
            sys.path.insert(0, code_dir)  # checkpoint_after_kill's loader
        self.payload = dict(
            command=command, machine=machine, code=code,
            settings=dict(config=shown_path(config), data=data,
                          seeds=self.seeds,
                max_epochs=max_epochs, kills=kills,
                kills_per_run=kills_per_run, threads=threads,
                uniform_share=uniform_share, retries=retries),
            baseline=[], runs=[], kills=[], failures=[])
        self.durations: Dict[str, float] = {}
        self.run_seconds = 0.0
        self.epochs = max_epochs

    # one run ---------------------------------------------------------------

    def options(self, seed: int) -> List[str]:
        return [f'train_cfg.max_epochs={self.max_epochs}',
                f'randomness.seed={seed}', *data_options(self.data)]

    def launch(self, work_dir: str, seed: int, resume: bool,
               name: str) -> Attempt:
        command = [sys.executable, mmpretrain_tool('train'), self.config,
                   '--work-dir', work_dir]
        if resume:
            command.append('--resume')
        command += ['--cfg-options', *self.options(seed)]
        logs = osp.join(self.work_root, 'outputs')
        os.makedirs(logs, exist_ok=True)
        return Attempt(command, work_dir, osp.join(logs, f'{name}.out'),
                       self.env, self.max_epochs)

    def finish_run(self, record: Dict, work_dir: str, lines) -> None:
        """Whether the run shipped its model, and that model's val top-1
        (measured, and as its log claims)."""
        record['epochs'] = max(current_epoch(lines), record.get('epochs')
                               or 0)
        record['shipped'] = osp.isfile(osp.join(work_dir, SHIPPED))
        # Half-written checkpoints of killed attempts that nothing removed.
        record['leftover_partials'] = sorted(
            n for n in os.listdir(work_dir) if is_partial(n))
        record['logged_val_top1'] = shipped_claim(lines)
        record['val_top1'] = evaluate_shipped(
            self.config, work_dir, self.options(record['seed']), self.env,
            osp.join(self.work_root, 'outputs',
                     f'{osp.basename(work_dir)}_eval.out'))
        record['completed'] = record['shipped'] and \
            record['val_top1'] is not None

    def baseline(self) -> None:
        spans = []
        for seed in self.seeds:
            work = osp.join(self.work_root, f'uninterrupted_seed{seed}')
            shutil.rmtree(work, ignore_errors=True)
            attempt = self.launch(work, seed, False, osp.basename(work))
            result = watch(attempt, None, False, timeout=6 * 3600)
            spans += attempt.spans
            record = dict(seed=seed, work_dir=work,
                          seconds=result['seconds'], code=result.get('code'))
            if result.get('code') != 0:
                self.failure(dict(run='uninterrupted', seed=seed), work,
                             attempt, 'the uninterrupted run failed')
            self.finish_run(record, work, attempt.lines)
            self.payload['baseline'].append(record)
            self.progress(f'uninterrupted seed {seed}: {record["epochs"]} '
                          f'epochs in {record["seconds"]:.0f} s, shipped val '
                          f'top-1 {_num(record["val_top1"])}')
            self.write()
        self.durations = phase_seconds(spans)
        done = [b for b in self.payload['baseline'] if b['code'] == 0]
        if done:
            self.run_seconds = statistics.median(b['seconds'] for b in done)
            self.epochs = min(b['epochs'] for b in done)
        self.payload['phase_seconds'] = self.durations

    def plan(self, resumed_from: int, fresh: bool) -> KillPlan:
        hits: Dict[str, int] = {}
        for k in self.payload['kills']:
            hits[k['phase']] = hits.get(k['phase'], 0) + 1
        target = choose_target(hits, fresh, self.uniform_share, self.rng)
        if target == UNIFORM:
            left = max(1.0, self.run_seconds * (
                1 - resumed_from / max(self.epochs, 1)))
            return KillPlan(UNIFORM, self.rng.uniform(0, left))
        # A random moment inside the phase. MMEngine serialises a
        # checkpoint in memory, then writes its .partial file in a few
        # milliseconds at the phase's very end: half the kills aimed at the
        # checkpoint strike as soon as that file is seen.
        delay = self.rng.uniform(0, 0.8 * self.durations.get(target, 0.3))
        on_write = target == 'checkpoint' and self.rng.random() < 0.5
        last = max(resumed_from + 1, self.epochs - 1)
        min_epoch = 0 if target == 'lr_test' else self.rng.randint(
            resumed_from + 1, last)  # the LR range test is before epoch 1
        return KillPlan(target, delay, min_epoch, on_write)

    def failure(self, where: Dict, work_dir: str, attempt: Attempt,
                what: str) -> str:
        """Keep the failing work dir and the attempt's output; report the
        traceback's last lines. Returns where the copy is."""
        index = len(self.payload['failures']) + 1
        kept = osp.join(self.failures_dir, f'fault_{index}')
        shutil.rmtree(kept, ignore_errors=True)
        os.makedirs(osp.dirname(osp.abspath(kept)), exist_ok=True)
        if osp.isdir(work_dir):
            shutil.copytree(work_dir, kept, symlinks=True)
        os.makedirs(kept, exist_ok=True)
        shutil.copy(attempt.output, osp.join(kept, 'attempt_output.txt'))
        entry = dict(where, what=what, kept=kept,
                     traceback=traceback_tail(attempt.output_text()))
        self.payload['failures'].append(entry)
        self.progress(f'FAILURE {index}: {what} (kept in {kept})\n'
                      f'{entry["traceback"]}')
        return kept

    def killed_run(self, index: int) -> Dict:
        """One run killed up to ``kills_per_run`` times, each kill followed
        by ``--resume`` launches until one trains, then run to its end."""
        seed = self.seeds[(index - 1) % len(self.seeds)]
        work = osp.join(self.work_root, f'killed_{index}_seed{seed}')
        shutil.rmtree(work, ignore_errors=True)
        record = dict(run=index, seed=seed, work_dir=work, kills=[],
                      launches=0, epochs=0, completed=False)
        self.payload['runs'].append(record)
        started = time.time()
        last_kill: Optional[Dict] = None
        pending = False  # last_kill not yet followed by a working resume
        failed_launches = 0
        resume_epoch, fresh = 0, True
        while True:
            record['launches'] += 1
            if pending:
                last_kill['attempts'] += 1
            attempt = self.launch(work, seed, record['launches'] > 1,
                                  f'killed_{index}_{record["launches"]}')
            kills_left = self.target_kills - len(self.payload['kills'])
            plan = self.plan(resume_epoch, fresh) if kills_left > 0 and \
                len(record['kills']) < self.kills_per_run else None
            result = watch(attempt, plan, pending,
                           timeout=10 * self.run_seconds + 600)
            record['epochs'] = max(record['epochs'],
                                   current_epoch(attempt.lines))
            if pending and (result['trained'] or result.get('code') == 0):
                last_kill['resumed'] = True
                pending = False
            if result['outcome'] == 'killed':
                failed_launches = 0
                kill = dict(
                    kill=len(self.payload['kills']) + 1, run=index,
                    seed=seed, target=plan.target + (
                        ' (file write)' if plan.on_write else ''),
                    run_seconds=time.time() - started, resumed=False,
                    attempts=0, **{k: result[k] for k in (
                        'phase', 'live_phase', 'writing_checkpoint',
                        'last_line', 'epoch', 'attempt_seconds')})
                kill['checkpoint_after'], epoch = checkpoint_after_kill(work)
                fresh = kill['checkpoint_after'] == 'none'
                resume_epoch = epoch or 0
                self.payload['kills'].append(kill)
                record['kills'].append(kill['kill'])
                last_kill, pending = kill, True
                self.progress(
                    f'kill {kill["kill"]}: run {index} (seed {seed}) aimed '
                    f'at {plan.target}, hit {kill["phase"]} in epoch '
                    f'{kill["epoch"]}, {kill["attempt_seconds"]:.1f} s into '
                    f'the attempt; checkpoint after it: '
                    f'{kill["checkpoint_after"]}')
                self.write()
                continue
            if result['outcome'] == 'exit' and result['code'] == 0:
                self.finish_run(record, work, attempt.lines)
                record['seconds'] = time.time() - started
                break
            # It failed on its own (or hung): launch again, then give up.
            what = ('hung' if result['outcome'] == 'hang' else
                    f'exited with code {result["code"]}')
            failed_launches += 1
            error = traceback_tail(attempt.output_text(), lines=1)
            record.setdefault('failed_launches', []).append(dict(
                launch=record['launches'], what=what, error=error,
                after_kill=last_kill['kill'] if last_kill else None))
            after = f' after kill {last_kill["kill"]} ({last_kill["phase"]})' \
                if last_kill else ''
            self.progress(f'run {index} launch {record["launches"]} {what}'
                          f'{after}')
            if failed_launches > self.retries:
                where = dict(run=index, seed=seed)
                if last_kill is not None:
                    where.update(kill=last_kill['kill'],
                                 phase=last_kill['phase'])
                record['failure'] = self.failure(
                    where, work, attempt,
                    f'{failed_launches} launch(es) in a row {what}'
                    + (' (--resume)' if last_kill else ''))
                break
        self.progress(
            f'run {index} (seed {seed}): {len(record["kills"])} kill(s), '
            f'{record["launches"]} launches, completed '
            f'{record["completed"]}, shipped val top-1 '
            f'{_num(record.get("val_top1"))}')
        self.write()
        return record

    def preflight(self) -> None:
        """The code the runs will import imports (a tree caught mid-edit
        would fail every launch, which says nothing about resuming)."""
        # From the training script's folder, whose sys.path it gets (the
        # current folder, maybe a checkout, is not on it).
        done = subprocess.run([sys.executable, '-c', 'import mmtricks'],
                              capture_output=True, text=True, env=self.env,
                              cwd=osp.dirname(mmpretrain_tool('train')))
        if done.returncode != 0:
            raise RuntimeError(
                'The training processes cannot import mmtricks, so no run '
                'could say anything about killing and resuming:\n'
                f'{traceback_tail(done.stderr, lines=4)}\nFix the code (or '
                'train the committed code with --snapshot) and run again.')

    def run(self) -> Dict:
        self.preflight()
        self.baseline()
        if not any(b['code'] == 0 for b in self.payload['baseline']):
            self.write()
            raise RuntimeError(
                'No uninterrupted run finished (see the failures in '
                f'{self.out_dir}/{NAME}.md): without them there are no phase '
                'timings to aim kills with and no seed noise to compare '
                'with. Fix the run first.')
        index = 0
        while len(self.payload['kills']) < self.target_kills:
            index += 1
            before = len(self.payload['kills'])
            record = self.killed_run(index)
            if record.get('failure') and not record['kills']:
                # It failed with no kill at all: every run would.
                self.progress('stopping: a run failed before any kill '
                              f'(run {index}); see the failures.')
                break
            if len(self.payload['kills']) == before and index > 3 * (
                    self.target_kills + 1):
                break  # no kill lands: stop rather than loop forever
        return self.write()

    def write(self) -> Dict:
        payload = self.payload
        payload['summary'] = summarise(payload['kills'], payload['runs'],
                                       payload['baseline'], self.target_kills)
        write_report(self.out_dir, NAME, payload, render)
        return payload


def snapshot_head(repo: str, folder: str) -> str:
    """The committed ``mmtricks/`` and ``configs/`` of ``repo`` (HEAD),
    extracted into ``folder/<commit>``: a campaign of tens of minutes then
    trains one version of the code, whatever is edited meanwhile. Put its
    path first on ``PYTHONPATH`` (ahead of an editable install's finder).
    """
    commit = subprocess.run(['git', '-C', repo, 'rev-parse', '--short',
                             'HEAD'], capture_output=True, text=True,
                            check=True).stdout.strip()
    target = osp.join(folder, commit)
    if not osp.isdir(osp.join(target, 'mmtricks')):
        os.makedirs(target, exist_ok=True)
        archive = subprocess.run(
            ['git', '-C', repo, 'archive', 'HEAD', 'mmtricks', 'configs'],
            capture_output=True, check=True).stdout
        subprocess.run(['tar', '-x', '-C', target], input=archive,
                       check=True)
    return target


def code_version(repo: str) -> str:
    """The commit the code is at, and whether files differ from it."""
    def git(*args):
        return subprocess.run(['git', '-C', repo, *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git('rev-parse', '--short', 'HEAD') or 'unknown'
    dirty = [line[3:] for line in git('status', '--porcelain').splitlines()
             if line[3:].startswith(('mmtricks/', 'configs/'))]
    return f'commit {commit}' + (
        f' with uncommitted changes to {", ".join(dirty)}' if dirty else '')
