"""tools/benchmark.py speed --compile: its plan and configs, reading a
run's log lines, the summaries, goals and projection, the report, and the
fresh process each run trains in."""
import os

import pytest

import benchmark
from benchmarks import speed_compile as bench
from mmtricks.engine.compile_settings import describe_choice


def test_front_parses_the_compile_comparison():
    args = benchmark.parse_args(['speed', '--compile', '--cases',
                                 'digits_32', '--cap', '2'])
    assert (args.compile, args.cases, args.cap, args.repeats) == (
        True, ['digits_32'], 2, None)
    assert benchmark.parse_args(['speed']).compile is False


def test_plan_runs_the_arms_of_a_seed_together_cases_in_order():
    cases = bench.parse_cases(['digits_32', 'elpv_poly_128=2'], 3)
    assert cases == dict(digits_32=3, elpv_poly_128=2)
    runs = bench.plan(cases)
    assert [(r['case'], r['seed'], r['arm']) for r in runs[:4]] == [
        ('digits_32', 0, 'eager'), ('digits_32', 0, 'compiled'),
        ('digits_32', 0, 'auto'), ('digits_32', 1, 'eager')]
    assert len(runs) == 15 and runs[-1]['case'] == 'elpv_poly_128'
    assert runs[-1]['seed'] == 1


def test_plan_with_given_seeds_runs_only_those_in_every_case():
    cases = bench.parse_cases(['digits_32', 'elpv_poly_128=2'], 3)
    runs = bench.plan(cases, seeds=[2])
    assert [(r['case'], r['seed']) for r in runs] == \
        [('digits_32', 2)] * 3 + [('elpv_poly_128', 2)] * 3
    autos = bench.plan(cases, seeds=[0, 1], arms=['auto'])
    assert [(r['case'], r['seed'], r['arm']) for r in autos] == [
        ('digits_32', 0, 'auto'), ('digits_32', 1, 'auto'),
        ('elpv_poly_128', 0, 'auto'), ('elpv_poly_128', 1, 'auto')]
    with pytest.raises(ValueError, match='Unknown arms'):
        bench.plan(cases, arms=['jit'])


@pytest.mark.parametrize('item, named', [
    ('digits', "'digits'"), ('digits_32=two', 'digits_32=2'),
    ('digits_32=0', 'at least 1')])
def test_bad_cases_are_refused_naming_them(item, named):
    with pytest.raises(ValueError, match=named):
        bench.parse_cases([item], 3)


def test_an_arm_is_the_recipe_with_its_compile_setting(tmp_path):
    # digits: bundled with the test extra (elpv_poly needs the optional
    # elpv-dataset package, absent from a fresh '.[test]' install).
    cfg = bench.arm_config('digits_32', 'auto', 1, 3, str(tmp_path))
    assert (cfg.compile, cfg.image_size, cfg.train_cfg.max_epochs,
            cfg.randomness.seed) == ('auto', 32, 3, 1)
    hooks = {h['type'] for h in cfg.custom_hooks}
    assert {'LRFinderHook', 'AutoEpochsHook', 'PreciseBNStatsHook'} <= hooks
    assert bench.arm_config('digits_32', 'eager', 0, 3,
                            str(tmp_path)).compile is False
    assert bench.recipe_cap('elpv_poly_224_effnet') == 20


@pytest.mark.parametrize('line, expected', [
    (describe_choice(False, 0.25, 120, 1.6),
     dict(compiled=False, tried=False, steps=120, eager_step_s=0.25,
          compiled_step_s=None, compile_s=None)),
    (describe_choice(True, 0.5, 4000, 1.6, 0.4, 93.4),
     dict(compiled=True, tried=True, steps=4000, eager_step_s=0.5,
          compiled_step_s=0.4, compile_s=93.0)),
    (describe_choice(False, 0.5, 4000, 1.6, 0.499, 93.0),
     dict(compiled=False, tried=True, steps=4000, eager_step_s=0.5,
          compiled_step_s=0.499, compile_s=93.0)),
])
def test_the_auto_line_is_read_back(line, expected):
    assert bench.parse_auto_line(
        '06/01 12:00:00 - mmengine - INFO - ' + line) == expected


def test_a_line_that_is_no_decision_is_refused():
    with pytest.raises(ValueError, match='auto line'):
        bench.parse_auto_line('torch.compile: 1 graph compiled')


def test_kept_log_lines_from_where_the_words_start():
    lines = ['x - INFO - CPU settings: 1 torch thread',
             'x - INFO - torch.compile auto: eager; 3 training steps ...',
             'x - INFO - torch.compile: 2 graphs compiled in this run',
             'x - INFO - Epoch(val) [1]']
    assert bench.kept_log_lines(lines) == {
        'cpu': 'CPU settings: 1 torch thread',
        'auto': 'torch.compile auto: eager; 3 training steps ...',
        'compiled': 'torch.compile: 2 graphs compiled in this run'}


def test_steady_state_leaves_the_first_iteration_out():
    # a 100 s compile in the first step does not count
    assert bench.steady_images_per_s([100.0, 0.5, 0.5, 0.6], 64) == \
        pytest.approx(128.0)
    with pytest.raises(ValueError, match='no training iteration'):
        bench.steady_images_per_s([], 64)


def test_spread_and_seed_noise():
    assert bench.slower_beyond_spread([10, 11], [8, 9.9])
    assert not bench.slower_beyond_spread([10, 11], [8, 10.5])
    noise = bench.within_seed_noise([90.0, 92.0, 94.0], [91.0, 92.0, 93.0],
                                    0.5)
    assert noise['met'] and noise['difference'] == pytest.approx(0.0)
    far = bench.within_seed_noise([80.0, 81.0, 82.0], [91.0, 92.0, 93.0],
                                  0.5)
    assert not far['met'] and far['difference'] == pytest.approx(-11.0)
    # equal seeds: the floor (one test image) is the bound
    floor = bench.within_seed_noise([90.0, 90.0], [90.3, 90.3], 0.5)
    assert floor['met'] and floor['bound'] == 0.5
    assert bench.within_seed_noise([90.0], [91.0, 92.0], 0.5) is None


def _result(seconds, top1, compile_s=0.0, auto=None, step=0.5):
    log_lines = {} if auto is None else dict(auto=auto)
    return dict(images_per_s=64 / step, seconds=seconds, compile_s=compile_s,
                test_top1=top1, steady_iteration_s=step, graphs=1 if
                compile_s else 0, epochs=3, threads=1, iters_per_epoch=16,
                test_images=360, finder_steps=50, log_lines=log_lines)


def _runs(eager, compiled, auto, auto_line):
    runs = []
    for seed, (e, c, a) in enumerate(zip(eager, compiled, auto)):
        runs += [dict(case='digits_32', arm='eager', seed=seed,
                      result=_result(e, 95.0 + seed)),
                 dict(case='digits_32', arm='compiled', seed=seed,
                      result=_result(c, 95.2 + seed, 90.0, step=0.4)),
                 dict(case='digits_32', arm='auto', seed=seed,
                      result=_result(a, 95.0 + seed, auto=auto_line))]
    return runs


def test_goals_when_compiling_does_not_pay_and_auto_stays_eager():
    line = describe_choice(False, 0.5, 74, 1.6)
    summary = bench.summarise(_runs([60, 62, 61], [150, 160, 155],
                                    [61, 63, 60], line), dict(digits_32=60))
    case = summary['cases']['digits_32']
    goals = case['goals']
    assert goals['never_slower'] and goals['speedup_exists'] is False
    assert goals['takes_speedup'] is None
    assert goals['top1_within_noise']['met']
    assert case['arms']['auto']['trained_compiled'] == [False] * 3
    assert case['arms']['compiled']['trained_compiled'] == [True] * 3
    assert summary['goals'] == dict(never_slower=True, takes_speedup=None,
                                    top1_within_noise=True)


def test_goals_missed_when_auto_is_slower_or_leaves_a_speed_up():
    # auto tried, paid the compile and dropped it: slower than eager
    tried = describe_choice(False, 0.5, 74, 1.6, 0.49, 90.0)
    goals = bench.summarise(_runs([60, 62, 61], [150, 160, 155],
                                  [150, 152, 149], tried), {})['goals']
    assert goals['never_slower'] is False
    # compiled runs faster, auto stayed eager: the speed-up left
    eager = describe_choice(False, 0.5, 74, 1.6)
    summary = bench.summarise(_runs([600, 620, 610], [400, 410, 405],
                                    [600, 615, 612], eager), {})
    assert summary['cases']['digits_32']['goals']['speedup_exists']
    assert summary['goals']['takes_speedup'] is False
    assert summary['cases']['digits_32']['projection'] is None  # no cap


def test_projection_uses_the_recipes_rules():
    # 60 epochs x 16 steps, half expected + 50 LR-test steps = 530 steps
    short = bench.projection(3.0, 2.4, 90.0, 16, 60, 50)
    assert short['steps'] == 530
    assert short['compiled_s'] == pytest.approx(90 + 530 * 2.4)
    assert short['pays'] and short['auto_tries'] and short['auto_keeps']
    assert short['auto_s'] == short['compiled_s']
    assert short['break_even_steps'] == pytest.approx(150.0)
    # a faster step that does not repay the compile: auto keeps it anyway
    # (the compile is paid by then), slower than eager
    late = bench.projection(3.0, 2.9, 90.0, 16, 60, 50)
    assert not late['pays'] and late['auto_keeps']
    # a run whose expected saving is under the compile 'auto' expects: no
    # trial, even where the compile would have paid
    short_run = bench.projection(1.0, 0.5, 90.0, 16, 60, 50)
    assert short_run['pays'] and not short_run['auto_tries']
    assert short_run['auto_s'] == short_run['eager_s']
    slower = bench.projection(3.0, 3.6, 90.0, 16, 60, 50)
    assert not slower['pays'] and slower['auto_tries']
    assert not slower['auto_keeps'] and slower['break_even_steps'] is None
    assert slower['auto_s'] == pytest.approx(530 * 3.0 + 90)
    tiny = bench.projection(0.01, 0.005, 90.0, 16, 3, 50)
    assert not tiny['auto_tries'] and tiny['auto_s'] == tiny['eager_s']


def test_report_from_a_payload():
    line = describe_choice(False, 0.5, 74, 1.6)
    runs = _runs([60, 62, 61], [150, 160, 155], [61, 63, 60], line)
    payload = dict(command='python tools/benchmark.py speed --compile',
                   machine='AMD EPYC, 2 cores', shared_cpu=True,
                   cpu_flags=dict(avx2=True, avx512f=False),
                   load_at_start=3.5, load_at_end=3.7,
                   threads=dict(threads=1, reason='1 torch thread'),
                   cap=3, repeats=dict(digits_32=3), runs=runs, failures=[dict(
                       case='elpv_poly_128', arm='compiled', seed=0,
                       error='exit code 1')], wall_s=600.0,
                   summary=bench.summarise(runs, dict(digits_32=60)))
    text = bench.render(payload)
    assert '**shared**' in text and 'avx512f no' in text
    assert '| digits 32 px, mbv3 | auto | 3 | 128 ± 0 (128, 128, 128) |' \
        in text
    assert 'eager, not tried (74 steps x 0.500 s)' in text
    assert 'nothing to take' in text and '**met**' in text
    assert '**3 epochs**' in text and 'elpv_poly_128 compiled seed 0' in text
    assert '| digits 32 px | 60 | 530 |' in text and '(x1.00 eager)' in text


def test_a_fresh_process_gets_the_environment_and_its_output_is_logged(
        tmp_path, monkeypatch):
    # os and sys functions as the targets: the fresh process need not
    # import this test module (and torch with it)
    import sys
    monkeypatch.delenv('MMTRICKS_TEST_VARIABLE', raising=False)
    log = str(tmp_path / 'console.log')
    assert bench.run_in_fresh_process(
        os.getenv, ('MMTRICKS_TEST_VARIABLE', ), log,
        dict(MMTRICKS_TEST_VARIABLE='7')) == '7'
    assert 'MMTRICKS_TEST_VARIABLE' not in os.environ  # restored
    assert bench.run_in_fresh_process(os.write, (1, b'its output\n'), log,
                                      {}) == 11
    with pytest.raises(RuntimeError, match='exit code 3.*console.log'):
        bench.run_in_fresh_process(sys.exit, (3, ), log, {})
    with open(log) as f:
        assert 'its output' in f.read()


def test_join_recomputes_the_summary_over_runs_made_apart():
    def payload(arm, seconds, command):
        run = dict(case='digits_32', arm=arm, seed=0, result=dict(
            images_per_s=100.0, seconds=seconds, compile_s=0.0,
            test_top1=90.0, steady_iteration_s=0.1, graphs=0, epochs=3,
            threads=1, iters_per_epoch=10, test_images=300,
            log_lines={}))
        return dict(command=command, runs=[run], failures=[], wall_s=60.0)
    joined = bench.join([payload('eager', 10.0, 'a'),
                         payload('compiled', 30.0, 'b')], note='two cores')
    arms = joined['summary']['cases']['digits_32']['arms']
    assert set(arms) == {'eager', 'compiled'}
    assert arms['compiled']['seconds']['mean'] == 30.0
    assert joined['commands'] == ['a', 'b'] and joined['note'] == 'two cores'
    assert joined['wall_s'] == 120.0
