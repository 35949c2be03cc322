"""Training speed of the automatic recipe: the settings before the speed
work ("today": 2 persistent loader workers, images decoded from files every
epoch, default torch threads, NCHW) against the new defaults, each change on
its own, plus a profile of one epoch and the share of the FLOP bound.

Timed on the real recipe's model, data pipeline and optimizer wrapper
(``configs/auto_mbv3.py``, ``configs/auto_effnet_lite0.py``), with the same
steps as ``train_step`` split by phase: waiting for the batch, the data
preprocessor (host-to-model copy and normalisation), forward + loss,
backward, optimizer step. Variants of one dataset are interleaved (A/B/A/B)
so that a shared CPU's load hits them alike.
"""
import contextlib
import os
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional

from . import shipped_config
from .report import write_report
from .runs import bundled_config, machine_description

NAME = 'speed'

#: The loader settings before the speed work.
TODAY_WORKERS = 2

#: Rows: what each variant turns on. ``cpu``: apply_cpu_settings (threads
#: and workers); ``channels_last``: the model in NHWC; ``cache``: a folder's
#: images decoded once (only meaningful for a folder).
VARIANTS = {
    'today': dict(cpu=False, channels_last=False, cache=False),
    # the workers part of the CPU settings alone (torch's default threads)
    'no_workers': dict(cpu=False, channels_last=False, cache=False,
                       workers=0),
    'cpu_settings': dict(cpu=True, channels_last=False, cache=False),
    'channels_last': dict(cpu=False, channels_last=True, cache=False),
    'cache': dict(cpu=False, channels_last=False, cache=True),
    # the README's old advice for a machine shared by several jobs
    'one_thread': dict(cpu=True, channels_last=False, cache=False,
                       threads=1),
    'new_defaults': dict(cpu=True, channels_last=True, cache=True),
}

PHASES = ('data', 'preprocess', 'forward', 'backward', 'optimizer')


def cpu_peak_gflops() -> Dict:
    """Assumed FP32 peak of the usable cores from the CPU's flags: FMA
    lanes per cycle (AVX-512: 2x16, AVX2+FMA: 2x8, else 4) x 2 FLOPs x the
    nominal clock (from /proc/cpuinfo's ``cpu MHz``) x cores."""
    from mmtricks.cpu_facts import cpu_info, usable_cpus
    info = cpu_info()
    flags, mhz = info.flags, info.mhz
    if 'avx512f' in flags:
        lanes, isa = 32, 'AVX-512 (2 FMA units x 16 FP32)'
    elif 'avx2' in flags and 'fma' in flags:
        lanes, isa = 16, 'AVX2 + FMA (2 FMA units x 8 FP32)'
    else:
        lanes, isa = 4, 'SSE (4 FP32)'
    cores = usable_cpus()
    ghz = (mhz or 2000.0) / 1000
    return dict(isa=isa, ghz=ghz, cores=cores, flops_per_cycle=2 * lanes,
                gflops=cores * ghz * 2 * lanes)


def model_macs(model, image_size: int) -> float:
    """Multiply-accumulates of one image's forward pass (mmengine's
    FlopAnalyzer, which counts one MAC as one "flop")."""
    import torch
    from mmengine.analysis import FlopAnalyzer
    model.eval()
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (torch.zeros(1, 3, image_size,
                                                    image_size), ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        macs = float(analyzer.total())
    model.train()
    return macs


def variant_config(config: str, dataset: str, image_size: int,
                   variant: Dict, work_dir: str, batch_size: int = 64):
    """The recipe's config for one variant (LR finder and epoch policy
    off: throughput only), at ``image_size`` and with the runner's data
    decisions applied (the benchmark builds a plain Runner, which does not
    decide them: ``cpu_settings`` is the variant's, not the machine's)."""
    from mmtricks.engine.recipe_config import apply_data_decisions
    cfg = bundled_config(dataset, epochs=2, seed=0, work_dir=work_dir,
                         finder=False, path=config)
    cfg.image_size = image_size  # the recipe's one size setting
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].batch_size = batch_size
        cfg[name].dataset.cache_images = variant['cache']
        if variant['cpu']:
            cfg[name].num_workers = 'auto'
        else:
            cfg[name].num_workers = variant.get('workers', TODAY_WORKERS)
            cfg[name].persistent_workers = cfg[name].num_workers > 0
    apply_data_decisions(cfg)
    return cfg


@contextlib.contextmanager
def torch_threads(threads: int):
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def default_threads() -> int:
    """torch's default without OMP_NUM_THREADS: one per usable core."""
    from mmtricks.cpu_facts import usable_cpus
    return usable_cpus()


def build_runner(cfg):
    """The one Runner of this benchmark, from its own config (no
    ``load_from``/``resume``; offline initialisers only)."""
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


def time_training(cfg, variant: Dict, iters: int, warmup: int,
                  load: Optional[float] = None) -> Dict:
    """Seconds per phase of ``iters`` training iterations after ``warmup``
    (the loader's workers starting, first allocations), on the recipe's
    model, data loader and optimizer wrapper."""
    import torch

    from mmtricks.engine.cpu_settings import apply_cpu_settings
    from mmtricks.hooks.channels_last_hook import to_memory_format

    line = None
    threads = default_threads()
    if variant['cpu']:
        with torch_threads(threads):
            line = apply_cpu_settings(cfg, environ={}, load=load)[0]
            threads = variant.get('threads') or torch.get_num_threads()
    t0 = time.perf_counter()
    runner = build_runner(cfg)
    loader = runner.build_dataloader(cfg.train_dataloader)
    setup = time.perf_counter() - t0  # incl. the cache's decoding
    model = runner.model
    wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    if variant['channels_last']:
        to_memory_format(model, torch.channels_last)
    model.train()
    times = {p: [] for p in PHASES}
    with torch_threads(threads):
        batches = _cycle(loader)
        for i in range(warmup + iters):
            t = [time.perf_counter()]
            batch = next(batches)
            t.append(time.perf_counter())
            data = model.data_preprocessor(batch, True)
            t.append(time.perf_counter())
            losses = model(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
            t.append(time.perf_counter())
            wrapper.backward(loss)
            t.append(time.perf_counter())
            wrapper.step()
            wrapper.zero_grad()
            t.append(time.perf_counter())
            if i >= warmup:
                for p, a, b in zip(PHASES, t, t[1:]):
                    times[p].append(b - a)
    del batches, loader
    total = sum(sum(v) for v in times.values())
    return dict(
        seconds_per_iter=total / iters,
        images_per_s=iters * cfg.train_dataloader.batch_size / total,
        phases={p: sum(v) / iters for p, v in times.items()},
        threads=threads, workers=cfg.train_dataloader.num_workers,
        cpu_line=line, setup_s=setup, iters=iters)


def _cycle(loader):
    while True:
        yield from loader


def measure_rows(config: str, dataset: str, image_size: int,
                 variants: List[str], iters: int, warmup: int,
                 repeats: int, work_dir: str, progress=print,
                 load: Optional[float] = None) -> Dict[str, Dict]:
    """Every variant ``repeats`` times, interleaved; each row keeps its
    fastest repeat (the least disturbed by the shared CPU) and all
    images/s."""
    runs: Dict[str, List[Dict]] = {v: [] for v in variants}
    for repeat in range(repeats):
        for name in variants:
            cfg = variant_config(config, dataset, image_size, VARIANTS[name],
                                 osp.join(work_dir, name))
            result = time_training(cfg, VARIANTS[name], iters, warmup, load)
            runs[name].append(result)
            progress(f'{osp.basename(config)} {_label(dataset)} '
                     f'{image_size}px {name} (repeat {repeat + 1}): '
                     f'{result["images_per_s"]:.0f} images/s')
    rows = {}
    for name, results in runs.items():
        best = max(results, key=lambda r: r['images_per_s'])
        rows[name] = dict(best, all_images_per_s=[
            r['images_per_s'] for r in results])
    return rows


def _label(dataset: str) -> str:
    return osp.basename(osp.normpath(dataset)) if osp.isdir(dataset) \
        else dataset


def profile_epoch(config: str, dataset: str, image_size: int,
                  work_dir: str, new_defaults: bool = True,
                  load: Optional[float] = None) -> Dict:
    """One epoch of the recipe with its hooks (LR finder off: it is timed by
    ``tools/benchmark.py lr-finder``), each hook's methods and the
    validation timed; the real checkpoint hook (every epoch and the best)."""
    import torch

    from mmtricks.engine.cpu_settings import apply_cpu_settings
    variant = VARIANTS['new_defaults' if new_defaults else 'today']
    cfg = variant_config(config, dataset, image_size, variant, work_dir)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2,
        save_best='accuracy/top1', rule='greater')
    if variant['channels_last']:
        cfg.custom_hooks.append(dict(type='ChannelsLastHook'))
    cfg.train_cfg.max_epochs = 1
    threads = default_threads()
    with torch_threads(threads):
        if variant['cpu']:
            apply_cpu_settings(cfg, environ={}, load=load)
        threads = torch.get_num_threads()
    times: Dict[str, float] = {}
    runner = build_runner(cfg)

    def timed(key, function):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t
        return wrapper

    for hook in runner.hooks:
        for stage in hook.get_triggered_stages():
            method = getattr(hook, stage, None)
            if method is not None:
                setattr(hook, stage, timed(f'hook {type(hook).__name__}',
                                           method))
    train_loop = runner.train_loop
    train_loop.run_iter = timed('train iterations', train_loop.run_iter)
    val_loop = runner.val_loop
    val_loop.run = timed('validation (incl. its hooks)', val_loop.run)
    with torch_threads(threads):
        t = time.perf_counter()
        runner.train()
        total = time.perf_counter() - t
    return dict(total_s=total, parts=times,
                train_images=len(runner.train_dataloader.dataset),
                iters=len(runner.train_dataloader), threads=threads)


def export_folder(name: str, root: str) -> str:
    """Bundled ``name`` exported as PNG files at its native size (once)."""
    from mmtricks.datasets import export_bundled
    if not osp.isdir(osp.join(root, 'train')):
        export_bundled(name, root, image_size=None)
    return root


def run_benchmark(out: str, work_dir: str, command: str, iters: int = 12,
                  warmup: int = 3, repeats: int = 2, quick: bool = False,
                  progress=print) -> Dict:
    import mmtricks  # noqa: F401
    # Other jobs' load, read once before this benchmark loads the CPU
    # itself (as a training job reads it once at start).
    load = os.getloadavg()[0]
    rows4 = ['today', 'no_workers', 'cpu_settings', 'channels_last',
             'new_defaults']
    cases = [
        # (config, dataset, image size, variants, iterations)
        (shipped_config('auto_mbv3.py'), 'digits', 32,
         rows4, iters),
        (shipped_config('auto_mbv3.py'), 'elpv_poly', 128, rows4,
         max(4, iters // 2)),
        (shipped_config('auto_effnet_lite0.py'), 'digits', 32,
         ['today', 'cpu_settings', 'new_defaults'], max(4, iters // 2)),
        (shipped_config('auto_effnet_lite0.py'), 'elpv_poly', 128,
         ['today', 'cpu_settings', 'new_defaults'], max(3, iters // 4)),
    ]
    folder = export_folder('elpv_poly', osp.join(work_dir, 'elpv_folder'))
    cases.append((shipped_config('auto_mbv3.py'), folder, 128,
                  ['today', 'cache', 'new_defaults'], max(4, iters // 2)))
    if quick:
        cases = [cases[0]]
    results = []
    for config, dataset, size, variants, n in cases:
        rows = measure_rows(config, dataset, size, variants, n, warmup,
                            repeats, osp.join(work_dir, 'rows'), progress,
                            load)
        cfg = variant_config(config, dataset, size, VARIANTS['today'],
                             work_dir)
        macs = model_macs(build_runner(cfg).model, size)
        results.append(dict(config=osp.relpath(config, osp.dirname(
            osp.dirname(config))), dataset=_label(dataset),
            folder=osp.isdir(dataset), image_size=size, macs=macs,
            rows=rows))
    profiles = []
    for dataset, size in (('digits', 32), ('elpv_poly', 128))[:1 if quick
                                                              else 2]:
        for new in (False, True):
            progress(f'profiling one epoch of {dataset} at {size}px '
                     f'({"new defaults" if new else "today"})')
            profiles.append(dict(
                dataset=dataset, image_size=size,
                settings='new_defaults' if new else 'today',
                **profile_epoch(shipped_config('auto_mbv3.py'), dataset, size,
                                osp.join(work_dir, f'profile_{dataset}_'
                                         f'{int(new)}'), new, load)))
    payload = dict(command=command, machine=machine_description(),
                   shared_cpu=True, load_at_start=load,
                   peak=cpu_peak_gflops(), iters=iters,
                   warmup=warmup, repeats=repeats, results=results,
                   profiles=profiles)
    write_report(out, NAME, payload, render)
    return payload


def flop_share(macs: float, images_per_s: float, peak_gflops: float):
    """Share of the FP32 peak reached: training ~3x the forward's
    2 x MACs FLOPs per image."""
    return 3 * 2 * macs * images_per_s / (peak_gflops * 1e9)


def render(payload: Dict) -> str:
    peak = payload['peak']
    lines = [
        '# Training speed of the automatic recipe', '',
        f'`{payload["command"]}`', '',
        f'Machine: {payload["machine"]}. The CPU was **shared** with other '
        'jobs while this ran: ratios come from interleaved repeats (each row '
        f'the fastest of {payload["repeats"]}), absolute numbers are '
        'pessimistic. 1-minute load average at the start (other jobs): '
        f'{payload["load_at_start"]:.1f}, which the CPU settings read.', '',
        f'Peak assumed: {peak["cores"]} cores x {peak["ghz"]:.2f} GHz x '
        f'{peak["flops_per_cycle"]} FP32 FLOPs a cycle ({peak["isa"]}) = '
        f'{peak["gflops"]:.0f} GFLOP/s. Training counted as 3x the forward '
        '(2 FLOPs a MAC, MACs from mmengine\'s FlopAnalyzer).', '',
        '"today": 2 persistent loader workers, images decoded from files '
        'every epoch, default torch threads, NCHW. Each other row turns one '
        'change on; "new_defaults" all of them. Iterations after '
        f'{payload["warmup"]} warm-up ones; batch 64.', '',
        '| config | data | px | settings | images/s (repeats) | x today | '
        's/iter | data | preprocess | forward | backward | optimizer | '
        'threads / workers | % of FP32 peak |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | '
        '--- | --- | --- |']
    for result in payload['results']:
        base = result['rows']['today']['images_per_s']
        for name, row in result['rows'].items():
            phases = ' | '.join(f'{1000 * row["phases"][p]:.0f} ms'
                                for p in PHASES)
            share = 100 * flop_share(result['macs'], row['images_per_s'],
                                     peak['gflops'])
            reps = ', '.join(f'{v:.0f}' for v in row['all_images_per_s'])
            data = result['dataset'] + (' (PNG folder)' if result['folder']
                                        else '')
            lines.append(
                f'| {result["config"]} | {data} | {result["image_size"]} | '
                f'{name} | {row["images_per_s"]:.0f} ({reps}) | '
                f'x{row["images_per_s"] / base:.2f} | '
                f'{row["seconds_per_iter"]:.3f} | {phases} | '
                f'{row["threads"]} / {row["workers"]} | {share:.1f} |')
    on_top = []
    for r in payload['results']:
        rows = r['rows']
        if 'cpu_settings' in rows and 'new_defaults' in rows and \
                not r['folder']:
            # bundled sets are in memory: new_defaults = CPU settings +
            # channels_last, so their ratio is channels_last's own gain
            # with the new threads (rows with torch's default threads on a
            # loaded CPU are dominated by the contention).
            gain = rows['new_defaults']['images_per_s'] / \
                rows['cpu_settings']['images_per_s']
            on_top.append(f'{r["config"]} {r["dataset"]} '
                          f'{r["image_size"]} px x{gain:.2f}')
    if on_top:
        lines += ['', 'channels_last on top of the CPU settings (same '
                  'threads and workers; new_defaults / cpu_settings): ' +
                  ', '.join(on_top) + '.']
    lines += ['', 'MACs a forward image: ' + ', '.join(
        f'{r["config"]} {r["image_size"]} px {r["macs"] / 1e6:.1f} M'
        for r in payload['results']), '']
    folder_rows = [r for r in payload['results'] if r['folder']]
    for r in folder_rows:
        cached = r['rows'].get('cache') or r['rows'].get('new_defaults')
        uncached = r['rows']['today']['setup_s']
        lines.append(f'Setting up the PNG folder\'s train loader at '
                     f'{r["image_size"]} px: {uncached:.1f}'
                     f' s uncached, {cached["setup_s"]:.1f} s with the cache '
                     '(decoding every image once).')
    if payload['profiles']:
        lines += ['', '## One epoch of configs/auto_mbv3.py, by part', '',
                  'LR finder off (timed by `tools/benchmark.py lr-finder`); '
                  'the config\'s checkpoint hook (every epoch + best). Hook '
                  'times include whatever a hook runs (PreciseBNStatsHook: '
                  'its forward passes; CheckpointHook: saving); validation '
                  'includes its own hooks.', '',
                  '| data | px | settings | epoch s | train iterations | '
                  'validation | hooks over 2% of the epoch |',
                  '| --- | --- | --- | --- | --- | --- | --- |']
        for p in payload['profiles']:
            parts = p['parts']
            hooks = ', '.join(
                f'{k[5:]} {v:.2f} s' for k, v in sorted(
                    parts.items(), key=lambda kv: -kv[1])
                if k.startswith('hook ') and v > 0.02 * p['total_s'])
            lines.append(
                f'| {p["dataset"]} | {p["image_size"]} | {p["settings"]} | '
                f'{p["total_s"]:.1f} | '
                f'{parts.get("train iterations", 0):.1f} s ({p["iters"]}) | '
                f'{parts.get("validation (incl. its hooks)", 0):.1f} s | '
                f'{hooks or "-"} |')
    return '\n'.join(lines) + '\n'
