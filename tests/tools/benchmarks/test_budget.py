"""The time-budget benchmark's bookkeeping (no training)."""
from benchmarks.budget import plan_runs, planned, render, summarise

LOG = '''Data decision: image_size 64: the largest multiple ...
Data decision: time budget 5 min: image_size at most 64, 66 epochs (4.0 s
AutoEpochs: stopping at epoch 46 of 46 (the anneal ...'''


def test_the_plan_is_read_from_the_log():
    assert planned(LOG) == dict(size=64, planned_epochs=66, epochs=46)
    assert planned('') == dict(size=None, planned_epochs=None, epochs=None)


def test_runs_cover_the_budget_its_candidates_and_the_recipe():
    runs = plan_runs(['elpv_poly'], [5], {'elpv_poly': [32, 64]}, 1)
    assert [(r[1], r[2]) for r in runs] == [
        ('auto_mbv3', None), ('budget', 5), ('size 32', 5), ('size 64', 5)]
    assert runs[3][4] == ['time_budget=5', 'image_size=64']


def row(name, wall, top1, budget=5):
    return dict(dataset='d', row=name, budget_min=budget, seed=0,
                wall_s=wall, exit_code=0, size=32, planned_epochs=10,
                epochs=10, test_top1=top1, test_macro_f1=top1)


def test_summary_judges_the_wall_clock_and_the_gap_to_the_best_candidate():
    rows = [row('budget', 320, 80.0), row('size 32', 300, 79.0),
            row('size 64', 290, 81.5)]
    cell = summarise(rows)['d 5 min']
    assert cell['wall_ok'] and cell['wall_error'] == round(320 / 300 - 1, 3)
    assert cell['best_candidate'] == 'size 64' and cell['gap_to_best'] == -1.5
    late = summarise([row('budget', 340, 80.0)])['d 5 min']
    assert not late['wall_ok'] and late['gap_to_best'] is None
    text = render(dict(machine='m', command='c', rows=rows,
                       summary=summarise(rows)))
    assert '+7%' in text and '-1.50 points (missed)' in text


def test_with_auto_py_it_is_the_row_judged_and_the_backbones_its_candidates():
    runs = plan_runs(['d'], [5], {}, 1,
                     recipes=['auto.py', 'auto_effnet_lite0.py'],
                     unbudgeted=False)
    assert [(r[1], r[2], r[5] if len(r) > 5 else None) for r in runs] == [
        ('auto', 5, 'auto.py'),
        ('auto_effnet_lite0', 5, 'auto_effnet_lite0.py'),
        ('budget', 5, None)]
    rows = [row('auto', 290, 84.0), row('auto_effnet_lite0', 295, 84.0),
            row('budget', 285, 86.0)]
    cell = summarise(rows)['d 5 min']
    assert cell['row'] == 'auto' and cell['best_candidate'] == 'budget'
    assert cell['gap_to_best'] == -2.0
    assert '- d 5 min: auto: wall clock' in render(dict(
        machine='m', command='c', rows=rows, summary=summarise(rows)))


def test_a_later_seed_can_run_alone():
    runs = plan_runs(['d'], [5], {}, 1, unbudgeted=False, first_seed=1)
    assert [(r[1], r[3]) for r in runs] == [('budget', 1)]


def test_the_auto_row_can_run_without_mobilenet_alone():
    runs = plan_runs(['d'], [30], {}, 1, recipes=['auto.py'],
                     unbudgeted=False, budget_row=False)
    assert [(r[1], r[2]) for r in runs] == [('auto', 30)]
    rows = [row('auto', 290, 84.0)]
    cell = summarise(rows)['d 5 min']
    assert cell['row'] == 'auto' and cell['gap_to_best'] is None
    assert '- d 5 min: auto: wall clock' in render(dict(
        machine='m', command='c', rows=rows, summary=summarise(rows)))


def test_each_seed_is_its_own_cell():
    rows = [row('auto', 290, 84.0), row('budget', 285, 86.0),
            dict(row('auto', 290, 80.0), seed=1),
            dict(row('budget', 285, 79.0), seed=1)]
    summary = summarise(rows)
    assert summary['d 5 min']['gap_to_best'] == -2.0
    assert summary['d 5 min, seed 1']['gap_to_best'] == 1.0
