"""Write a bundled image set as class folders to train configs/auto_mbv3.py on.

    python tools/prepare_data.py {digits,mnist,lfw_faces} OUT_DIR \
        [--image-size N] [--val-ratio R] [--test-ratio R] [--seed S] \
        [--overwrite]

Writes OUT_DIR/train/<class>/*.png, OUT_DIR/val/<class>/*.png and
OUT_DIR/test/<class>/*.png (the same stratified split as the bundled
datasets: 60/20/20, 40/30/30 for lfw_faces), prints the image counts and the
`mim train` / `mim test` commands for the folder.
"""
import argparse
import shlex
import sys

from mmtricks.datasets.export import OutputDirNotEmptyError, export_bundled
from mmtricks.datasets.sources import BUNDLED_SOURCES

CONFIG = 'configs/auto_mbv3.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('name', choices=sorted(BUNDLED_SOURCES),
                        help='bundled set to write')
    parser.add_argument('out_dir', metavar='OUT_DIR',
                        help='folder to write it into (must be empty or new '
                        'unless --overwrite)')
    parser.add_argument('--image-size', type=int, default=None, metavar='N',
                        help='side of the square images written (default: '
                        "the set's native size)")
    parser.add_argument('--val-ratio', type=float, default=None, metavar='R',
                        help='share of each class written to val/ '
                        '(default: 0.2; 0.3 for lfw_faces)')
    parser.add_argument('--test-ratio', type=float, default=None,
                        metavar='R', help='share of each class written to '
                        'test/ (default: 0.2; 0.3 for lfw_faces)')
    parser.add_argument('--seed', type=int, default=0, metavar='S',
                        help='seed of the stratified split (default: 0)')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty OUT_DIR (same-named '
                        'files are replaced, nothing is deleted)')
    return parser.parse_args(argv)


def cfg_options(data_root: str, num_classes: int) -> str:
    root = shlex.quote(data_root)
    return ' '.join(
        [f'{loader}_dataloader.dataset.data_root={root}'
         for loader in ('train', 'val', 'test')] +
        [f'model.head.num_classes={num_classes}',
         f'data_preprocessor.num_classes={num_classes}'])


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = export_bundled(
            args.name, args.out_dir, image_size=args.image_size,
            val_ratio=args.val_ratio, test_ratio=args.test_ratio,
            seed=args.seed,
            overwrite=args.overwrite)
    except OutputDirNotEmptyError:
        sys.exit(f'error: {args.out_dir!r} is not empty. Choose an empty or '
                 'new folder, or pass --overwrite to write into it anyway '
                 '(same-named files are replaced, nothing is deleted).')
    except ValueError as error:
        sys.exit(f'error: {error}')

    print(f'Wrote {summary["total"]} {summary["image_size"]}x'
          f'{summary["image_size"]} images of {args.name!r} '
          f'({summary["num_classes"]} classes) to {summary["out_dir"]}')
    for part, counts in summary['splits'].items():
        listed = ', '.join(f'{cls}: {n}' for cls, n in counts.items())
        print(f'  {part}: {sum(counts.values())} images ({listed})')
    options = cfg_options(summary['out_dir'], summary['num_classes'])
    print('Train on it with:')
    print(f'  mim train mmpretrain {CONFIG} --cfg-options {options}')
    print('and report top-1 on its test/ images with:')
    print(f'  mim test mmpretrain {CONFIG} --checkpoint CHECKPOINT '
          f'--cfg-options {options}')


if __name__ == '__main__':
    main()
