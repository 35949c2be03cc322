"""The input-size benchmark's plan, summary and goals, without training."""
import pytest

from benchmarks.input_size import AUTO, plan, render, summarise


def test_plan_runs_the_chosen_size_first_and_each_run_once():
    runs = plan([32, 128], seeds=3, effnet_seeds=1, balanced_seeds=1)
    assert runs[0] == ('mbv3', AUTO, 0)
    assert runs[1:3] == [('mbv3', 32, 0), ('mbv3', 128, 0)]
    assert ('effnet_lite0', AUTO, 0) in runs
    assert ('mbv3_balanced', AUTO, 0) in runs
    assert len(runs) == len(set(runs)) == 7


def result(top1, f1, seconds, size, recall=50.0):
    return dict(test_top1=top1, val_top1=top1 - 1, seconds=seconds,
                epochs=30, data_decisions=dict(image_size=size),
                test_metrics={'macro/f1-score': f1,
                              'class/recall/defective': recall})


def row(recipe, requested, seed, res):
    return dict(recipe=recipe, requested=requested, seed=seed, result=res,
                latency_ms=1.0)


def test_goals_compare_the_chosen_size_with_the_best_fixed_one():
    rows = [row('mbv3', 64, 0, result(84.0, 80.0, 100, 64)),
            row('mbv3', 128, 0, result(86.0, 82.0, 300, 128)),
            row('mbv3', AUTO, 0, result(85.5, 82.5, 300, 128)),
            row('mbv3', AUTO, 1, result(84.5, 81.5, 320, 128))]
    summary = summarise(rows)
    goals = summary['goals']
    assert goals['best_fixed_top1']['image_size'] == 128
    assert goals['chosen_top1_gap'] == pytest.approx(-1.0)  # 85.0 vs 86.0
    assert goals['chosen_top1_within']                      # within 1 point
    assert goals['chosen_macro_f1_gap'] == pytest.approx(0.0)
    assert goals['chosen_time_ratio'] == pytest.approx(310 / 300)
    auto = next(t for t in summary['table'] if t['requested'] == AUTO)
    assert auto['test_top1']['sd'] == pytest.approx(0.7071, abs=1e-4)
    text = render(dict(dataset='elpv_poly', cap=60, command='cmd',
                       machine='m', summary=summary))
    assert '| MobileNetV3-small, from scratch | auto: 128 | 2 | 85.00 ± ' \
        '0.71 (84.00) | 82.00 ± 0.71 |' in text
    assert 'chosen -1.00 points: met' in text
    rows[2]['result']['test_top1'] = 84.0
    assert not summarise(rows)['goals']['chosen_top1_within']  # 84.25


def test_a_second_process_takes_the_other_seeds():
    first = plan([32], seeds=3, effnet_seeds=0)
    second = plan([], seeds=3, effnet_seeds=0, first_seed=1)
    assert second == [('mbv3', AUTO, 1), ('mbv3', AUTO, 2)]
    assert set(first) | set(second) == set(plan([32], 3, 0))


def test_class_balanced_sampling_is_judged_against_the_plain_recipe():
    plain = [row('mbv3', AUTO, s, result(80.0 + s, 70.0 + s, 100, 128,
                                         recall=40.0)) for s in range(3)]
    balanced = [row('mbv3_balanced', AUTO, s,
                    result(80.0 + s, 75.0 + s, 100, 128, recall=55.0))
                for s in range(3)]
    effect = summarise(plain + balanced)['balanced']
    assert effect['macro_f1']['gap'] == pytest.approx(5.0)
    assert effect['macro_f1']['se'] == pytest.approx((2 / 3) ** 0.5)
    assert effect['recalls']['defective']['gap'] == pytest.approx(15.0)
    assert effect['helps']
    text = render(dict(dataset='elpv_poly', cap=60, command='cmd',
                       machine='m', summary=summarise(plain + balanced)))
    assert 'macro-F1 +5.00 (SE 0.82)' in text and '**helps**' in text
    # within noise: a gain under twice its standard error does not count
    for r in balanced:
        r['result']['test_metrics']['macro/f1-score'] -= 4.0
    assert not summarise(plain + balanced)['balanced']['helps']
    # nor does a macro-F1 gain bought with more than a point of top-1
    for r in balanced:
        r['result']['test_metrics']['macro/f1-score'] += 4.0
        r['result']['test_top1'] -= 1.5
    assert not summarise(plain + balanced)['balanced']['helps']
    assert summarise(plain)['balanced'] is None
