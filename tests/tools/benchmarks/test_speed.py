"""tools/benchmark.py speed: configs of its rows, FLOP share, the table."""
import pytest

import benchmark
from benchmarks import shipped_config
from benchmarks.speed import (VARIANTS, cpu_peak_gflops, flop_share,
                              render, variant_config)


def test_front_parses_speed():
    args = benchmark.parse_args(['speed', '--quick', '--iters', '3'])
    assert (args.benchmark, args.quick, args.iters) == ('speed', True, 3)
    assert 'speed' in benchmark.NAMES


def test_today_restores_the_old_settings_and_new_asks_for_auto(tmp_path):
    today = variant_config(shipped_config('auto_mbv3.py'), 'digits', 128,
                           VARIANTS['today'], str(tmp_path))
    new = variant_config(shipped_config('auto_mbv3.py'), 'digits', 128,
                         VARIANTS['new_defaults'], str(tmp_path))
    loader = today.train_dataloader
    assert (loader.num_workers, loader.persistent_workers) == (2, True)
    assert loader.dataset.cache_images is False
    assert new.train_dataloader.num_workers == 'auto'
    assert new.train_dataloader.dataset.cache_images is True
    assert loader.dataset.image_size == 128
    steps = {s['type']: s for s in loader.dataset.pipeline}
    assert steps['Resize']['scale'] == (128, 128)
    assert steps['RandomCrop']['crop_size'] == 128
    assert 'LRFinderHook' not in {h['type'] for h in today.custom_hooks}


def test_flop_share_and_peak():
    # 1 MMAC forward = 6 MFLOP a training image; 1000 images/s = 6 GFLOP/s
    assert flop_share(1e6, 1000, 60.0) == pytest.approx(0.1)
    peak = cpu_peak_gflops()
    assert peak['gflops'] == pytest.approx(
        peak['cores'] * peak['ghz'] * peak['flops_per_cycle'])


def test_table_from_a_payload():
    row = dict(images_per_s=100.0, all_images_per_s=[90.0, 100.0],
               seconds_per_iter=0.64, threads=2, workers=2, setup_s=1.0,
               phases=dict(data=0.1, preprocess=0.01, forward=0.2,
                           backward=0.3, optimizer=0.03))
    payload = dict(
        command='python tools/benchmark.py speed', machine='m',
        load_at_start=0.5, repeats=2, warmup=2, shared_cpu=True,
        peak=dict(cores=2, ghz=2.0, flops_per_cycle=32, isa='AVX2',
                  gflops=128.0),
        results=[dict(config='configs/auto_mbv3.py', dataset='digits',
                      folder=False, image_size=32, macs=2e6,
                      rows=dict(today=row, new_defaults=dict(
                          row, images_per_s=250.0)))],
        profiles=[dict(dataset='digits', image_size=32, settings='today',
                       total_s=10.0, iters=17, threads=2,
                       parts={'train iterations': 6.0,
                              'validation (incl. its hooks)': 2.0,
                              'hook PreciseBNStatsHook': 1.0,
                              'hook LoggerHook': 0.01})])
    text = render(payload)
    assert '| new_defaults | 250 (90, 100) | x2.50 |' in text
    assert 'shared' in text and '128 GFLOP/s' in text
    assert 'PreciseBNStatsHook 1.00 s' in text and 'LoggerHook' not in text


def test_a_resized_row_is_the_recipe_at_image_size_n(tmp_path):
    # The runner's own decisions on cfg.image_size = N, every size field
    # (the recipe's extra CenterCrop included), not a hand edit of the
    # Resize / RandomCrop steps.
    from benchmarks.runs import bundled_config
    from mmtricks.engine.recipe_config import apply_data_decisions
    from resized_recipe import recipe_with_one_more_size_step, size_fields
    recipe = recipe_with_one_more_size_step(str(tmp_path))
    row = variant_config(recipe, 'digits', 64, VARIANTS['today'],
                         str(tmp_path))
    reference = bundled_config('digits', epochs=2, seed=0,
                               work_dir=str(tmp_path), finder=False,
                               path=recipe)
    reference.image_size = 64
    apply_data_decisions(reference)
    assert size_fields(row) == size_fields(reference)
    crops = [s for s in row.test_dataloader.dataset.pipeline
             if s['type'] == 'CenterCrop']
    assert crops[0]['crop_size'] == 64
