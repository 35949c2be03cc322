"""Bag of Tricks parts one at a time on configs/auto_mbv3.py, from scratch.

    python tools/benchmark_bag_of_tricks.py [--dataset digits] [--epochs 10] \
        [--seeds 0 1] [--work-dir DIR]

Variants: the recipe as is (no bias decay is on in it), with bias decay,
zero-gamma init, progressive resizing (half size for the first half), and
distillation from the recipe's own trained model (same architecture, a
"born-again" teacher). Fixed cosine budget, LR 0.1, no LR finder. Prints a
Markdown table of final val top-1 and train wall time.
"""
import argparse
import os.path as osp
import statistics
import tempfile

VARIANTS = ('recipe', 'with_bias_decay', 'zero_gamma', 'progressive',
            'distill')


def variant_config(name, dataset, epochs, seed, work, teacher=None):
    from mmtricks.benchmarks.common import bundled_config
    cfg = bundled_config(dataset, epochs, seed, osp.join(work, name),
                         finder=False)
    if name == 'with_bias_decay':
        cfg.optim_wrapper.pop('paramwise_cfg')
    elif name == 'zero_gamma':
        cfg.model.backbone.init_cfg = dict(type='ZeroInitLastBN')
    elif name == 'progressive':
        cfg.custom_hooks.append(dict(type='ProgressiveResizingHook',
                                     stages=[dict(until=0.5, scale=0.5)]))
    elif name == 'distill':
        teacher_cfg = cfg.model.to_dict()
        cfg.model = dict(teacher_cfg, type='DistillationClassifier',
                         teacher=teacher_cfg, teacher_checkpoint=teacher,
                         temperature=4.0, alpha=0.5)
    return cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset', default='digits')
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()

    import torch
    from mmengine.runner import Runner

    import mmtricks  # noqa: F401
    from mmtricks.benchmarks.common import train_once
    work = args.work_dir or tempfile.mkdtemp(prefix='bench_bag_of_tricks_')
    results = {name: [] for name in VARIANTS}
    for seed in args.seeds:
        seed_work = osp.join(work, f'seed{seed}')
        teacher = osp.join(seed_work, 'teacher.pth')
        for name in VARIANTS:
            cfg = variant_config(name, args.dataset, args.epochs, seed,
                                 seed_work, teacher)
            if name == 'recipe':
                # train_once, keeping the runner to save the teacher
                runner = Runner.from_cfg(cfg)
                result = _train(runner)
                torch.save({'state_dict': runner.model.state_dict()},
                           teacher)
            else:
                result = train_once(cfg)
            results[name].append(result)
            print(f'seed {seed} {name}: top1 {result["top1"]:.2f} '
                  f'{result["seconds"]:.0f} s', flush=True)
    print(f'\n{args.dataset}, {args.epochs} epochs, seeds {args.seeds}\n')
    print('| variant | val top-1 (mean) | per seed | train s (mean) |')
    print('| --- | --- | --- | --- |')
    for name, runs in results.items():
        tops = [r['top1'] for r in runs]
        print(f'| {name} | {statistics.mean(tops):.2f} | '
              f'{", ".join(f"{t:.2f}" for t in tops)} | '
              f'{statistics.mean(r["seconds"] for r in runs):.0f} |')


def _train(runner):
    import time
    start = time.perf_counter()
    runner.train()
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    return dict(top1=float(top1), seconds=time.perf_counter() - start)


if __name__ == '__main__':
    main()
