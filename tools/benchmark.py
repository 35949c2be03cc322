"""mmtricks' benchmarks, one command each.

    python tools/benchmark.py [headline] [--quick] [--data NAME_OR_FOLDER ...]
    python tools/benchmark.py lr-finder [--epochs 10] [--seeds 3] ...
    python tools/benchmark.py epochs [--budgets 10 30 60] [--policies ...]
    python tools/benchmark.py tricks [--rows ...] [--epochs digits=15 ...]
    python tools/benchmark.py bag-of-tricks [--data digits] [--seeds 0 1]
    python tools/benchmark.py deploy [--archs small large] [--checkpoint CONFIG CKPT]
    python tools/benchmark.py deploy-acceptance [--data digits mnist] [--seeds 0 1 2]
    python tools/benchmark.py pretrained [--cap 60]
    python tools/benchmark.py finetune [--data elpv_poly] [--rows ...] [--seeds 0 1 2]
    python tools/benchmark.py input-size [--data elpv_poly] [--sizes 32 64 ...]
    python tools/benchmark.py small-data [--data digits] [--sizes 10 20 ...]
    python tools/benchmark.py duplicates [--data elpv_poly lfw_faces mnist]
    python tools/benchmark.py operating-point [--seeds 0 1 2] [--cap 60]
    python tools/benchmark.py speed [--quick] [--compile [--cases ...] [--cap 3]]
    python tools/benchmark.py pointing-game [--epochs 30] [--seed 0]

``headline`` is the default: ``python tools/benchmark.py --quick`` runs it.
Every benchmark writes NAME.json and NAME.md (rendered from that JSON) into
--out (default docs/benchmarks), shows a progress bar, sends the training
runs' logs to its work dir (``console.log``) and prints its summary last.
--data takes bundled names (digits, mnist, lfw_faces) or folders of your own
images (one sub-folder per class, or train/, val/ and test/ holding them).
Every recipe is scored by one rule: it may decide on val, and what is
reported is the test top-1 of the weights it ships (val alongside).
Training runs are shared through one run cache (--cache), so a run two
benchmarks need is trained once and an interrupted benchmark resumes.
"""
import argparse
import os.path as osp
import sys

from benchmarks import REPO

DOCS = osp.join(REPO, 'docs', 'benchmarks')
CACHE = 'work_dirs/benchmark_cache.jsonl'
ALL_DATASETS = ['digits', 'mnist', 'lfw_faces']


def _common(work_dir: str, out: bool = True):
    """Arguments every benchmark shares: where results and runs go."""
    parser = argparse.ArgumentParser(add_help=False)
    if out:
        parser.add_argument('--out', default=DOCS,
                            help='where NAME.json and NAME.md go (default '
                            'docs/benchmarks of this repository)')
    parser.add_argument('--work-dir', default=work_dir,
                        help='runs\' work dirs and console.log (default '
                        '%(default)s)')
    return parser


def _data(default, help_default=None):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--data', '--datasets', '--dataset', nargs='+',
                        dest='data', default=default,
                        help='bundled names or folders of your images '
                        f'(default: {help_default or " ".join(default)})')
    return parser


def _cache():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cache', default=CACHE,
                        help='finished runs, shared by the benchmarks; "" '
                        'to train everything afresh (default %(default)s)')
    return parser


def build_parser() -> argparse.ArgumentParser:
    from benchmarks.auto_epochs import POLICIES
    from benchmarks.tricks import ROWS
    parser = argparse.ArgumentParser(
        prog='tools/benchmark.py', description=__doc__.splitlines()[0],
        epilog='Without a benchmark name, headline runs.')
    sub = parser.add_subparsers(dest='benchmark', metavar='BENCHMARK')

    p = sub.add_parser(
        'headline', parents=[_data(None, 'all three bundled sets; '
                                   'lfw_faces with --quick'), _cache()],
        help='the automatic recipe vs stock vs a tuned oracle')
    p.add_argument('--recipes', nargs='+', default=None,
                   help='auto, stock, oracle, auto_effnet_lite0 '
                   '(default: all; auto, stock and oracle with --quick)')
    p.add_argument('--seeds', type=int, default=None,
                   help='seeds of every recipe: auto, stock and the '
                   'oracle\'s chosen cell run on seeds 0..N-1 (default 3, '
                   '1 with --quick)')
    p.add_argument('--quick', action='store_true',
                   help='one dataset, one seed, oracle budgets 5/10/20 '
                   '(shorter than auto\'s cap: a smoke test, not the claim)')
    p.add_argument('--oracle-budgets', nargs='+', type=int, default=None,
                   help='epoch budgets of the oracle grid (default '
                   '10 20 40 60, the longest auto\'s cap; 5 10 20 with '
                   '--quick)')
    p.add_argument('--work-dir', default='work_dirs/benchmark')
    p.add_argument('--out', default=None,
                   help='where the table goes (default docs/benchmarks, '
                   'or the work dir with --quick)')
    p.add_argument('--cached-only', action='store_true',
                   help='train nothing: the table from the runs the '
                   'cache holds (missing ones reported as not run)')
    p.add_argument('--no-overhead', action='store_true',
                   help='skip timing the per-iteration cost')
    p.set_defaults(main=headline)

    p = sub.add_parser(
        'lr-finder', parents=[_data(ALL_DATASETS), _cache(),
                              _common('work_dirs/benchmark_lr_finder')],
        help='the LR finder vs a grid of fixed LRs')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--seeds', type=int, default=3,
                   help='finder runs per dataset')
    p.add_argument('--curve-seeds', type=int, default=6,
                   help='range tests (no training) per dataset that '
                   'compare the suggestion rules')
    p.set_defaults(main=lr_finder)

    p = sub.add_parser(
        'epochs', parents=[_data(ALL_DATASETS), _cache(),
                           _common('work_dirs/benchmark_epochs')],
        help='automatic epochs vs fixed cosine budgets')
    p.add_argument('--budgets', nargs='+', type=int, default=[10, 30, 60],
                   help='fixed budgets; the largest is the automatic '
                   'runs\' cap')
    p.add_argument('--policies', nargs='+', default=None,
                   choices=list(POLICIES), metavar='POLICY',
                   help=f'of {", ".join(POLICIES)} (default: all)')
    p.set_defaults(main=auto_epochs)

    p = sub.add_parser(
        'tricks', parents=[_data(['digits', 'lfw_faces', 'mnist']),
                           _cache(), _common('work_dirs/benchmark_tricks')],
        help='the tricks ablation: stock, each trick, combinations')
    p.add_argument('--rows', nargs='+', default=list(ROWS),
                   choices=list(ROWS), metavar='ROW')
    p.add_argument('--epochs', nargs='+', default=[],
                   help='NAME=EPOCHS per dataset (default: ' + ' '.join(
                       f'{k}={v}' for k, v in TRICKS_EPOCHS.items()) + ')')
    p.add_argument('--seeds', nargs='+', type=int, default=[0])
    p.add_argument('--lr', type=float, default=0.1)
    p.set_defaults(main=tricks)

    p = sub.add_parser(
        'bag-of-tricks', parents=[_data(['digits']),
                                  _common('work_dirs/benchmark_bag')],
        help='bias decay, zero-gamma, progressive resizing, distillation')
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--seeds', nargs='+', type=int, default=[0])
    p.set_defaults(main=bag_of_tricks)

    from mmtricks.deploy import add_deploy_arguments
    p = sub.add_parser(
        'deploy', parents=[_common('work_dirs/benchmark_deploy')],
        help='the IR tools/deploy.py writes vs every other CPU path')
    p.add_argument('--archs', nargs='*', default=['small', 'large'],
                   choices=['small', 'large'],
                   help='MobileNetV3 sizes trained on digits (none: only '
                   '--checkpoint rows)')
    p.add_argument('--image-size', type=int, default=224)
    p.add_argument('--seconds', type=float, default=2.0,
                   help='time per model, mode and round')
    p.add_argument('--rounds', type=int, default=3,
                   help='interleaved rounds; the median counts')
    p.add_argument('--throughput-batch', type=int, default=8,
                   help='the larger batch tried for throughput')
    p.add_argument('--train-size', type=int, default=32,
                   help='px of the first training stage (cheap)')
    p.add_argument('--train-epochs', type=int, default=6,
                   help='epochs at --train-size')
    p.add_argument('--finetune-epochs', type=int, default=1,
                   help='epochs at --image-size after that')
    p.add_argument('--checkpoint', nargs=2, action='append',
                   metavar=('CONFIG', 'CKPT'), default=None,
                   help='also deploy and time this config + checkpoint '
                   '(e.g. what mim train wrote); repeatable')
    # As tools/deploy.py's (DeployOptions' defaults and help).
    add_deploy_arguments(p, ('parity_images', 'accuracy_control'))
    p.add_argument('--note', default='',
                   help='a line about the machine for the report (e.g. '
                   '"CPU shared with other jobs")')
    p.set_defaults(main=deploy)

    p = sub.add_parser(
        'deploy-acceptance', parents=[
            _data(['digits', 'mnist']),
            _common('work_dirs/benchmark_deploy_acceptance')],
        help='the precision tools/deploy.py ships, scored on test: the '
        'rule of issue 32 vs the rule before it')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    add_deploy_arguments(p, ('accuracy_tolerance', 'confidence',
                             'parity_images', 'benchmark_seconds'))
    p.add_argument('--label-free-images', type=int, default=2000,
                   help='training images calibration did not see, checked '
                   'to compare their disagreement rate with test\'s '
                   '(default %(default)s)')
    p.add_argument('--note', default='',
                   help='a line about the machine for the report')
    p.set_defaults(main=deploy_acceptance)

    p = sub.add_parser(
        'pretrained', parents=[_data(ALL_DATASETS), _cache(),
                               _common('work_dirs/benchmark_pretrained')],
        help='EfficientNet-Lite0 from the packaged weights vs scratch')
    p.add_argument('--cap', type=int, default=60,
                   help='epoch budget cap of both runs')
    p.set_defaults(main=pretrained)

    p = sub.add_parser(
        'finetune', parents=[_data(['elpv_poly', 'lfw_faces']), _cache(),
                             _common('work_dirs/benchmark_finetune')],
        help='ways of fine-tuning EfficientNet-Lite0 vs its recipe')
    p.add_argument('--rows', nargs='+', default=None,
                   help='changes to compare with the recipe (default: all)')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--image-size', type=int, default=None,
                   help='a fixed input size (default: the recipe chooses)')
    p.add_argument('--note', default='',
                   help='a line about the machine for the report')
    p.set_defaults(main=finetune)

    p = sub.add_parser(
        'input-size', parents=[_cache(),
                               _common('work_dirs/benchmark_input_size')],
        help='the size the recipe chooses vs fixed sizes; both backbones')
    p.add_argument('--data', default='elpv_poly',
                   help='a bundled name or a folder (default %(default)s: '
                   'needs the optional extra mmtricks[datasets])')
    p.add_argument('--sizes', nargs='*', type=int,
                   default=[32, 64, 96, 128], help='fixed sizes, one seed')
    p.add_argument('--seeds', type=int, default=3,
                   help='seeds of the recipe at its chosen size')
    p.add_argument('--effnet-seeds', type=int, default=1,
                   help='seeds of EfficientNet-Lite0 at the chosen size')
    p.add_argument('--balanced-seeds', type=int, default=0,
                   help='seeds of the recipe at its chosen size with '
                   'class_balanced_sampling=True')
    p.add_argument('--first-seed', type=int, default=0,
                   help='skip the chosen size\'s seeds below this one (to '
                   'run the others in a second process)')
    p.add_argument('--cap', type=int, default=60, help='epoch cap')
    p.add_argument('--cached-only', action='store_true',
                   help='train nothing: the table from the runs the cache '
                   'holds (the others listed as not run)')
    p.set_defaults(main=input_size)

    p = sub.add_parser(
        'small-data', parents=[_cache(),
                               _common('work_dirs/benchmark_small_data')],
        help='auto, auto at batch 64, stock and the oracle on 10-100 '
        'training images per class')
    p.add_argument('--data', default='digits',
                   help='the bundled set the folders are written from '
                   '(digits or mnist; default %(default)s)')
    p.add_argument('--sizes', nargs='+', type=int, default=[10, 20, 50, 100],
                   help='training images per class, one folder each')
    p.add_argument('--recipes', nargs='+',
                   default=['auto', 'auto_batch64', 'stock', 'oracle'],
                   choices=['auto', 'auto_batch64', 'stock', 'oracle'])
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--oracle-sizes', nargs='*', type=int, default=None,
                   help='the sizes the oracle runs at (default: every size)')
    p.add_argument('--oracle-budgets', nargs='+', type=int, default=None,
                   help='epoch budgets of the oracle grid (default: the '
                   'headline\'s quick budgets, 5 10 20)')
    p.add_argument('--test-per-class', type=int, default=40)
    p.add_argument('--selection-seed', type=int, default=0)
    p.add_argument('--note', default='',
                   help='a line about the machine for the report')
    p.set_defaults(main=small_data)

    p = sub.add_parser(
        'pointing-game', parents=[_common('work_dirs/benchmark_pointing')],
        help='do the saliency maps point at the digit (PyTorch and the '
        '--explain IR, vs a random map), and the latency the maps cost')
    p.add_argument('--epochs', type=int, default=30,
                   help='training budget (default %(default)s)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--latency-seconds', type=float, default=10.0,
                   help='timing per IR, over 5 interleaved rounds')
    p.add_argument('--canvas', type=int, default=96,
                   help='canvas size in px (default %(default)s)')
    p.add_argument('--digit', type=int, default=40,
                   help='pasted digit size in px (default %(default)s); '
                   'another geometry than 96/40 writes '
                   'pointing_game_CANVAS_DIGIT')
    p.set_defaults(main=pointing_game)

    p = sub.add_parser(
        'speed', parents=[_common('work_dirs/benchmark_speed'), _cache()],
        help='training images/s: the settings before the speed work vs '
        'the new defaults, each change alone, a profile of one epoch; '
        'with --compile: the whole recipe eager vs compiled vs '
        "compile='auto'")
    p.add_argument('--iters', type=int, default=12,
                   help='timed iterations of the 32 px rows (fewer at '
                   '128 px and for EfficientNet-Lite0)')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--repeats', type=int, default=None,
                   help='interleaved repeats of every row (the fastest '
                   'is kept; default 2); with --compile: seeds of every '
                   'arm (default 3)')
    p.add_argument('--quick', action='store_true',
                   help='digits at 32 px only, no ELPV, no EfficientNet')
    p.add_argument('--compile', action='store_true',
                   help="whole runs of the recipe with compile=False, True "
                   "and 'auto' (docs/benchmarks/speed_compile.md)")
    p.add_argument('--cases', nargs='+', default=None,
                   help='with --compile: digits_32 elpv_poly_128 '
                   'elpv_poly_224_effnet (default: all, in that order), '
                   'each NAME or NAME=REPEATS (default --repeats)')
    p.add_argument('--cap', type=int, default=None,
                   help='with --compile: the epoch cap of every run '
                   '(default 3)')
    p.add_argument('--seeds', type=int, nargs='+', default=None,
                   help='with --compile: these seeds in every case instead '
                   'of 0 .. REPEATS-1 (split a benchmark over cores, then '
                   'join the runs through one run cache)')
    p.add_argument('--arms', nargs='+', default=None,
                   help='with --compile: only these of eager compiled auto')
    p.set_defaults(main=speed)

    p = sub.add_parser(
        'duplicates', parents=[_common('work_dirs/benchmark_duplicates')],
        help='the duplicate check on planted exact/near copies: recall, '
        'false pairs, the near threshold chosen')
    p.add_argument('--data', nargs='+', default=None,
                   help='bundled sets (default elpv_poly lfw_faces mnist)')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the evaluation plant')
    p.add_argument('--tuning-seed', type=int, default=1,
                   help='seed of the plant that chooses the threshold')
    p.set_defaults(main=duplicates)

    p = sub.add_parser(
        'operating-point', parents=[_cache(), _common(
            'work_dirs/benchmark_operating_point')],
        help="elpv_poly's defective class: test recall and precision at "
        "the threshold chosen on val ('auto', min_recall 0.9) vs argmax")
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--cap', type=int, default=60, help='epoch cap')
    p.add_argument('--note', default='',
                   help='a line about the machine for the report')
    p.set_defaults(main=operating_point)

    p = sub.add_parser(
        'budget', parents=[_common('work_dirs/benchmark_budget')],
        help='time_budget: wall clock against the budget, test top-1 '
        'against each candidate size under the same budget and against '
        'auto_mbv3 without one (fresh processes)')
    p.add_argument('--data', nargs='+', default=['digits', 'lfw_faces'],
                   help='bundled sets (default digits lfw_faces)')
    p.add_argument('--budgets', nargs='+', type=float, default=[2, 5],
                   help='minutes (default 2 5)')
    p.add_argument('--sizes', nargs='*', default=[],
                   help='candidate rows, DATASET=N,N,... (e.g. '
                   'elpv_poly=32,64,128)')
    p.add_argument('--seeds', type=int, default=1)
    p.add_argument('--recipes', nargs='*', default=[],
                   choices=['auto.py', 'auto_effnet_lite0.py'],
                   help='other recipes under each budget: auto.py (which '
                   'chooses the backbone, then the row judged) and its '
                   'candidate auto_effnet_lite0.py; writes budget_backbone')
    p.add_argument('--first-seed', type=int, default=0,
                   help='seeds run are FIRST..FIRST+SEEDS-1 (default 0)')
    p.add_argument('--no-unbudgeted', dest='unbudgeted',
                   action='store_false',
                   help='skip auto_mbv3 without a budget')
    p.add_argument('--no-budget-row', dest='budget_row',
                   action='store_false',
                   help='skip auto_mbv3 under the budget (MobileNetV3 alone), '
                   'e.g. to run a cell\'s auto.py row on its own')
    p.set_defaults(main=budget)
    return parser


TRICKS_EPOCHS = dict(digits=15, mnist=6, lfw_faces=15)
NAMES = ('headline', 'lr-finder', 'epochs', 'tricks', 'bag-of-tricks',
         'deploy', 'deploy-acceptance', 'pretrained', 'finetune',
         'input-size', 'speed', 'small-data', 'duplicates', 'pointing-game',
         'operating-point', 'budget')


def parse_args(argv=None) -> argparse.Namespace:
    """The arguments; without a benchmark name, ``headline``'s.

    Args:
        argv: The arguments after the program (default ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith('-')
                    and argv[0] not in ('-h', '--help')):
        argv.insert(0, 'headline')  # e.g. the README's --quick
    return build_parser().parse_args(argv)


def _console(args, total, unit='run'):
    from benchmarks.console import Console
    return Console(osp.join(args.work_dir, 'console.log'), total=total,
                   unit=unit, desc=args.benchmark)


def _cache_of(args):
    from benchmarks.run_cache import RunCache
    return RunCache(args.cache or None)


def headline(args, command: str) -> None:
    from benchmarks import headline as bench
    from benchmarks.runs import machine_description

    quick = args.quick
    datasets = args.data or (['lfw_faces'] if quick else
                             ['lfw_faces', 'digits', 'mnist'])
    recipes = args.recipes or (['auto', 'stock', 'oracle'] if quick else
                               list(bench.RECIPES))
    seeds = args.seeds or (1 if quick else 3)
    if seeds < 1:
        raise SystemExit(f'--seeds must be at least 1, not {seeds}.')
    budgets = tuple(args.oracle_budgets or (
        bench.QUICK_ORACLE_BUDGETS if quick else bench.ORACLE_BUDGETS))
    out = args.out or (args.work_dir if quick else DOCS)
    cache = _cache_of(args)
    total = len(datasets) * sum(
        r['epochs'] for r in bench.planned_runs(recipes, seeds, budgets))
    with _console(args, total, unit='epoch') as console:
        import mmtricks  # noqa: F401  (registers our parts, applies fixes)
        machine = machine_description()
        summaries = bench.run_benchmark(
            datasets, recipes, seeds, budgets, out, args.work_dir, command,
            machine, cache, cached_only=args.cached_only,
            progress=lambda epochs, message: console.progress(message,
                                                              epochs))
        if not args.no_overhead:
            console.print('timing the per-iteration cost ...')
            auto = summaries[0]['recipes'].get('auto', {})
            overhead = bench.measure_overhead(
                datasets[0], osp.join(args.work_dir, 'overhead'),
                repeats=1 if quick else 3,
                lr_test_seconds=auto.get('finder_seconds', float('nan')))
            bench.write(summaries, overhead, out, command, machine, budgets,
                        seeds)
    with open(osp.join(out, f'{bench.NAME}.md')) as f:
        print(f.read())
    print(bench.one_line(summaries))


def lr_finder(args, command: str) -> None:
    from benchmarks.lr_finder import GRID, run_benchmark
    total = len(args.data) * (len(GRID) + 1 + args.seeds)
    with _console(args, total) as console:
        import mmtricks  # noqa: F401
        summaries = run_benchmark(args.data, args.epochs, args.seeds,
                                  args.out, args.work_dir, command,
                                  progress=console.progress,
                                  cache=_cache_of(args),
                                  curve_seeds=args.curve_seeds)
    for s in summaries:
        print(f'{s["dataset"]}: test top-1: finder '
              f'{s["finder_top1_mean"]:.2f} vs best '
              f'grid {s["best_grid_top1"]:.2f} (gap {s["gap_to_best"]:+.2f}), '
              f'LR spread x{s["finder_lr_spread"]:.2f}, finder time '
              f'{100 * s["finder_time_share"]:.1f}% of training')


def auto_epochs(args, command: str) -> None:
    from benchmarks.auto_epochs import POLICIES, run_benchmark
    budgets = sorted(args.budgets)
    policies = {name: POLICIES[name] for name in args.policies or POLICIES}
    total = len(args.data) * (len(policies) + len(budgets))
    with _console(args, total) as console:
        import mmtricks  # noqa: F401
        summaries = run_benchmark(args.data, budgets, budgets[-1], args.out,
                                  args.work_dir, command,
                                  progress=console.progress,
                                  policies=policies, cache=_cache_of(args))
    for s in summaries:
        best = s['fixed'][str(s['best_budget'])]['top1']
        for name, auto in s['auto'].items():
            print(f'{s["dataset"]}: test top-1: auto ({name}) '
                  f'{auto["top1"]:.2f} in '
                  f'{auto["epochs"]} epochs vs best fixed {best:.2f} in '
                  f'{s["best_budget"]} (gap {auto["gap_to_best"]:+.2f})')


def tricks_epochs(items) -> dict:
    """The per-dataset budgets of the tricks ablation from NAME=EPOCHS items.

    Args:
        items: Strings such as ``'digits=15'``.
    """
    epochs = dict(TRICKS_EPOCHS)
    for item in items:
        name, sep, value = item.partition('=')
        if not sep or not value.isdigit():
            raise SystemExit(f'--epochs takes NAME=EPOCHS items (e.g. '
                             f'digits=15), not {item!r}.')
        epochs[name] = int(value)
    return epochs


def tricks(args, command: str) -> None:
    from benchmarks.tricks import run_ablation
    epochs = tricks_epochs(args.epochs)
    missing = [d for d in args.data if d not in epochs]
    if missing:
        raise SystemExit(f'No epoch budget for {", ".join(missing)}: give '
                         'one with --epochs NAME=EPOCHS.')
    total = len(args.rows) * len(args.data) * len(args.seeds)
    with _console(args, total) as console:
        import mmtricks  # noqa: F401
        run_ablation(args.rows, args.data, epochs, args.seeds, args.lr,
                     args.out, args.work_dir, command,
                     progress=console.progress, cache=_cache_of(args))
    with open(osp.join(args.out, 'tricks.md')) as f:
        print(f.read())


def bag_of_tricks(args, command: str) -> None:
    from benchmarks.bag_of_tricks import NAME, VARIANTS, run_benchmark
    if len(args.data) != 1:
        raise SystemExit('bag-of-tricks runs on one dataset: give one '
                         '--data.')
    with _console(args, len(VARIANTS) * len(args.seeds)) as console:
        import mmtricks  # noqa: F401
        run_benchmark(args.data[0], args.epochs, args.seeds, args.out,
                      args.work_dir, command, progress=console.progress)
    with open(osp.join(args.out, f'{NAME}.md')) as f:
        print(f.read())


def deploy(args, command: str) -> None:
    from benchmarks.deploy import parse_checkpoints, run_benchmark

    from mmtricks.deploy import options_from_args
    checkpoints = parse_checkpoints(args.checkpoint)
    with _console(args, None) as console:
        results = run_benchmark(
            args.archs, args.image_size, args.seconds, args.throughput_batch,
            args.out, args.work_dir, command, progress=console.progress,
            rounds=args.rounds, train_size=args.train_size,
            train_epochs=args.train_epochs,
            finetune_epochs=args.finetune_epochs, checkpoints=checkpoints,
            options=options_from_args(args), note=args.note)
    for r in results:
        missed = [g['goal'] for g in r['goals'] if not g['met']]
        print(f'{r["label"]}: recommended {r["recommended"]}; goals met '
              f'{len(r["goals"]) - len(missed)}/{len(r["goals"])}'
              + (f' (missed: {"; ".join(missed)})' if missed else ''))


def deploy_acceptance(args, command: str) -> None:
    from benchmarks.deploy_acceptance import lscpu_summary, run_benchmark

    from mmtricks.deploy import options_from_args
    with _console(args, None) as console:
        payload = run_benchmark(
            args.data, args.seeds, args.out, args.work_dir, command,
            progress=console.progress, options=options_from_args(args),
            note=args.note, cpu=lscpu_summary())
    for rule, s in payload['summary'].items():
        print(f'{rule}: ships BF16/INT8 in {s["not_fp32"]} of {s["cells"]} '
              f'cells; test drop beyond the tolerance in '
              f'{s["beyond_tolerance"]}')


def pretrained(args, command: str) -> None:
    from benchmarks.pretrained import INITS, run_benchmark
    with _console(args, len(args.data) * len(INITS)) as console:
        import mmtricks  # noqa: F401
        summaries = run_benchmark(args.data, args.cap, args.out,
                                  args.work_dir, command,
                                  progress=console.progress,
                                  cache=_cache_of(args))
    for s in summaries:
        print(f'{s["dataset"]}: test top-1: pretrained '
              f'{s["pretrained"]["top1"]:.2f} vs '
              f'scratch {s["scratch"]["top1"]:.2f} '
              f'(gain {s["top1_gain"]:+.2f})')


def finetune(args, command: str) -> None:
    from benchmarks.finetune import ROWS, run_benchmark
    from benchmarks.runs import machine_description
    rows = args.rows or list(ROWS)
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f'Unknown rows {unknown}; choose from {list(ROWS)}.')
    runs = len(args.data) * len(args.seeds) * len(set(rows) | {'recipe'})
    with _console(args, runs) as console:
        import mmtricks  # noqa: F401
        payload = run_benchmark(args.data, rows, args.seeds, args.image_size,
                                args.out, args.work_dir, command,
                                machine_description(), note=args.note,
                                progress=console.progress,
                                cache=_cache_of(args))
    for data in payload['datasets']:
        for row, s in data['rows'].items():
            gain = s.get('top1_gain')
            print(f'{data["dataset"]} {row}: test top-1 '
                  f'{s["top1"]["mean"]:.2f} +- {s["top1"]["sd"]:.2f}' +
                  (f' (gain {gain["mean"]:+.2f}, SE {gain["se"]:.2f})'
                   if gain else ''))


def input_size(args, command: str) -> None:
    from benchmarks.input_size import plan, run_benchmark
    from benchmarks.runs import machine_description
    runs = len(plan(args.sizes, args.seeds, args.effnet_seeds,
                    args.balanced_seeds, args.first_seed))
    with _console(args, runs) as console:
        import mmtricks  # noqa: F401
        payload = run_benchmark(
            args.data, args.sizes, args.seeds, args.effnet_seeds, args.cap,
            args.out, args.work_dir, command, machine_description(),
            progress=console.progress, cache=_cache_of(args),
            balanced_seeds=args.balanced_seeds, first_seed=args.first_seed,
            cached_only=args.cached_only)
    goals = payload['summary']['goals']
    if goals:
        print(f'chosen size vs best fixed: top-1 '
              f'{goals["chosen_top1_gap"]:+.2f} points, time '
              f'x{goals["chosen_time_ratio"]:.2f}')


def small_data(args, command: str) -> None:
    from benchmarks import small_data as bench
    from benchmarks.runs import machine_description
    if args.seeds < 1:
        raise SystemExit(f'--seeds must be at least 1, not {args.seeds}.')
    budgets = tuple(args.oracle_budgets or bench.ORACLE_BUDGETS)
    oracle_sizes = args.sizes if args.oracle_sizes is None \
        else args.oracle_sizes
    total = sum(r['epochs'] for r in bench.plan(
        args.sizes, args.recipes, args.seeds, budgets, oracle_sizes))
    with _console(args, total, unit='epoch') as console:
        import mmtricks  # noqa: F401
        payload = bench.run_benchmark(
            args.data, args.sizes, args.recipes, args.seeds, budgets,
            oracle_sizes, args.out, args.work_dir, command,
            machine_description(), _cache_of(args),
            test_per_class=args.test_per_class,
            selection_seed=args.selection_seed, note=args.note,
            progress=lambda epochs, message: console.progress(message,
                                                              epochs))
    with open(osp.join(args.out, f'{bench.NAME}.md')) as f:
        print(f.read())
    met = payload['summary']['goal']['met']
    verdict = 'not measured' if met is None else 'met' if met else 'missed'
    print(f'small data goal ({bench.GOAL}): {verdict}')


def pointing_game(args, command: str) -> None:
    from benchmarks import pointing_game as bench
    from benchmarks.deploy_acceptance import lscpu_summary
    import mmtricks  # noqa: F401
    payload = bench.run_benchmark(args.epochs, args.seed, args.out,
                                  args.work_dir, command, lscpu_summary(),
                                  latency_seconds=args.latency_seconds,
                                  canvas=args.canvas, digit=args.digit)
    name = bench.result_name(args.canvas, args.digit)
    with open(osp.join(args.out, f'{name}.md')) as f:
        print(f.read())
    print('pointing game goals: ' + ', '.join(
        f'{k} {"met" if v else "missed"}'
        for k, v in bench.goals_met(payload).items()))


def speed(args, command: str) -> None:
    if args.compile:
        return speed_compile(args, command)
    from benchmarks.speed import NAME, run_benchmark
    with _console(args, None) as console:
        run_benchmark(args.out, args.work_dir, command, iters=args.iters,
                      warmup=args.warmup, repeats=args.repeats or 2,
                      quick=args.quick, progress=console.progress)
    with open(osp.join(args.out, f'{NAME}.md')) as f:
        print(f.read())


def speed_compile(args, command: str) -> None:
    from benchmarks import speed_compile as bench
    from benchmarks.runs import machine_description
    try:
        cases = bench.parse_cases(args.cases or list(bench.CASES),
                                  args.repeats or 3)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    cap = args.cap or bench.DEFAULT_CAP
    try:
        runs = bench.plan(cases, args.seeds, args.arms)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    with _console(args, len(runs)) as console:
        import mmtricks  # noqa: F401
        bench.run_benchmark(cases, cap, args.out, args.work_dir,
                            command, machine_description(),
                            _cache_of(args), progress=console.progress,
                            seeds=args.seeds, arms=args.arms)
    with open(osp.join(args.out, f'{bench.NAME}.md')) as f:
        print(f.read())


def duplicates(args, command: str) -> None:
    from benchmarks import duplicates as bench
    payload = bench.run_benchmark(args.data or bench.DATASETS, args.out,
                                  args.work_dir, command, seed=args.seed,
                                  tuning_seed=args.tuning_seed)
    with open(osp.join(args.out, f'{bench.NAME}.md')) as f:
        print(f.read())
    verdicts = ', '.join(
        f'{row["dataset"]} {"met" if bench.goal_met(row) else "missed"}'
        for row in payload['datasets'])
    print(f'duplicate check goal: {verdicts}')


def operating_point(args, command: str) -> None:
    from benchmarks import operating_point as bench
    from benchmarks.runs import machine_description
    with _console(args, len(args.seeds)) as console:
        import mmtricks  # noqa: F401
        bench.run_benchmark(args.seeds, args.cap, args.out, args.work_dir,
                            command, machine_description(),
                            _cache_of(args), note=args.note,
                            progress=console.progress)
    with open(osp.join(args.out, f'{bench.NAME}.md')) as f:
        print(f.read())


def budget(args, command: str) -> None:
    from benchmarks import budget as bench
    from benchmarks.deploy_acceptance import lscpu_summary
    sizes = {item.split('=')[0]: [int(n) for n in item.split('=')[1].split(',')]
             for item in args.sizes}
    name = f'{bench.NAME}_backbone' if args.recipes else bench.NAME
    bench.run_benchmark(args.data, args.budgets, sizes, args.seeds, args.out,
                        args.work_dir, command, lscpu_summary(),
                        recipes=args.recipes, unbudgeted=args.unbudgeted,
                        name=name, first_seed=args.first_seed,
                        budget_row=args.budget_row)
    with open(osp.join(args.out, f'{name}.md')) as f:
        print(f.read())


def main(argv=None) -> None:
    from benchmarks.report import command_line
    args = parse_args(argv)
    args.main(args, command_line(['tools/benchmark.py',
                                  *(sys.argv[1:] if argv is None else argv)]))


if __name__ == '__main__':
    main()
