"""How each field code scores a set of faces, written out step by step from its source (the style of
tests/original_3fabrec.py). Each function takes what that code takes: ground truth and predictions as its
pipeline builds them, in the frame it uses. The commits read are the ones `fabrec-bench protocols show NAME`
names.
"""

from __future__ import annotations

import numpy as np
import torch
from original_hrnet import compute_nme
from scipy.integrate import simpson


def old_simps(y, x) -> float:
    """scipy.integrate.simps before SciPy 1.11 (even='avg'): odd sample counts by the composite rule (what
    `simpson` still does), even counts the mean of Simpson on the first N-1 samples plus a trapezoid on the
    last interval and a trapezoid on the first interval plus Simpson on the rest."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    if len(y) % 2 == 1:
        return float(simpson(y, x=x))
    first = simpson(y[:-1], x=x[:-1]) + 0.5 * (x[-1] - x[-2]) * (y[-1] + y[-2])
    last = 0.5 * (x[1] - x[0]) * (y[0] + y[1]) + simpson(y[1:], x=x[1:])
    return float((first + last) / 2)


def fr_and_auc_on_grid(nmes, thres, step=0.0001) -> tuple[float, float]:
    """STAR's lib/metric/fr_and_auc.py and PIPNet's lib/functions.py compute_fr_and_auc (the same code)."""
    num_data = len(nmes)
    xs = np.arange(0, thres + step, step)
    ys = np.array([np.count_nonzero(nmes <= x) for x in xs]) / float(num_data)
    fr = 1.0 - ys[-1]
    auc = old_simps(ys, xs) / thres
    return fr, auc


# -- HRNet-Facial: lib/core/evaluation.py compute_nme (ported once, in original_hrnet.py), lib/core/function.py
#    failure rates

def hrnet(preds: np.ndarray, target: np.ndarray, box_size: np.ndarray | None = None) -> dict:
    N = preds.shape[0]
    rmse = compute_nme(torch.from_numpy(preds), torch.from_numpy(target), box_size)
    return {"nme": rmse.mean(), "fr": (rmse > 0.10).sum() / N, "fr2": (rmse > 0.08).sum() / N}


# -- STAR: lib/metric/nme.py (NME.test), conf/alignment.py indices and thresholds ---------------------------

def star(preds: np.ndarray, gts: np.ndarray, left, right, thres: float) -> dict:
    nmes = []
    for pv, gt in zip(preds, gts, strict=True):
        if isinstance(right, list):
            norm = np.linalg.norm(gt[right].mean(0) - gt[left].mean(0))
        else:
            norm = np.linalg.norm(gt[left] - gt[right])
        nmes.append((np.linalg.norm(pv - gt, axis=1) / norm).mean())
    nmes = np.array(nmes)
    fr, auc = fr_and_auc_on_grid(nmes, thres)
    return {"nme": nmes.mean(), "fr": fr, "auc": auc}


# -- PIPNet: lib/preprocess.py (labels as fractions of its crop box), lib/test.py, lib/functions.py ----------

def pipnet_wflw(lms: list, bbox: list, image_width: int, image_height: int):
    """process_wflw: labels clamped into the image, the rectangle widened by 1.2, clipped; returns the labels
    and the box (xmin, ymin, width, height)."""
    lms_x, lms_y = lms[0::2], lms[1::2]
    lms_x = [x if x >= 0 else 0 for x in lms_x]
    lms_x = [x if x <= image_width else image_width for x in lms_x]
    lms_y = [y if y >= 0 else 0 for y in lms_y]
    lms_y = [y if y <= image_height else image_height for y in lms_y]
    bbox_xmin, bbox_ymin, bbox_xmax, bbox_ymax = bbox
    width, height = bbox_xmax - bbox_xmin, bbox_ymax - bbox_ymin
    scale = 1.2
    bbox_xmin -= width * (scale - 1) / 2
    bbox_ymin -= height * (scale - 1) / 2
    bbox_xmax += width * (scale - 1) / 2
    bbox_ymax += height * (scale - 1) / 2
    bbox_xmin, bbox_ymin = max(bbox_xmin, 0), max(bbox_ymin, 0)
    bbox_xmax, bbox_ymax = min(bbox_xmax, image_width - 1), min(bbox_ymax, image_height - 1)
    width, height = bbox_xmax - bbox_xmin, bbox_ymax - bbox_ymin
    labels = [[(x - bbox_xmin) / width, (y - bbox_ymin) / height] for x, y in zip(lms_x, lms_y, strict=True)]
    return labels, (bbox_xmin, bbox_ymin, width, height)


def pipnet_300w(pts: list, image_width: int, image_height: int):
    """process_300w: the .pts values truncated with int(), the box from their extent widened by 1.1."""
    anno = [[int(float(x)), int(float(y))] for x, y in pts]
    anno_x, anno_y = [a[0] for a in anno], [a[1] for a in anno]
    bbox_xmin, bbox_ymin = min(anno_x), min(anno_y)
    bbox_width, bbox_height = max(anno_x) - bbox_xmin, max(anno_y) - bbox_ymin
    scale = 1.1
    bbox_xmin -= int((scale - 1) / 2 * bbox_width)
    bbox_ymin -= int((scale - 1) / 2 * bbox_height)
    bbox_width = int(bbox_width * scale)
    bbox_height = int(bbox_height * scale)
    bbox_xmin, bbox_ymin = max(bbox_xmin, 0), max(bbox_ymin, 0)
    bbox_width = min(bbox_width, image_width - bbox_xmin - 1)
    bbox_height = min(bbox_height, image_height - bbox_ymin - 1)
    labels = [[(x - bbox_xmin) / bbox_width, (y - bbox_ymin) / bbox_height] for x, y in anno]
    return labels, (bbox_xmin, bbox_ymin, bbox_width, bbox_height)


def pipnet_cofw(anno: np.ndarray, bbox: np.ndarray, image_width: int, image_height: int, scale: float = 1.0):
    """process_cofw (scale 1) and process_cofw_68_test (scale 1.3): the [x y w h] box, its far corner at
    x + w - 1, widened, clipped; labels as written."""
    xmin, ymin, width, height = bbox
    xmax, ymax = xmin + width - 1, ymin + height - 1
    if scale != 1.0:
        xmin -= width * (scale - 1) / 2
        ymin -= height * (scale - 1) / 2
        xmax += width * (scale - 1) / 2
        ymax += height * (scale - 1) / 2
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    xmax, ymax = min(xmax, image_width - 1), min(ymax, image_height - 1)
    labels = np.stack([(anno[:, 0] - xmin) / (xmax - xmin), (anno[:, 1] - ymin) / (ymax - ymin)], axis=1)
    return labels, (xmin, ymin, xmax - xmin, ymax - ymin)


def pipnet_aflw(anno: np.ndarray, bbox: tuple, image_width: int, image_height: int):
    """process_aflw: labels clamped into the image, the (x1, x2, y1, y2) box clipped."""
    anno_x = np.clip(anno[:, 0], 0, image_width)
    anno_y = np.clip(anno[:, 1], 0, image_height)
    xmin, xmax, ymin, ymax = bbox
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    xmax, ymax = min(xmax, image_width - 1), min(ymax, image_height - 1)
    labels = np.stack([(anno_x - xmin) / (xmax - xmin), (anno_y - ymin) / (ymax - ymin)], axis=1)
    return labels, (xmin, ymin, xmax - xmin, ymax - ymin)


def pipnet_test(labels: list, preds_in_crop: list, norm_indices) -> dict:
    """lib/test.py: compute_nme per face (norm: the distance of two label points, or 1), then
    compute_fr_and_auc(nmes) at 0.1."""
    nmes = []
    for lms_gt, lms_pred in zip(labels, preds_in_crop, strict=True):
        lms_gt = np.asarray(lms_gt, float).reshape(-1, 2)
        norm = 1 if norm_indices is None else np.linalg.norm(lms_gt[norm_indices[0]] - lms_gt[norm_indices[1]])
        nmes.append(np.mean(np.linalg.norm(np.asarray(lms_pred).reshape(-1, 2) - lms_gt, axis=1)) / norm)
    nmes = np.array(nmes)
    fr, auc = fr_and_auc_on_grid(nmes, 0.1)
    return {"nme": nmes.mean(), "fr": fr, "auc": auc}


def in_crop(points: np.ndarray, box) -> np.ndarray:
    """What PIPNet's network outputs for landmarks at `points`: fractions of its crop box."""
    xmin, ymin, w, h = box
    return np.stack([(points[:, 0] - xmin) / w, (points[:, 1] - ymin) / h], axis=1)


# -- SPIGA: spiga/eval/benchmark/metrics/landmarks.py -------------------------------------------------------

def spiga(preds: np.ndarray, gts: np.ndarray, norm: str, thr: float, corners=(12, 7), ids=None) -> dict:
    """compute_error (ne in percent per listed landmark, mean per image), _cumulative_error (10,000 bins),
    _filter_cumulative, _auc_fr_metrics; `norm` is 'corners' (SPIGA ids 12 and 7) or 'lnd_bbox'."""
    ids = ids or list(range(gts.shape[1]))
    nme_per_img = []
    for gt, pred in zip(gts, preds, strict=True):
        if norm == "corners":
            norm_value = float(((gt[ids.index(corners[0])] - gt[ids.index(corners[1])]) ** 2).sum() ** 0.5)
        else:  # lnd_bbox
            lnd_wh = np.max(gt, axis=0) - np.min(gt, axis=0)
            norm_value = (lnd_wh[0] * lnd_wh[1]) ** 0.5
        ne = [float(((gt[k] - pred[k]) ** 2).sum() ** 0.5) / norm_value * 100 for k in range(len(ids))]
        nme_per_img.append(np.mean(ne))
    num_imgs, base = np.histogram(nme_per_img, bins=10000)
    cumulative = [x / float(len(nme_per_img)) for x in np.cumsum(num_imgs)]
    base = [x for x in base[:10000] if x < thr]
    cumulative = cumulative[:len(base)]
    if not base:
        auc, fr = 0.0, 100.0
    else:
        auc = old_simps(cumulative, base) / thr * 100.0
        if base[-1] < thr and cumulative[-1] == 1:
            auc += (thr - base[-1]) / thr * 100
        fr = (1 - cumulative[-1]) * 100.0
    return {"nme": np.mean(nme_per_img) / 100, "fr": fr / 100, "auc": auc / 100}


# -- mmpose 1.x: evaluation/metrics/keypoint_2d_metrics.py (NME), functional/keypoint_eval.py ---------------

def mmpose(preds: np.ndarray, gts: np.ndarray, *, indices=None, bboxes_xyxy: np.ndarray | None = None) -> dict:
    """NME: a normalise factor per face (the inter-ocular distance of DEFAULT_KEYPOINT_INDICES, or for
    norm_item 'bbox_size' max(x2 - x1, y2 - y1) of the box), tiled over x and y; keypoint_nme: the mean of
    ||(pred - gt) / factor|| over every visible point of every face."""
    if bboxes_xyxy is not None:
        factor = np.array([[np.max(b[2:] - b[:2])] for b in bboxes_xyxy])
    else:
        factor = np.linalg.norm(gts[:, indices[0], :] - gts[:, indices[1], :], axis=1, keepdims=True)
    factor = np.tile(factor, [1, 2])
    distances = np.linalg.norm((preds - gts) / factor[:, None, :], axis=-1)
    mask = np.ones(distances.shape, dtype=bool)
    return {"nme": float(distances[mask].mean())}
