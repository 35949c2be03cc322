"""Kill training runs of the automatic recipe at random moments and check
that every one resumes and ships the model an uninterrupted run ships.

    python tools/fault_injection.py [--kills 30] [--seeds 0 1 2]
        [--data digits] [--max-epochs 15] [--kills-per-run 3]

First one uninterrupted run per seed (the seed noise), then killed runs
(taking the seeds in turn) until --kills SIGKILLs were sent: each kill aims
at a phase (LR range test, training iterations, BN recomputation,
checkpoint writing, validation) or a random moment, and is followed by
``--resume`` launches until the run trains again. Each training process is
MMPretrain's tools/train.py, as ``mim train`` runs it, with
OMP_NUM_THREADS=--threads. Writes fault_injection.json and .md into --out
after every run; a run that fails is copied to --failures-dir with its
output. Exit status 1 when a goal is missed.
"""
import argparse
import os.path as osp
import random
import sys

from benchmarks import REPO


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='tools/fault_injection.py', description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=osp.join(REPO, 'configs',
                                                     'auto_mbv3.py'))
    parser.add_argument('--data', default='digits',
                        help='a bundled name or a folder of your images '
                        '(default %(default)s)')
    parser.add_argument('--kills', type=int, default=30,
                        help='SIGKILLs in all (default %(default)s)')
    parser.add_argument('--kills-per-run', type=int, default=3,
                        help='the most kills of one run (default '
                        '%(default)s)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='one uninterrupted run each; the killed runs '
                        'take them in turn (default 0 1 2)')
    parser.add_argument('--max-epochs', type=int, default=15,
                        help='train_cfg.max_epochs of every run, killed or '
                        'not (default %(default)s)')
    parser.add_argument('--threads', type=int, default=1,
                        help='OMP_NUM_THREADS of every process (default '
                        '%(default)s)')
    parser.add_argument('--uniform-share', type=float, default=0.2,
                        help='share of kills at uniformly random moments; '
                        'the others aim at the phase hit least so far '
                        '(default %(default)s)')
    parser.add_argument('--retries', type=int, default=2,
                        help='launches after a failed one before the run '
                        'counts as failed (default %(default)s)')
    parser.add_argument('--rng-seed', type=int, default=0,
                        help='seed of the kill moments (default '
                        '%(default)s)')
    parser.add_argument('--snapshot', action='store_true',
                        help='train the committed code (HEAD\'s mmtricks/ '
                        'and configs/, extracted into WORK_DIR/code) rather '
                        'than the working tree, which may be edited while '
                        'the campaign runs')
    parser.add_argument('--work-dir', default='work_dirs/fault_injection')
    parser.add_argument('--failures-dir', default=None,
                        help='where failing work dirs are copied (default '
                        'WORK_DIR/failures)')
    parser.add_argument('--out', default=osp.join(REPO, 'docs',
                                                  'benchmarks'))
    args = parser.parse_args(argv)
    for name in ('kills', 'kills_per_run', 'max_epochs', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1.')
    if len(args.seeds) < 2:
        parser.error('--seeds needs at least two seeds: the seed noise is '
                     'their spread.')
    return args


def main(argv=None) -> int:
    from benchmarks.fault_injection import (Campaign, code_version,
                                            snapshot_head)
    from benchmarks.report import command_line
    from benchmarks.runs import machine_description
    args = parse_args(argv)
    command = command_line(['tools/fault_injection.py',
                            *(sys.argv[1:] if argv is None else argv)])
    config, code_dir, code = args.config, None, code_version(REPO)
    if args.snapshot:
        code_dir = snapshot_head(REPO, osp.join(args.work_dir, 'code'))
        code = f'commit {osp.basename(code_dir)} (committed code only)'
        inside = osp.relpath(osp.abspath(config), REPO)
        if inside.startswith('configs' + osp.sep):
            config = osp.join(code_dir, inside)
    campaign = Campaign(
        config, args.data, args.seeds, args.max_epochs, args.kills,
        args.kills_per_run, args.work_dir,
        args.failures_dir or osp.join(args.work_dir, 'failures'), args.out,
        command, machine_description(), code,
        random.Random(args.rng_seed), threads=args.threads,
        uniform_share=args.uniform_share, retries=args.retries,
        progress=lambda line: print(line, flush=True), code_dir=code_dir)
    payload = campaign.run()
    missed = [goal for goal, met in payload['summary']['goals'].items()
              if not met]
    print(f'{payload["summary"]["kills"]} kills, '
          f'{payload["summary"]["resumed"]} resumed; goals missed: '
          f'{"; ".join(missed) or "none"}')
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
