"""The deploy benchmark's pure parts: interleaved timing, ratios, the
issue's goals, the accuracy it reports and the --checkpoint pairs."""
import pytest

from benchmarks import deploy
from benchmarks.deploy import (GOALS, ROW_FP32, ROW_ORT, ROW_RECOMMENDED,
                               ROW_TORCH, accuracy_of, goal_checks,
                               interleaved, parse_checkpoints, ratios,
                               summarise_row)


def _row(latency_ms, fps, batch=1, requests=None):
    setting = dict(batch=batch)
    if requests:
        setting['requests'] = requests
    return dict(latency_ms=latency_ms, throughput_fps=fps,
                throughput_setting=setting)


TIMINGS = {
    ROW_RECOMMENDED: _row(10.0, 300.0, 8, 4),
    ROW_FP32: _row(15.0, 200.0, 8, 4),
    ROW_ORT: _row(12.0, 200.0, 8),
    ROW_TORCH: _row(60.0, 50.0, 8),
}


def test_interleaved_runs_every_call_once_per_round_in_turn():
    order = []

    def call(name, values):
        values = iter(values)

        def run():
            order.append(name)
            return dict(value=next(values), round=len(order))
        return run

    result = interleaved(dict(a=call('a', [3.0, 1.0, 2.0]),
                              b=call('b', [5.0, 9.0, 7.0])), rounds=3)
    assert order == ['a', 'b'] * 3  # a slow spell hits both alike
    assert result['a']['value'] == 2.0 and result['b']['value'] == 7.0
    assert result['a']['rounds'] == [3.0, 1.0, 2.0]
    assert result['a']['round'] == 5  # the median round's extra fields
    with pytest.raises(ValueError, match='rounds'):
        interleaved(dict(a=call('a', [1.0])), rounds=0)


def test_best_throughput_setting_is_the_fastest_mode():
    row = summarise_row({
        'latency': dict(value=4.0, rounds=[4.0]),
        'throughput b1': dict(value=100.0, batch=1, requests=4, rounds=[1]),
        'throughput b8': dict(value=150.0, batch=8, requests=4, rounds=[1]),
    })
    assert row['throughput_fps'] == 150.0
    assert row['throughput_setting'] == dict(batch=8, requests=4)
    assert row['latency_ms'] == 4.0
    assert row['throughput_all'] == {'throughput b1': 100.0,
                                     'throughput b8': 150.0}


def test_ratios_are_speedups_of_ours_over_the_others():
    r = ratios(TIMINGS)
    pair = r[f'{ROW_RECOMMENDED} vs {ROW_FP32}']
    assert pair['latency'] == pytest.approx(1.5)  # 15 ms / 10 ms
    assert pair['throughput'] == pytest.approx(1.5)  # 300 / 200 img/s
    assert r[f'{ROW_RECOMMENDED} vs {ROW_TORCH}']['latency'] == \
        pytest.approx(6.0)
    assert r[f'{ROW_FP32} vs {ROW_ORT}']['latency'] == pytest.approx(0.8)
    assert f'{ROW_FP32} vs {ROW_FP32}' not in r


def test_goals_say_which_hold():
    checks = {g['goal']: g for g in goal_checks(ratios(TIMINGS), 0.5)}
    assert checks[f'recommended vs {ROW_FP32}, latency']['met']  # x1.5
    ort = checks[f'recommended vs {ROW_ORT}, latency']
    assert ort['value'] == pytest.approx(1.2) and not ort['met']  # < x1.3
    assert checks[f'recommended vs {ROW_ORT}, throughput']['met']  # x1.5
    torch_tp = checks[f'recommended vs {ROW_TORCH}, throughput']
    assert torch_tp['value'] == pytest.approx(6.0) and torch_tp['met']
    accuracy = checks['recommended: top-1 lost vs PyTorch (points)']
    assert accuracy['met']
    lost = {g['goal']: g for g in goal_checks(ratios(TIMINGS), 1.5)}
    assert not lost['recommended: top-1 lost vs PyTorch (points)']['met']
    assert len(checks) == 7 and GOALS['recommended_vs_fp32'] == 1.4


def test_fp32_recommended_is_x1_against_itself_and_misses_the_goal():
    timings = dict(TIMINGS)
    timings[ROW_FP32] = timings[ROW_RECOMMENDED]
    checks = goal_checks(ratios(timings), 0.0)
    fp32 = [g for g in checks if ROW_FP32 in g['goal']]
    assert [g['value'] for g in fp32] == [1.0, 1.0]
    assert not any(g['met'] for g in fp32)


def _parity(reference, candidate, flipped):
    return dict(reference_top1=reference, candidate_top1=candidate,
                top1_disagreement=flipped, max_abs_score_diff=0.0)


def test_accuracy_is_reported_on_test_when_the_deployment_has_it():
    report = dict(choice_split='val', report_split='test', images=359,
                  report_images=360,
                  parity=dict(fp32=_parity(90.0, 90.0, 0.0),
                              int8=_parity(90.0, 85.0, 6.0)),
                  reported_parity=dict(fp32=_parity(88.0, 88.0, 0.0),
                                       int8=_parity(88.0, 87.5, 2.5)))
    acc = accuracy_of(report)
    assert acc['split'] == 'test' and acc['images'] == 360
    assert acc['pytorch_top1'] == 88.0
    assert acc['candidates']['int8'] == dict(top1=87.5, top1_drop=0.5,
                                             flipped=2.5)
    report['report_split'] = 'val'
    assert accuracy_of(report)['candidates']['int8']['top1_drop'] == 5.0


def test_checkpoint_pairs_are_checked_before_any_work(tmp_path):
    config, ckpt = tmp_path / 'cfg.py', tmp_path / 'epoch_1.pth'
    config.write_text('')
    with pytest.raises(ValueError, match='checkpoint .*does not exist'):
        parse_checkpoints([[str(config), str(ckpt)]])
    ckpt.write_bytes(b'')
    assert parse_checkpoints([[str(config), str(ckpt)]]) == [
        (str(config), str(ckpt))]
    assert parse_checkpoints(None) == []


def test_the_front_takes_checkpoint_pairs_and_no_archs():
    import benchmark
    args = benchmark.parse_args(
        ['deploy', '--archs', '--checkpoint', 'a.py', 'b.pth',
         '--checkpoint', 'c.py', 'd.pth', '--no-accuracy-control'])
    assert args.archs == [] and args.checkpoint == [['a.py', 'b.pth'],
                                                    ['c.py', 'd.pth']]
    assert args.accuracy_control is False
    assert benchmark.parse_args(['deploy']).archs == ['small', 'large']


def test_render_shows_the_recommended_row_and_each_goal():
    result = dict(
        label='MobileNetV3-small (digits)', input_shape=[1, 3, 224, 224],
        recommended='int8', recommendation='int8: faster.',
        skipped=dict(bf16='this CPU has no BF16'), int8_quantization=None,
        accuracy=dict(split='test', images=360, pytorch_top1=88.0,
                      candidates=dict(fp32=dict(top1=88.0, flipped=0.0,
                                                top1_drop=0.0),
                                      int8=dict(top1=87.5, flipped=2.5,
                                                top1_drop=0.5))),
        timings=TIMINGS, speedups=ratios(TIMINGS),
        goals=goal_checks(ratios(TIMINGS), 0.5))
    text = deploy.render(dict(command='cmd', machine='m', note='shared',
                              results=[result]))
    assert '| recommended (INT8) | 10.00 | 300 (batch 8, 4 requests) | ' \
        '87.50 | 2.50 |' in text
    assert f'| recommended vs {ROW_ORT}, latency | >= x1.3 | x1.20 | ' \
        '**no** |' in text
    assert 'Not a candidate: bf16: this CPU has no BF16.' in text
    assert 'shared' in text


def test_trained_stages_are_reused_not_trained_again(tmp_path):
    import json
    from benchmarks.deploy import trained_checkpoint
    stage = tmp_path / 'stage_32px_2e.pth'
    stage.write_bytes(b'weights')
    summary = dict(image_size=32, epochs=2, lr=0.1, val_top1=90.0,
                   test_top1=89.0, seconds=1.0)
    stage.with_name(stage.name + '.json').write_text(json.dumps(summary))
    said = []
    path, training = trained_checkpoint('small', 32, 32, 2, 0,
                                        str(tmp_path), said.append)
    assert open(path, 'rb').read() == b'weights'
    assert training['stages'] == [summary]
    assert any('reusing' in s for s in said)
    with pytest.raises(ValueError, match='both 0'):
        trained_checkpoint('small', 32, 32, 0, 0, str(tmp_path / 'x'),
                           said.append)


def test_a_model_config_is_the_recipe_at_image_size_n(tmp_path,
                                                     monkeypatch):
    # What training and tools/deploy.py decide from the benchmark's config
    # is what cfg.image_size = N gives on the recipe: every size field (the
    # recipe's extra CenterCrop included), not only Resize / RandomCrop.
    from mmengine.config import Config

    from mmtricks.engine.recipe_config import apply_data_decisions
    from resized_recipe import recipe_with_one_more_size_step, size_fields
    recipe = recipe_with_one_more_size_step(str(tmp_path))
    monkeypatch.setattr(deploy, 'AUTO_MBV3', recipe)
    ours = deploy.model_config('small', 64, str(tmp_path))
    reference = Config.fromfile(recipe)
    reference.image_size = 64
    apply_data_decisions(ours)
    apply_data_decisions(reference)
    assert size_fields(ours) == size_fields(reference)
    assert ours.image_size == 64  # tools/deploy.py: 'set in the config'
