"""What the original 3FabRec computes for a face, written out step by step, and snapshots in its layout.

Shared by the fidelity tests: `random_snapshot` writes saae.mdl + meta.json as the original code does;
`original_prediction` crops as the original (zero-pad, slice, bicubic resize to 363, centre 256), normalises
(RGB / 255 minus the mean), runs our network in fp32 NCHW, decodes (9 x 9 blur, argmax) and maps back.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import torch

from fabrec_bench.faces.crops import fabrec_region
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.fabrec.heatmaps import decode
from fabrec_bench_plugins.models.fabrec.networks import Fabrec

MEAN = torch.tensor([0.518, 0.418, 0.361]).view(1, 3, 1, 1)


def random_snapshot(folder, points: int, input_size: int = 256, seed: int = 0) -> Fabrec:
    """An original-layout snapshot with random weights and random BatchNorm statistics."""
    torch.manual_seed(seed)
    net = Fabrec(points, input_size).eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
    folder.mkdir(parents=True)
    torch.save({"arch": "ResNet", "z_dim": 99, "input_size": input_size, "state_dict": net.state_dict()},
               folder / "saae.mdl")
    (folder / "meta.json").write_text(json.dumps({"epoch": 150, "total_iter": 2589834}))
    return net


def original_prediction(net: Fabrec, sample: FaceSample, extension, frame_offset: float = 0.0) -> np.ndarray:
    """What the original computes for one face, in our 0-based image frame."""
    rgb = cv2.imread(str(sample.image_path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    box = np.asarray(sample.box_px) + frame_offset
    tl, br = fabrec_region(box, extension, 256)
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((h, h), (w, w), (0, 0)))
    tlp, brp = tl + (w, h), br + (w, h)
    dilate = -np.minimum(tlp, 0)
    padded = np.pad(padded, ((dilate[1], dilate[1]), (dilate[0], dilate[0]), (0, 0)))
    tlp, brp = tlp + dilate, brp + dilate
    roi = cv2.resize(padded[tlp[1]:brp[1], tlp[0]:brp[0]], (363, 363), interpolation=cv2.INTER_CUBIC)
    crop = roi[53:309, 53:309]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0 - MEAN
    with torch.no_grad():
        in_crop = decode(net.heatmaps(x), 256)[0].double().numpy()
    return (in_crop + 53) * (br - tl) / 363 + tl - frame_offset


# -- Training, step by step as the original's trainers compute it --------------------------------------------
# csl_common/utils/transforms.py (RandomHorizontalFlip, RandomAffine, CenterCrop), csl_common/metrics/ssim.py,
# aae_training.py (loss_recon, loss_struct, update_encoding, update_gan), train_aae_unsupervised.py and
# train_aae_landmarks.py (_run_epoch, _run_batch), landmarks/lmutils.py (create_landmark_heatmaps).

# RandomHorizontalFlip's left-to-right maps (each is made symmetric: right-to-left is added).
ORIGINAL_LEFT_TO_RIGHT = {
    98: {0: 32, 1: 31, 2: 30, 3: 29, 4: 28, 5: 27, 6: 26, 7: 25, 8: 24, 9: 23, 10: 22, 11: 21, 12: 20, 13: 19,
         14: 18, 15: 17, 16: 16, 33: 46, 34: 45, 35: 44, 36: 43, 37: 42, 38: 50, 39: 49, 40: 48, 41: 47, 51: 51,
         52: 52, 53: 53, 54: 54, 55: 59, 56: 58, 57: 57, 60: 72, 61: 71, 62: 70, 63: 69, 64: 68, 65: 75, 66: 74,
         67: 73, 96: 97, 76: 82, 77: 81, 78: 80, 79: 79, 87: 83, 86: 84, 85: 85, 88: 92, 89: 91, 90: 90, 95: 93,
         94: 94},
    68: {0: 16, 1: 15, 2: 14, 3: 13, 4: 12, 5: 11, 6: 10, 7: 9, 8: 8, 17: 26, 18: 25, 19: 24, 20: 23, 21: 22,
         27: 27, 28: 28, 29: 29, 30: 30, 31: 35, 32: 34, 33: 33, 36: 45, 37: 44, 38: 43, 39: 42, 40: 47, 41: 46,
         48: 54, 49: 53, 50: 52, 51: 51, 57: 57, 58: 56, 59: 55, 60: 64, 61: 63, 62: 62, 66: 66, 67: 65},
    19: {0: 5, 1: 4, 2: 3, 6: 11, 7: 10, 8: 9, 12: 14, 13: 13, 15: 17, 16: 16, 18: 18},
}


def original_flip_map(points: int) -> dict:
    left_to_right = dict(ORIGINAL_LEFT_TO_RIGHT[points])
    left_to_right.update({v: k for k, v in ORIGINAL_LEFT_TO_RIGHT[points].items()})
    return left_to_right


def original_flip(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RandomHorizontalFlip when it fires: the image mirrored (np.fliplr); landmarks with x > 0 get
    x = width - x (the others keep theirs), then point i takes point flip_map[i]."""
    flipped = np.fliplr(image).copy()
    landmarks = landmarks.copy()
    non_zeros = landmarks[:, 0] > 0
    landmarks[non_zeros, 0] *= -1
    landmarks[non_zeros, 0] += image.shape[1]
    flip_map = original_flip_map(len(landmarks))
    return flipped, np.stack([landmarks[flip_map[i]] for i in range(len(landmarks))])


def original_affine_matrix(angle_deg: float, translations, scales, shear_deg: float, size: int) -> np.ndarray:
    """RandomAffine._get_full_matrix: skimage's AffineTransform(rotation, translation, shear, scale) as it was
    defined before skimage 0.21 (what the paper's training ran: [[sx cos r, -sy sin(r + s), tx], [sx sin r,
    sy cos(r + s), ty]]), applied about the image centre size / 2: T^-1 M T. 3 x 3."""
    r, s = np.deg2rad(angle_deg), np.deg2rad(shear_deg)
    sx, sy = scales
    m = np.array([[sx * np.cos(r), -sy * np.sin(r + s), translations[0]],
                  [sx * np.sin(r), sy * np.cos(r + s), translations[1]], [0.0, 0.0, 1.0]])
    t = np.array([[1.0, 0.0, -size / 2], [0.0, 1.0, -size / 2], [0.0, 0.0, 1.0]])
    return np.linalg.inv(t) @ m @ t


def original_augment(roi_image: np.ndarray, roi_landmarks: np.ndarray, flip: bool, affine: tuple,
                     input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """build_transform's chain on a ROI crop: the flip (if it fires), RandomAffine (cubic warp, black border)
    with `affine` = (angle, translations, scales, shear), then CenterCrop: the input square at
    int((roi - input) / 2), landmarks shifted by it and clamped at 0. Landmarks are float32 as the original's."""
    image, landmarks = roi_image, roi_landmarks.astype(np.float32)
    if flip:
        image, landmarks = original_flip(image, landmarks)
    size = image.shape[0]
    m = original_affine_matrix(*affine, size)
    image = cv2.warpAffine(image, m[:2], image.shape[:2][::-1], flags=cv2.INTER_CUBIC)
    landmarks = (landmarks.astype(np.float64) @ m[:2, :2].T + m[:2, 2]).astype(np.float32)
    offset = int((size - input_size) / 2)
    image = image[offset:offset + input_size, offset:offset + input_size]
    landmarks = landmarks - offset
    landmarks[landmarks < 0] = 0
    return image, landmarks


def _original_window(window_size: int, channels: int, sigma: float = 1.5) -> torch.Tensor:
    """create_window: a 1-D Gaussian from Python floats (normalised in float32), its outer product."""
    gauss = torch.Tensor([np.exp(-(x - window_size // 2) ** 2 / float(2 * sigma ** 2)) for x in range(window_size)])
    one = (gauss / gauss.sum()).unsqueeze(1)
    return one.mm(one.t()).float().unsqueeze(0).unsqueeze(0).expand(channels, 1, window_size, window_size).contiguous()


def original_loss_struct(x: torch.Tensor, recon: torch.Tensor, window_size: int = 31) -> torch.Tensor:
    """aae_training.loss_struct with SSIM(window_size=31): image by image, 1 - mean(cs_map), where ssim()
    guesses L from that image alone (max > 128 -> 255 else 1, min < -0.5 -> -1 else 0) and C2 = (0.03 L)^2;
    the mean over the batch."""
    import torch.nn.functional as F

    window = _original_window(window_size, x.shape[1])
    errs = []
    for i in range(len(x)):
        img1, img2 = x[i:i + 1], recon[i:i + 1]
        L = (255 if torch.max(img1) > 128 else 1) - (-1 if torch.min(img1) < -0.5 else 0)
        mu1, mu2 = F.conv2d(img1, window, groups=3), F.conv2d(img2, window, groups=3)
        s11 = F.conv2d(img1 * img1, window, groups=3) - mu1.pow(2)
        s22 = F.conv2d(img2 * img2, window, groups=3) - mu2.pow(2)
        s12 = F.conv2d(img1 * img2, window, groups=3) - mu1 * mu2
        c2 = (0.03 * L) ** 2
        errs.append(1.0 - torch.mean((2.0 * s12 + c2) / (s11 + s22 + c2)))
    return torch.stack(errs).mean()


def original_heatmaps(landmarks_crop: np.ndarray, input_size: int, sigma: float = 7.0, size: int = 128) -> np.ndarray:
    """create_landmark_heatmaps(landmarks * size / input_size, sigma, all landmarks, size): a template of
    int(5 sigma) pixels (np.mgrid[-w//2:w//2]), a Gaussian divided by its maximum; each landmark capped at
    size - 1, its window's corner at int(p - w / 2), merged with np.maximum."""
    lms = landmarks_crop * (size / input_size)
    w = int(sigma * 5)
    X, Y = np.mgrid[-w // 2:w // 2, -w // 2:w // 2]
    z = np.sqrt(X ** 2 + Y ** 2)
    template = np.exp(-np.power(z - 0, 2.) / (2 * np.power(sigma, 2.)))
    template = template / template.max()
    hms = np.zeros((len(lms), size, size))
    for i in range(len(lms)):
        px, py = min(lms[i, 0], size - 1), min(lms[i, 1], size - 1)
        left, top = int(px - w / 2), int(py - w / 2)
        right, bottom = left + w, top + w
        wnd = template[max(0, -top):min(w, w - (bottom - size)), max(0, -left):min(w, w - (right - size))]
        region = hms[i, max(0, top):min(size, bottom), max(0, left):min(size, right)]
        if region.shape == wnd.shape and region.size:
            hms[i, max(0, top):min(size, bottom), max(0, left):min(size, right)] = np.maximum(region, wnd)
    return hms.astype(np.float32)


def original_batch_sizes(faces: int, batch_size: int) -> list[int]:
    """The landmark trainer's DataLoader(batch_size, shuffle=True, drop_last=True): full batches only."""
    return [batch_size] * (faces // batch_size)


EPS = 1e-8  # aae_training.eps


class OriginalStage1:
    """AAEUnsupervisedTraining._run_batch with --with-zgan 1 (default) on our network: the D_z update every
    4th and the encoder's latent loss every 2nd iteration *of the epoch* (iter_in_epoch, reset by _run_epoch),
    the reconstruction L1, optionally the structural loss (0.5 / 0.5 with w_ssim 60) and the image GAN (D every
    2nd iteration, the generator term every one), one backward, then the Q and P steps."""

    def __init__(self, net, *, lr: float = 2e-5, with_gan: bool = True, with_ssim: bool = True):
        betas = (0.0, 0.999)
        self.net, self.with_gan, self.with_ssim = net, with_gan, with_ssim
        self.optimizer_E = torch.optim.Adam(net.Q.parameters(), lr=lr, betas=betas)
        self.optimizer_G = torch.optim.Adam(net.P.parameters(), lr=lr, betas=betas)
        self.optimizer_D_z = torch.optim.Adam(net.D_z.parameters(), lr=lr, betas=betas)
        self.optimizer_D = torch.optim.Adam(net.D.parameters(), lr=lr * 0.5, betas=betas)
        self.iter_in_epoch = 0

    def start_epoch(self) -> None:  # _run_epoch
        self.iter_in_epoch = 0

    def run_batch(self, x: torch.Tensor) -> dict:
        net, stats = self.net, {}
        net.train()
        net.zero_grad()
        z = net.Q(x)
        if self.iter_in_epoch % 4 == 0:  # update_encoding: the latent discriminator
            d_real, d_fake = net.D_z(torch.randn_like(z)), net.D_z(z.detach())
            loss_d_z = -torch.mean(torch.log(d_real + EPS) + torch.log(1 - d_fake + EPS))
            loss_d_z.backward()
            self.optimizer_D_z.step()
            stats["d_z"] = loss_d_z.item()
        if self.iter_in_epoch % 2 == 0:  # the encoder's latent loss, back-propagated at once
            loss_e = -torch.mean(torch.log(net.D_z(z) + EPS))
            loss_e.backward(retain_graph=True)
            stats["enc_adv"] = loss_e.item()
        recon = net.P(z)
        loss_recon = (torch.abs(x - recon) * 255).reshape(len(x), -1).mean(dim=1).mean()
        loss = loss_recon * 1.0
        stats["recon_l1"] = loss_recon.item()
        if self.with_ssim:
            loss_ssim = original_loss_struct(x, recon)
            stats["cs"] = loss_ssim.item()
            loss = 0.5 * loss + 0.5 * (loss_ssim * 60.0)
        if self.with_gan:  # update_gan, update_D_freq 2, update_E_freq 1
            if self.iter_in_epoch % 2 == 0:
                net.D.zero_grad()
                err_real, err_fake = net.D(x), net.D(recon.detach())
                loss_d = -torch.mean(torch.log(err_real + EPS) + torch.log(1.0 - err_fake + EPS))
                loss_d.backward()
                self.optimizer_D.step()
                stats["d_img"] = loss_d.item()
            net.D.zero_grad()
            for p in net.D.parameters():
                p.requires_grad_(False)
            loss_g = -torch.mean(torch.log(net.D(recon) + EPS))
            for p in net.D.parameters():
                p.requires_grad_(True)
            loss = loss + loss_g
            stats["gen_adv"] = loss_g.item()
        loss.backward()
        self.optimizer_E.step()
        self.optimizer_G.step()
        self.iter_in_epoch += 1
        return stats


class OriginalStage2:
    """AAELandmarkTraining._run_batch on our network: the whole autoencoder in eval mode, Q and P forward (with
    gradients only for --train-encoder), the heatmap head in train mode on P's first stage, 300 * MSE against
    the target heatmaps, the head's Adam (lr 1e-3, betas 0.9/0.999) and, with --train-encoder, Q's own (2e-5)."""

    def __init__(self, net, *, train_encoder: bool = False, lr_heatmaps: float = 1e-3):
        self.net, self.train_encoder = net, train_encoder
        self.optimizer_lm_head = torch.optim.Adam(net.LMH.parameters(), lr=lr_heatmaps, betas=(0.9, 0.999))
        self.optimizer_E = torch.optim.Adam(net.Q.parameters(), lr=0.00002, betas=(0.9, 0.999))

    def run_batch(self, x: torch.Tensor, target_heatmaps: torch.Tensor) -> dict:
        import torch.nn.functional as F

        net = self.net
        net.zero_grad()
        net.eval()
        with torch.set_grad_enabled(self.train_encoder):
            z = net.Q(x)
            first_stage = net.P.stage1(z)  # P's cached x1 (its BatchNorms use running statistics in eval)
        net.LMH.train(True)
        heatmaps = net.LMH(first_stage, net.P)
        loss = F.mse_loss(target_heatmaps, heatmaps) * 100 * 3
        loss.backward()
        self.optimizer_lm_head.step()
        if self.train_encoder:
            self.optimizer_E.step()
        return {"heatmap_mse_x300": loss.item()}
