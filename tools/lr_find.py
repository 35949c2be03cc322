"""Run mmtricks' LR range test on a config and print the suggested LR.

    python tools/lr_find.py configs/auto_mbv3.py [--work-dir DIR] \
        [--rule midpoint] [--cfg-options KEY=VALUE ...]

Writes lr_finder.json and lr_finder.png into the work dir.
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config file')
    parser.add_argument('--work-dir', help='where to write the curve and plot')
    parser.add_argument('--rule', help='suggestion rule (default: the '
                        "config's LRFinderHook rule, else 'midpoint')")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0] + '_lr_find')

    import mmtricks  # noqa: F401  (registers the hook, applies the fixes)
    from mmtricks.engine import build_runner_ready_to_train
    from mmtricks.hooks import LRFinderHook

    hook_cfgs = [h for h in cfg.get('custom_hooks', [])
                 if h.get('type') == 'LRFinderHook']
    hook_args = {k: v for k, v in (hook_cfgs[0] if hook_cfgs else {}).items()
                 if k not in ('type', 'priority')}
    if args.rule:
        hook_args['rule'] = args.rule
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.get('type') != 'LRFinderHook']
    finder = LRFinderHook(**hook_args)
    runner = build_runner_ready_to_train(cfg)
    finder.result = finder.find(runner)
    finder.write_outputs(runner.work_dir)

    result = finder.result
    for rule, lr in result['suggestions'].items():
        mark = '  <- chosen' if rule == finder.rule else ''
        shown = 'no answer' if lr is None else f'{lr:.4g}'
        print(f'{rule:>9}: {shown}{mark}')
    print(f'curve and plot: {osp.join(runner.work_dir, "lr_finder.png")}')
    print(f'suggested lr: {result["lr"]:.4g}' + (
        f' (fallback: {result["fallback_reason"]})'
        if result['fallback_reason'] else ''))


if __name__ == '__main__':
    main()
