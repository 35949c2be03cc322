"""Does the deployed model predict what the PyTorch model predicts?"""
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..models.operating_point import predict_labels


def parity_report(reference: np.ndarray, candidate: np.ndarray,
                  labels: np.ndarray,
                  operating_point: Tuple[Optional[int], Optional[float]]
                  = (None, None)) -> Dict[str, float]:
    """Compare two ``(N, K)`` score arrays on the same ``N`` labelled images.

    Both sides predict at ``operating_point`` (``(class index,
    threshold)`` of a 2-class model; ``(None, None)``: argmax), as the
    deployed model does.

    Returns top-1 (per cent) of each, the share of images whose top-1 class
    differs (per cent) and the largest absolute score difference; and the
    counts the acceptance bounds take: images whose top-1 class differs
    (``disagreements``), images the reference gets right and the candidate
    wrong (``lost``) and the reverse (``gained``).
    """
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if reference.shape != candidate.shape or len(labels) != len(reference):
        raise ValueError(
            f'Score arrays {reference.shape} and {candidate.shape} and '
            f'{len(labels)} labels do not describe the same images.')
    ref_top1 = predict_labels(reference, *operating_point)
    cand_top1 = predict_labels(candidate, *operating_point)
    if not len(labels):
        raise ValueError('No images to compare.')
    ref_right, cand_right = ref_top1 == labels, cand_top1 == labels
    return dict(
        images=int(len(labels)),
        reference_top1=float(100.0 * np.mean(ref_top1 == labels)),
        candidate_top1=float(100.0 * np.mean(cand_top1 == labels)),
        top1_disagreement=float(100.0 * np.mean(ref_top1 != cand_top1)),
        max_abs_score_diff=float(np.max(np.abs(reference - candidate))),
        disagreements=int(np.sum(ref_top1 != cand_top1)),
        lost=int(np.sum(ref_right & ~cand_right)),
        gained=int(np.sum(~ref_right & cand_right)),
    )


def top1_drop(report: Dict[str, float]) -> float:
    """Points of top-1 the candidate loses against PyTorch in a
    :func:`parity_report` (negative when it gains)."""
    return report['reference_top1'] - report['candidate_top1']


def parity_failures(report: Dict[str, float], max_top1_drop: float,
                    max_disagreement: float,
                    max_score_diff: float) -> List[str]:
    """Every tolerance the report breaks, as readable sentences."""
    failures = []
    drop = top1_drop(report)
    if drop > max_top1_drop:
        failures.append(f'top-1 dropped by {drop:.2f} points '
                        f'(tolerance {max_top1_drop})')
    if report['top1_disagreement'] > max_disagreement:
        failures.append(
            f'top-1 class differs on {report["top1_disagreement"]:.2f}% of '
            f'images (tolerance {max_disagreement}%)')
    if report['max_abs_score_diff'] > max_score_diff:
        failures.append(
            f'scores differ by up to {report["max_abs_score_diff"]:.2e} '
            f'(tolerance {max_score_diff:.0e})')
    return failures


def predicted_scores(model, batches) -> Tuple[np.ndarray, np.ndarray]:
    """Scores ``(N, K)`` and labels ``(N, )`` of an MMPretrain model (the
    PyTorch one, or MMDeploy's backend model of an IR) on ``(inputs,
    labels)`` batches."""
    import torch
    scores, labels = [], []
    with torch.no_grad():
        for inputs, batch_labels in batches:
            samples = model(inputs, mode='predict')
            scores.append(torch.stack([s.pred_score for s in samples]))
            labels.append(batch_labels)
    return torch.cat(scores).numpy(), torch.cat(labels).numpy()


def ir_scores(task_processor, xml: str,
              batches: Dict[str, list]) -> Dict[str, np.ndarray]:
    """Scores of the IR on each named set of batches, through MMDeploy's own
    backend model (on the replaced openvino backend, at the precision the IR
    records; compiled once): the same parity code for every candidate."""
    backend_model = task_processor.build_backend_model([xml])
    return {name: predicted_scores(backend_model, b)[0]
            for name, b in batches.items()}
