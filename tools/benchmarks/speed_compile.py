"""``tools/benchmark.py speed --compile``: the whole recipe eager against
compiled against the recipe's own choice (``compile='auto'``).

Each run is the recipe unchanged but for ``image_size``, the epoch cap
(``--cap``, small, so that a run takes minutes) and ``compile``: LR range
test, automatic epochs (stopping at the cap), precise BN, validation and
checkpoints, scored by the benchmarks' one rule (test top-1 of the weights
it ships). The arms of one seed run one after the other (eager, compiled,
auto), so that a shared CPU's load hits them alike; the same seeds in every
arm.

Every run trains in a fresh Python process, as a user's run does: dynamo's
and Inductor's caches are process-wide and would make a later run's compile
free. Inductor's on-disk cache is a fresh folder per run, so every compile
is a cold one (a user's first run; a warm cache makes later runs' compiles
cheaper). Torch threads are chosen once, as the recipe would choose them at
the benchmark's start (``engine/cpu_settings.py``), and given to every run
as ``OMP_NUM_THREADS``: the arms train with the same threads.

Measured per run: the whole run's wall clock (``runner.train()``: LR test,
the 'auto' trial, compiling, epochs, validation, precise BN, checkpoints),
steady-state training images/s (the median of the training iterations'
times, MMEngine's ``train/time``, the first one left out), seconds spent
compiling and graphs compiled (torch's counters, as the recipe's log line
reads them), the 'auto' decision with its numbers (its log line), and test
top-1.
"""
import contextlib
import json
import logging
import math
import os
import os.path as osp
import re
import shutil
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

# Importing this module imports neither torch nor mmtricks: a run's fresh
# process imports it first (to find measure_run), and stays light until the
# run itself imports them.

from .report import write_report
from .runs import dataset_label, run_cache_key

NAME = 'speed_compile'

#: The ``compile`` setting of each arm.
ARMS = {'eager': False, 'compiled': True, 'auto': 'auto'}

#: Settings: (recipe of input_size.RECIPES, dataset, image size).
CASES = {
    'digits_32': ('mbv3', 'digits', 32),
    'elpv_poly_128': ('mbv3', 'elpv_poly', 128),
    'elpv_poly_224_effnet': ('effnet_lite0', 'elpv_poly', 224),
}

#: The epoch cap of every run (the recipe's automatic epochs stop there).
DEFAULT_CAP = 3

#: Bumped when what a child process measures changes: results stored in
#: the run cache under an older measurement are not served.
MEASUREMENT = 1

#: CPU flags the report names (what compiled kernels can use).
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16')

#: Log lines kept from a run (the recipe's own words).
LOG_LINES = {'cpu': 'CPU settings:', 'auto': 'torch.compile auto:',
             'compiled': 'torch.compile: '}

_AUTO_HEAD = re.compile(
    r'torch\.compile auto: (compiled|eager); (\d+) training steps expected, '
    r'eager ([\d.]+) s a step')
_AUTO_TRIAL = re.compile(
    r'compiled ([\d.]+) s a step \(\d+ s\) after a (\d+) s compile')


def parse_cases(items: Sequence[str], repeats: int) -> Dict[str, int]:
    """``--cases`` (``NAME`` or ``NAME=REPEATS``) as {case: repeats}, in
    the order given; ``repeats`` where a case names none."""
    cases = {}
    for item in items:
        name, _, count = item.partition('=')
        if name not in CASES:
            raise ValueError(f'Unknown compile case {name!r}: use '
                             f'{list(CASES)} (NAME or NAME=REPEATS).')
        try:
            cases[name] = int(count) if count else repeats
        except ValueError:
            raise ValueError(f'{item!r}: REPEATS must be an integer, as '
                             f'in {name}=2.') from None
        if cases[name] < 1:
            raise ValueError(f'{item!r}: at least 1 repeat.')
    return cases


def plan(cases: Dict[str, int],
         seeds: Optional[Sequence[int]] = None,
         arms: Optional[Sequence[str]] = None) -> List[Dict]:
    """``(case, arm, seed)`` of every run: one case after the other (the
    cheapest first, as given), each seed's arms one after the other. The
    seeds are 0 .. REPEATS-1, or ``seeds`` for every case (to split one
    benchmark over machines or cores; the run cache joins them); ``arms``
    keeps only those (to re-run one arm after a change to it)."""
    unknown = set(arms or ()) - set(ARMS)
    if unknown:
        raise ValueError(f'Unknown arms {sorted(unknown)}: use {list(ARMS)}.')
    return [dict(case=case, arm=arm, seed=seed)
            for case, repeats in cases.items()
            for seed in (range(repeats) if seeds is None else seeds)
            for arm in ARMS if arms is None or arm in arms]


def arm_config(case: str, arm: str, seed: int, cap: int, work_dir: str):
    """The recipe's config of one run: the input-size benchmark's run at
    the case's size, with the arm's ``compile`` and INFO logs (the compile
    lines are read back from the log file)."""
    from .input_size import run_config
    recipe, dataset, size = CASES[case]
    cfg = run_config(dataset, recipe, size, seed, cap, work_dir)
    cfg.compile = ARMS[arm]
    cfg.log_level = 'INFO'
    return cfg


def recipe_cap(case: str) -> int:
    """The shipped config's own epoch cap (for the projection)."""
    from mmengine.config import Config

    from .input_size import RECIPES
    return int(Config.fromfile(RECIPES[CASES[case][0]]).train_cfg.max_epochs)


# Pure: reading a run --------------------------------------------------------

def parse_auto_line(line: str) -> Dict:
    """The numbers of the 'auto' decision's log line
    (``compile_settings.describe_choice``)."""
    head = _AUTO_HEAD.search(line)
    if head is None:
        raise ValueError(f'Not a torch.compile auto line: {line!r}')
    trial = _AUTO_TRIAL.search(line)
    return dict(compiled=head.group(1) == 'compiled',
                steps=int(head.group(2)),
                eager_step_s=float(head.group(3)), tried=trial is not None,
                compiled_step_s=float(trial.group(1)) if trial else None,
                compile_s=float(trial.group(2)) if trial else None)


def kept_log_lines(lines: Sequence[str]) -> Dict[str, str]:
    """The recipe's lines named in :data:`LOG_LINES`, from where the words
    start (the logger's time and level left out); the last of each."""
    kept = {}
    for line in lines:
        for key, words in LOG_LINES.items():
            at = line.find(words)
            if at >= 0:
                kept[key] = line[at:].strip()
    return kept


def steady_images_per_s(iteration_s: Sequence[float],
                        batch_size: int) -> float:
    """Training images/s of a run's steady state: the median iteration
    after the first (a compile, a worker start, first allocations)."""
    steady = list(iteration_s[1:]) or list(iteration_s)
    if not steady:
        raise ValueError('The run logged no training iteration.')
    return batch_size / statistics.median(steady)


def trained_compiled(arm: str, auto: Optional[Dict]) -> bool:
    """Whether a run's training steps ran compiled."""
    if arm == 'auto':
        return bool(auto and auto['compiled'])
    return bool(ARMS[arm])


# The run, in its own process -------------------------------------------------

def measure_run(cfg) -> Dict:
    """Train and score ``cfg`` here (a fresh process) and add what this
    benchmark measures to the run's scored result."""
    import torch

    import mmtricks  # noqa: F401
    from mmtricks.compat.private_torch import (dynamo_compile_seconds,
                                               dynamo_graph_count)

    from .train import train_and_score
    graphs, compiling = dynamo_graph_count(), dynamo_compile_seconds()
    load_before = os.getloadavg()[0]
    result, runner = train_and_score(cfg)
    iteration_s = [float(t) for t in
                   runner.message_hub.get_scalar('train/time').data[0]]
    batch_size = runner.train_dataloader.batch_size
    lines: List[str] = []
    for handler in runner.logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.flush()
            with open(handler.baseFilename) as f:
                lines += f.read().splitlines()
    result.update(
        measurement=MEASUREMENT, log_lines=kept_log_lines(lines),
        graphs=dynamo_graph_count() - graphs,
        compile_s=dynamo_compile_seconds() - compiling,
        iterations=len(iteration_s), batch_size=batch_size,
        steady_iteration_s=statistics.median(iteration_s[1:] or iteration_s),
        images_per_s=steady_images_per_s(iteration_s, batch_size),
        iters_per_epoch=len(runner.train_dataloader),
        test_images=len(runner.test_dataloader.dataset),
        threads=torch.get_num_threads(), load_before=load_before,
        load_after=os.getloadavg()[0])
    return result


def _child(function: Callable, args: tuple, log_path: str,
           result_path: str) -> None:
    with open(log_path, 'a') as log:  # C-level output too (compilers)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    result = function(*args)
    with open(result_path, 'w') as f:
        json.dump(result, f)


@contextlib.contextmanager
def environment(**variables: str):
    """``os.environ`` with ``variables`` set (a spawned process inherits
    it), restored afterwards."""
    old = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_in_fresh_process(function: Callable, args: tuple, log_path: str,
                         env: Dict[str, str]) -> Dict:
    """``function(*args)`` (a JSON-able dict) in a new Python process
    (spawned: nothing of this one's torch state) with ``env`` set, its
    output appended to ``log_path``."""
    import multiprocessing
    import tempfile
    os.makedirs(osp.dirname(osp.abspath(log_path)), exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        result_path = osp.join(folder, 'result.json')
        process = multiprocessing.get_context('spawn').Process(
            target=_child, args=(function, args, log_path, result_path))
        with environment(**env):
            process.start()
        process.join()
        if process.exitcode != 0 or not osp.isfile(result_path):
            raise RuntimeError(
                f'The run in a fresh process failed (exit code '
                f'{process.exitcode}); its output is in {log_path}.')
        with open(result_path) as f:
            return json.load(f)


def recipe_threads(load: float) -> Dict:
    """The torch threads the recipe would choose now (``OMP_NUM_THREADS``
    kept when set) and its reason."""
    from mmtricks.cpu_facts import usable_cpus
    from mmtricks.engine.cpu_settings import (busy_cpus, choose_cpu_settings,
                                              omp_num_threads)
    cpus, omp = usable_cpus(), omp_num_threads()
    settings = choose_cpu_settings(cpus, 1, omp, True, busy_cpus(cpus, load))
    return dict(threads=settings.threads or omp, reason=settings.reason)


def cpu_flags() -> Dict[str, bool]:
    from mmtricks.cpu_facts import cpu_info
    flags = cpu_info().flags
    return {flag: flag in flags for flag in CPU_FLAGS}


# Pure: summaries and goals ---------------------------------------------------

def summarise(runs: Sequence[Dict], caps: Dict[str, int]) -> Dict:
    """Per case and arm: means ± sd over the seeds and every value; the
    goals and the projection to the recipe's own epoch cap."""
    from .input_size import mean_sd
    cases = {}
    for case in dict.fromkeys(r['case'] for r in runs):
        arms = {}
        for arm in ARMS:
            results = [r['result'] for r in runs
                       if r['case'] == case and r['arm'] == arm]
            if not results:
                continue
            autos = [parse_auto_line(r['log_lines']['auto'])
                     if 'auto' in r['log_lines'] else None for r in results]
            values = {key: [float(r[key]) for r in results] for key in (
                'images_per_s', 'seconds', 'compile_s', 'test_top1',
                'steady_iteration_s')}
            arms[arm] = dict(
                seeds=[r['seed'] for r in runs
                       if r['case'] == case and r['arm'] == arm],
                all=values, **{k: mean_sd(v) for k, v in values.items()},
                graphs=[int(r['graphs']) for r in results],
                epochs=[int(r['epochs']) for r in results],
                trained_compiled=[trained_compiled(arm, a) for a in autos],
                auto=[a for a in autos if a is not None],
                threads=sorted({int(r['threads']) for r in results}),
                iters_per_epoch=int(results[0]['iters_per_epoch']),
                test_images=int(results[0]['test_images']),
                lr_test_steps=int(results[0].get('finder_steps') or 0))
        recipe, dataset, size = CASES[case]
        cases[case] = dict(recipe=recipe, dataset=dataset_label(dataset),
                           image_size=size, arms=arms,
                           goals=case_goals(arms),
                           projection=projection_of(arms, caps.get(case)))
    return dict(cases=cases, goals=overall_goals(
        [c['goals'] for c in cases.values()]))


def slower_beyond_spread(slow: Sequence[float],
                         fast: Sequence[float]) -> bool:
    """Whether every value of ``slow`` is above every value of ``fast``:
    slower beyond the repeats' spread."""
    return min(slow) > max(fast)


def within_seed_noise(a: Sequence[float], b: Sequence[float],
                      floor: float) -> Optional[Dict]:
    """Whether two arms' means differ by at most two standard errors of
    the difference (and at least ``floor``, one test image); None with
    fewer than two seeds an arm (no noise to judge by)."""
    if len(a) < 2 or len(b) < 2:
        return None
    difference = statistics.fmean(a) - statistics.fmean(b)
    bound = max(floor, 2 * math.sqrt(statistics.variance(a) / len(a) +
                                     statistics.variance(b) / len(b)))
    return dict(difference=difference, bound=bound,
                met=abs(difference) <= bound)


def case_goals(arms: Dict) -> Dict:
    """The issue's goals on one case; None where the arms needed are
    missing (or, for taking the speed-up, where there was none to take)."""
    goals = dict(never_slower=None, speedup_exists=None,
                 takes_speedup=None, top1_within_noise=None)
    eager, compiled, auto = (arms.get(a) for a in ARMS)
    if eager and auto:
        goals['never_slower'] = not slower_beyond_spread(
            auto['all']['seconds'], eager['all']['seconds'])
    if eager and compiled:
        exists = slower_beyond_spread(eager['all']['seconds'],
                                      compiled['all']['seconds'])
        goals['speedup_exists'] = exists
        if exists and auto:
            goals['takes_speedup'] = all(auto['trained_compiled']) and \
                slower_beyond_spread(eager['all']['seconds'],
                                     auto['all']['seconds'])
        goals['top1_within_noise'] = within_seed_noise(
            compiled['all']['test_top1'], eager['all']['test_top1'],
            100.0 / eager['test_images'])
    return goals


def overall_goals(case_goals: Sequence[Dict]) -> Dict:
    """Each goal over the cases: True (met on every case that judged it),
    False (missed on one), None (no case judged it)."""
    def verdict(values):
        judged = [v for v in values if v is not None]
        return all(judged) if judged else None
    return dict(
        never_slower=verdict([g['never_slower'] for g in case_goals]),
        takes_speedup=verdict([g['takes_speedup'] for g in case_goals]),
        top1_within_noise=verdict([
            None if g['top1_within_noise'] is None
            else g['top1_within_noise']['met'] for g in case_goals]))


def projection(eager_step_s: float, compiled_step_s: float,
               compile_s: float, iters_per_epoch: int, cap: int,
               lr_test_steps: int) -> Dict:
    """A full-length run of the recipe (``cap`` epochs) from the measured
    steady steps and compile time: whether compiling would pay, and what
    'auto' would do there (its own rules, ``compile_settings``)."""
    from mmtricks.engine.compile_settings import (EXPECTED_SPEEDUP,
                                                  expected_iterations,
                                                  keep_compiled,
                                                  worth_a_trial)
    steps = expected_iterations(cap * iters_per_epoch, 0, True,
                                lr_test_steps)
    eager_s = steps * eager_step_s
    compiled_s = compile_s + steps * compiled_step_s
    tries = worth_a_trial(eager_step_s, steps, EXPECTED_SPEEDUP['cpu'])
    keeps = tries and keep_compiled(eager_step_s, compiled_step_s)
    auto_s = compiled_s if keeps else eager_s + (compile_s if tries else 0)
    saving = eager_step_s - compiled_step_s
    return dict(cap=cap, steps=steps, eager_s=eager_s, compiled_s=compiled_s,
                pays=compiled_s < eager_s, auto_tries=tries,
                auto_keeps=keeps, auto_s=auto_s,
                break_even_steps=compile_s / saving if saving > 0 else None)


def projection_of(arms: Dict, cap: Optional[int]) -> Optional[Dict]:
    eager, compiled = arms.get('eager'), arms.get('compiled')
    if cap is None or not eager or not compiled:
        return None
    return projection(eager['steady_iteration_s']['mean'],
                      compiled['steady_iteration_s']['mean'],
                      compiled['compile_s']['mean'],
                      eager['iters_per_epoch'], cap, eager['lr_test_steps'])


# The benchmark ---------------------------------------------------------------

def run_benchmark(cases: Dict[str, int], cap: int, out: str,
                  work_dir: str, command: str, machine: str, cache,
                  progress=print,
                  seeds: Optional[Sequence[int]] = None,
                  arms: Optional[Sequence[str]] = None) -> Dict:
    """Every run of :func:`plan`, each in a fresh process through the run
    cache; the report rewritten after each run (a cut-off benchmark keeps
    what it measured)."""
    load_at_start = os.getloadavg()[0]
    threads = recipe_threads(load_at_start)
    log_path = osp.join(work_dir, 'console.log')
    payload = dict(command=command, machine=machine, cpu_flags=cpu_flags(),
                   shared_cpu=True, load_at_start=load_at_start,
                   threads=threads, cap=cap, repeats=dict(cases),
                   seeds=None if seeds is None else list(seeds),
                   runs=[], failures=[])
    caps = {case: recipe_cap(case) for case in cases}
    started = time.perf_counter()
    for run in plan(cases, seeds, arms):
        label = f'{run["case"]} {run["arm"]} seed {run["seed"]}'
        name = f'{run["case"]}_{run["arm"]}_{run["seed"]}'
        cfg = arm_config(run['case'], run['arm'], run['seed'], cap,
                         osp.join(work_dir, name))
        inductor = osp.abspath(osp.join(work_dir, 'inductor_cache', name))
        key = run_cache_key(cfg, benchmark=NAME, measurement=MEASUREMENT,
                            case=run['case'], arm=run['arm'],
                            seed=run['seed'], threads=threads['threads'])

        def train(cfg=cfg, inductor=inductor):
            shutil.rmtree(inductor, ignore_errors=True)  # a cold compile
            return run_in_fresh_process(
                measure_run, (cfg, ), log_path,
                dict(OMP_NUM_THREADS=str(threads['threads']),
                     TORCHINDUCTOR_CACHE_DIR=inductor))
        try:
            result = cache.get_or_run(key, train)
        except RuntimeError as error:
            payload['failures'].append(dict(run, error=str(error)))
            progress(f'{label}: failed ({error})')
            continue
        payload['runs'].append(dict(run, result=result))
        payload['load_at_end'] = os.getloadavg()[0]
        payload['wall_s'] = time.perf_counter() - started
        payload['summary'] = summarise(payload['runs'], caps)
        write_report(out, NAME, payload, render)
        progress(f'{label}: {result["seconds"]:.0f} s, '
                 f'{result["images_per_s"]:.0f} images/s, compile '
                 f'{result["compile_s"]:.0f} s, test top-1 '
                 f'{result["test_top1"]:.2f}')
    return payload


def join(payloads: Sequence[Dict], note: str) -> Dict:
    """One report of runs made apart (on two cores, or one arm re-run after
    a change to it): the first payload's machine facts, every run, the
    summary recomputed over them, each invocation's command, and ``note``
    saying how they were made."""
    runs = [run for payload in payloads for run in payload['runs']]
    caps = {case: recipe_cap(case)
            for case in dict.fromkeys(run['case'] for run in runs)}
    return dict(payloads[0], runs=runs, summary=summarise(runs, caps),
                failures=[f for p in payloads for f in p['failures']],
                commands=[p['command'] for p in payloads], note=note,
                load_at_end=payloads[-1].get('load_at_end'),
                wall_s=sum(p.get('wall_s', 0.0) for p in payloads))


# The report ------------------------------------------------------------------

def _ms(stats: Dict, digits: int = 0) -> str:
    return f'{stats["mean"]:.{digits}f} ± {stats["sd"]:.{digits}f}'


def _values(values: Sequence[float], digits: int = 0) -> str:
    return ', '.join(f'{v:.{digits}f}' for v in values)


def _verdict(value) -> str:
    return {True: '**met**', False: '**missed**', None: 'not judged'}[value]


def _auto_cell(arm: Dict) -> str:
    cells = []
    for auto in arm['auto']:
        if auto['tried']:
            cells.append(f'{"compiled" if auto["compiled"] else "eager"} '
                         f'(tried: {auto["eager_step_s"]:.3f} vs '
                         f'{auto["compiled_step_s"]:.3f} s a step, '
                         f'{auto["compile_s"]:.0f} s compile, '
                         f'{auto["steps"]} steps)')
        else:
            cells.append(f'eager, not tried ({auto["steps"]} steps x '
                         f'{auto["eager_step_s"]:.3f} s)')
    return '; '.join(cells) or '-'


def render(payload: Dict) -> str:
    threads = payload['threads']
    flags = ', '.join(f'{k} {"yes" if v else "no"}'
                      for k, v in payload['cpu_flags'].items())
    lines = [
        '# torch.compile in the whole recipe: eager, compiled, auto', '',
        '; '.join(f'`{c}`' for c in payload.get('commands')
                  or [payload['command']]), '',
        f'Machine: {payload["machine"]}; CPU flags: {flags}. The CPU was '
        '**shared** with other jobs while this ran: 1-minute load average '
        f'{payload["load_at_start"]:.1f} at the start and '
        f'{payload.get("load_at_end", float("nan")):.1f} at the end (each '
        'run\'s own before/after are in the JSON). Every run trained with '
        f'{threads["threads"]} torch thread(s), as the recipe chose at the '
        f'start ({threads["reason"]}), given to each run as '
        'OMP_NUM_THREADS so that the arms train alike.', '',
        f'Each run: the recipe unchanged but for the size, the epoch cap '
        f'(**{payload["cap"]} epochs**, to keep a run to minutes; the '
        'recipe\'s own caps are 60 and 20) and `compile` (False / True / '
        '\'auto\'), in a fresh process with a cold Inductor cache (a '
        'user\'s first run). The same seeds (0, 1, ...) in every arm, the '
        'arms of a seed one after the other. Whole run: `runner.train()` '
        '(LR range test, the '
        '\'auto\' trial, compiling, epochs, validation, precise BN, '
        'checkpoints). Images/s: steady state, the median training '
        'iteration after the first. Compile: seconds torch spent '
        'compiling; graphs: graphs it compiled (recompiles included). Test '
        'top-1 of the weights each run ships. Means ± sd over the seeds, '
        'each value after. This invocation took '
        f'{payload.get("wall_s", 0) / 60:.0f} min (runs the run cache '
        'served take none).',
        '']
    if payload.get('note'):
        lines += [payload['note'], '']
    lines += [
        '| setting | arm | seeds | images/s | whole run s | compile s | '
        'graphs | epochs | test top-1 | trained compiled | auto decided |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    summary = payload.get('summary', dict(cases={}, goals={}))
    for case, c in summary['cases'].items():
        setting = f'{c["dataset"]} {c["image_size"]} px, {c["recipe"]}'
        for arm, a in c['arms'].items():
            all_ = a['all']
            lines.append(
                f'| {setting} | {arm} | {len(a["seeds"])} | '
                f'{_ms(a["images_per_s"])} '
                f'({_values(all_["images_per_s"])}) | {_ms(a["seconds"])} '
                f'({_values(all_["seconds"])}) | {_ms(a["compile_s"])} | '
                f'{_values(a["graphs"])} | {_values(a["epochs"])} | '
                f'{_ms(a["test_top1"], 2)} ({_values(all_["test_top1"], 2)})'
                f' | {sum(a["trained_compiled"])}/{len(a["trained_compiled"])}'
                f' | {_auto_cell(a) if arm == "auto" else "-"} |')
    lines += ['', '## Goals', '',
              'Never slower: the auto arm is slower than eager only if every '
              'auto run took longer than every eager run (beyond the '
              'repeats\' spread). A speed-up exists where every compiled run '
              'was faster than every eager run; auto takes it if it trained '
              'compiled in every run and was faster than eager the same '
              'way. Top-1 within seed noise: compiled minus eager mean test '
              'top-1 within two standard errors of the difference (at least '
              'one test image).', '',
              '| setting | auto never slower than eager | compiled speed-up '
              'exists | auto takes it | compiled top-1 - eager |',
              '| --- | --- | --- | --- | --- |']
    for case, c in summary['cases'].items():
        g = c['goals']
        noise = g['top1_within_noise']
        top1 = 'not judged' if noise is None else (
            f'{noise["difference"]:+.2f} (bound ±{noise["bound"]:.2f}): '
            f'{_verdict(noise["met"])}')
        exists = {True: 'yes', False: 'no', None: '-'}[g['speedup_exists']]
        takes = 'nothing to take' if g['speedup_exists'] is False \
            else _verdict(g['takes_speedup'])
        lines.append(f'| {c["dataset"]} {c["image_size"]} px | '
                     f'{_verdict(g["never_slower"])} | {exists} | {takes} | '
                     f'{top1} |')
    goals = summary['goals']
    if goals:
        lines += ['', f'Over the settings: auto never slower than eager '
                  f'{_verdict(goals["never_slower"])}; takes the compiled '
                  f'speed-up where it exists '
                  f'{_verdict(goals["takes_speedup"])}; compiled top-1 '
                  f'within seed noise of eager '
                  f'{_verdict(goals["top1_within_noise"])}.']
    projected = [(c, c['projection']) for c in summary['cases'].values()
                 if c['projection']]
    if projected:
        lines += [
            '', '## Projected to the recipe\'s own epoch cap', '',
            'Not measured: the measured steady step times and compile '
            'seconds (means) put into a run of the recipe\'s own cap, of '
            'which automatic epochs are expected to train half (as '
            '`compile_settings.expected_iterations` assumes), plus the LR '
            'range test. Auto: what the recipe\'s rules (`worth_a_trial`, '
            '`keep_compiled`) would decide with these numbers.', '',
            '| setting | cap | steps | eager s | compiled s (compile incl.) | '
            'compiling pays | break-even steps | auto tries / keeps | '
            'auto s |',
            '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
        for c, p in projected:
            even = '-' if p['break_even_steps'] is None \
                else f'{p["break_even_steps"]:.0f}'
            lines.append(
                f'| {c["dataset"]} {c["image_size"]} px | {p["cap"]} | '
                f'{p["steps"]} | {p["eager_s"]:.0f} | {p["compiled_s"]:.0f} '
                f'| {"yes" if p["pays"] else "no"} | {even} | '
                f'{"yes" if p["auto_tries"] else "no"} / '
                f'{"yes" if p["auto_keeps"] else "no"} | {p["auto_s"]:.0f} '
                f'(x{p["auto_s"] / p["eager_s"]:.2f} eager) |')
    autos = [(CASES[r['case']], r['seed'], r['result']['log_lines']['auto'])
             for r in payload['runs'] if 'auto' in r['result']['log_lines']]
    if autos:
        lines += ['', '## The recipe\'s log lines (auto arm)', '']
        lines += [f'- {dataset_label(dataset)} {size} px, seed {seed}: '
                  f'`{line}`' for (_, dataset, size), seed, line in autos]
    if payload['failures']:
        lines += ['', '## Failed runs', '']
        lines += [f'- {f["case"]} {f["arm"]} seed {f["seed"]}: {f["error"]}'
                  for f in payload['failures']]
    return '\n'.join(lines) + '\n'
