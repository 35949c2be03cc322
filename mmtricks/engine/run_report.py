"""The run report: one self-contained HTML page of what a work dir holds.

:func:`render_report` reads the files a run leaves in its work dir and
returns the page (no runner, no network); :func:`write_report` writes it as
``report.html``. ``DataAwareRunner`` calls the latter at the end of
``mim train`` and ``mim test``; ``tools/report.py WORK_DIR`` for any work
dir. What it reads:

- the shipped checkpoint's meta (``best_auto_epochs.pth``, else the newest
  ``*.pth``): the data decisions and their reasons, the operating point;
  without a checkpoint, the log's ``Data decision:`` lines;
- ``data_checks.json``, ``lr_finder.json``/``.png``,
  ``confusion_matrix_{val,test}.png``;
- every ``<timestamp>/vis_data/scalars.json`` (loss and LR per iteration,
  val metrics per epoch, the test's) and log (AutoEpochs' anneal and stop);
- ``label_noise/{val,test}.json`` and their overlays
  (:mod:`~mmtricks.engine.label_noise`);
- a deploy report (``deploy_report.json``) in the work dir or a folder
  below it, or where ``deploy_dirs`` say.
"""
import glob
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

from .label_noise import read_label_noise
from .report_html import page
from .report_sections import SECTIONS

REPORT_FILE = 'report.html'
SHIPPED_CHECKPOINT = 'best_auto_epochs.pth'
# tools/deploy.py's report (mmtricks.deploy.model_info.DEPLOY_REPORT; the
# engine reads the file, it does not import the deploy layer).
DEPLOY_REPORT_JSON = 'deploy_report.json'
SPLITS = ('val', 'test')


def _read_json(path: str):
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def run_folders(work_dir: str) -> List[str]:
    """The work dir's ``<timestamp>`` folders (one per run), oldest first."""
    return sorted(d for d in glob.glob(osp.join(work_dir, '*'))
                  if re.fullmatch(r'\d{8}_\d{6}', osp.basename(d))
                  and osp.isdir(d))


def read_scalars(work_dir: str) -> List[Dict]:
    """Every line of every run's ``vis_data/scalars.json``, then its test
    metrics (MMEngine's LoggerHook dumps them, per-class lists and the
    confusion matrix included, as one object in ``<timestamp>.json``), in
    run order."""
    lines = []
    for folder in run_folders(work_dir):
        path = osp.join(folder, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                lines.extend(json.loads(line) for line in f if line.strip())
        test = _read_json(osp.join(folder, osp.basename(folder) + '.json'))
        if isinstance(test, dict):
            lines.append(test)
    return lines


def read_logs(work_dir: str) -> List[str]:
    """The lines of every run's log, in run order."""
    lines = []
    for folder in run_folders(work_dir):
        for path in sorted(glob.glob(osp.join(folder, '*.log'))):
            with open(path, errors='replace') as f:
                lines.extend(f.read().splitlines())
    return lines


def find_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a run ships: ``best_auto_epochs.pth``, else the
    newest ``*.pth``."""
    shipped = osp.join(work_dir, SHIPPED_CHECKPOINT)
    if osp.isfile(shipped):
        return shipped
    found = glob.glob(osp.join(work_dir, '*.pth'))
    return max(found, key=osp.getmtime) if found else None


def checkpoint_meta(path: Optional[str]) -> Dict:
    if not path or not osp.isfile(path):
        return {}
    from ..compat.checkpoint_loading import load_checkpoint_file
    return dict(load_checkpoint_file(path).get('meta') or {})


def find_deploy_reports(work_dir: str,
                        deploy_dirs: Sequence[str] = ()) -> List[str]:
    """``deploy_report.json`` in ``deploy_dirs``, else in the work dir or
    one or two folders below it."""
    places = list(deploy_dirs) or [work_dir, osp.join(work_dir, '*'),
                                   osp.join(work_dir, '*', '*')]
    found = []
    for place in places:
        found.extend(glob.glob(osp.join(place, DEPLOY_REPORT_JSON)))
    return sorted(set(found))


def collect(work_dir: str, checkpoint: Optional[str] = None,
            deploy_dirs: Sequence[str] = ()) -> Dict:
    """Everything the sections show, read from the files."""
    checkpoint = checkpoint or find_checkpoint(work_dir)
    meta = checkpoint_meta(checkpoint)
    return dict(
        work_dir=work_dir, checkpoint=checkpoint, meta=meta,
        decisions=meta.get('data_decisions') or {},
        data_checks=_read_json(osp.join(work_dir, 'data_checks.json')),
        lr_finder=_read_json(osp.join(work_dir, 'lr_finder.json')),
        scalars=read_scalars(work_dir), log=read_logs(work_dir),
        label_noise={s: read_label_noise(work_dir, s) for s in SPLITS},
        deploy={path: _read_json(path)
                for path in find_deploy_reports(work_dir, deploy_dirs)})


def render_report(work_dir: str, checkpoint: Optional[str] = None,
                  deploy_dirs: Sequence[str] = ()) -> str:
    """The report of ``work_dir`` as one HTML string."""
    facts = collect(work_dir, checkpoint, deploy_dirs)
    sections = [(key, heading, draw(facts))
                for key, heading, draw in SECTIONS]
    name = osp.basename(osp.normpath(work_dir))
    return page(f'Run report: {name}', sections)


def write_report(work_dir: str, out: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 deploy_dirs: Sequence[str] = ()) -> str:
    """Render and write the report (whole or not at all); its path."""
    out = out or osp.join(work_dir, REPORT_FILE)
    text = render_report(work_dir, checkpoint, deploy_dirs)
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    partial = osp.join(folder, f'.{osp.basename(out)}.partial')
    with open(partial, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(partial, out)
    return out
