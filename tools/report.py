"""The run report of any work dir: one self-contained HTML page.

    python tools/report.py work_dirs/auto_mbv3 [--out FILE] \
        [--deploy work_dirs/deploy] [--screenshot docs/report.png]

Reads what the run left in the work dir (data decisions, data checks, LR
range test, curves, per-class numbers, confusion matrices, label-noise
candidates, operating point; a deploy report found in or below it, or in
``--deploy``) and writes ``report.html`` there (docs/report.md). ``mim
train`` and ``mim test`` write the same page at their end. ``--screenshot``
also renders the page in headless Chromium into a PNG.
"""
import argparse
import os.path as osp
import shutil
import subprocess
import sys
import tempfile

CHROMIUM_NAMES = ('chromium', 'chromium-browser', 'google-chrome')
WINDOW = (1200, 3000)


def find_chromium():
    """A headless-capable Chromium on PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium(args, timeout: int = 120) -> str:
    """Run headless Chromium (no GPU, no sandbox: CI runs as root) and
    return its stdout; its own profile dir, so runs never share state."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError(
            'no chromium on PATH: install it (Debian: apt-get install '
            'chromium) to render the report')
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, '--headless', '--disable-gpu', '--no-sandbox',
             '--hide-scrollbars', f'--user-data-dir={profile}',
             '--virtual-time-budget=10000', *args],
            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f'chromium failed ({result.returncode}): '
                           f'{result.stderr[-500:]}')
    return result.stdout


def dump_dom(html_path: str) -> str:
    """The page's DOM once loaded (its script has marked broken images)."""
    return chromium(['--dump-dom', 'file://' + osp.abspath(html_path)])


def screenshot(html_path: str, png_path: str, window=WINDOW,
               colours: int = 128) -> str:
    """A PNG of the page's first ``window`` pixels, reduced to ``colours``
    (a palette PNG: a few times smaller, fine for plots and tables)."""
    from PIL import Image
    chromium([f'--screenshot={osp.abspath(png_path)}',
              f'--window-size={window[0]},{window[1]}',
              'file://' + osp.abspath(html_path)])
    with Image.open(png_path) as shot:
        small = shot.convert('RGB').quantize(colours)
    small.save(png_path, optimize=True)
    return png_path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='a training or test work dir')
    parser.add_argument('--out', help='the HTML file (default: '
                        'WORK_DIR/report.html)')
    parser.add_argument('--deploy', nargs='+', default=(),
                        help='folders holding deploy_report.json (default: '
                        'the work dir and folders below it)')
    parser.add_argument('--screenshot', help='also write a PNG of the page '
                        'as headless Chromium renders it')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isdir(args.work_dir):
        print(f'ERROR: {args.work_dir} is not a folder: give the work dir '
              'of a run (where mim train wrote its checkpoints)',
              file=sys.stderr)
        return 2
    from mmtricks.engine.run_report import write_report
    path = write_report(args.work_dir, args.out, deploy_dirs=args.deploy)
    print(f'Run report: {path}')
    if args.screenshot:
        try:
            screenshot(path, args.screenshot)
        except (FileNotFoundError, RuntimeError,
                subprocess.TimeoutExpired) as error:
            print(f'ERROR: screenshot not taken: {error}', file=sys.stderr)
            return 1
        print(f'Screenshot: {args.screenshot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
