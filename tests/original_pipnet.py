"""PIPNet's test pipeline written out step by step from its source (jhb86253817/PIPNet at b9eab588), for tests
to compare fabrec-bench's `pipnet` model with. Test code only: not imported by fabrec-bench.

- lib/preprocess.py: process_wflw, process_300w, process_cofw, process_aflw (and lib/preprocess_gssl.py:
  process_cofw_68_test) cut each face and write its crop file and its labels; gen_meanface averages train.txt.
- lib/networks.py: Pip_resnet18/50/101 (one class here: they differ only in the channels of layer4).
- lib/functions.py: get_meanface, forward_pip; lib/test.py: the per-image loop and the neighbour merge.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as models
import torchvision.transforms as transforms
from PIL import Image

# -- lib/preprocess.py ------------------------------------------------------------------------------------


def process_wflw(image, lms, bbox, target_size):
    """process_wflw with the image already read; returns (crop, labels, (xmin, ymin, width, height))."""
    image_height, image_width, _ = image.shape
    lms_x = lms[0::2]
    lms_y = lms[1::2]
    lms_x = [x if x >= 0 else 0 for x in lms_x]
    lms_x = [x if x <= image_width else image_width for x in lms_x]
    lms_y = [y if y >= 0 else 0 for y in lms_y]
    lms_y = [y if y <= image_height else image_height for y in lms_y]
    lms = [[x, y] for x, y in zip(lms_x, lms_y, strict=True)]
    lms = [x for z in lms for x in z]
    bbox_xmin, bbox_ymin, bbox_xmax, bbox_ymax = bbox
    width = bbox_xmax - bbox_xmin
    height = bbox_ymax - bbox_ymin
    scale = 1.2
    bbox_xmin -= width * (scale - 1) / 2
    bbox_ymin -= height * (scale - 1) / 2
    bbox_xmax += width * (scale - 1) / 2
    bbox_ymax += height * (scale - 1) / 2
    bbox_xmin = max(bbox_xmin, 0)
    bbox_ymin = max(bbox_ymin, 0)
    bbox_xmax = min(bbox_xmax, image_width - 1)
    bbox_ymax = min(bbox_ymax, image_height - 1)
    width = bbox_xmax - bbox_xmin
    height = bbox_ymax - bbox_ymin
    image_crop = image[int(bbox_ymin):int(bbox_ymax), int(bbox_xmin):int(bbox_xmax), :]
    image_crop = cv2.resize(image_crop, (target_size, target_size))
    n = len(lms) // 2
    tmp1 = np.array([bbox_xmin, bbox_ymin] * n)
    tmp2 = np.array([width, height] * n)
    lms = (np.array(lms) - tmp1) / tmp2
    lms = lms.tolist()
    return image_crop, list(zip(lms[0::2], lms[1::2], strict=True)), (bbox_xmin, bbox_ymin, width, height)


def process_300w(image, pts, target_size):
    """process_300w with the image read and the .pts values given (as written, 1-based)."""
    anno = [[int(float(x)), int(float(y))] for x, y in pts]
    image_height, image_width, _ = image.shape
    anno_x = [x[0] for x in anno]
    anno_y = [x[1] for x in anno]
    bbox_xmin = min(anno_x)
    bbox_ymin = min(anno_y)
    bbox_xmax = max(anno_x)
    bbox_ymax = max(anno_y)
    bbox_width = bbox_xmax - bbox_xmin
    bbox_height = bbox_ymax - bbox_ymin
    scale = 1.1
    bbox_xmin -= int((scale - 1) / 2 * bbox_width)
    bbox_ymin -= int((scale - 1) / 2 * bbox_height)
    bbox_width *= scale
    bbox_height *= scale
    bbox_width = int(bbox_width)
    bbox_height = int(bbox_height)
    bbox_xmin = max(bbox_xmin, 0)
    bbox_ymin = max(bbox_ymin, 0)
    bbox_width = min(bbox_width, image_width - bbox_xmin - 1)
    bbox_height = min(bbox_height, image_height - bbox_ymin - 1)
    anno = [[(x - bbox_xmin) / bbox_width, (y - bbox_ymin) / bbox_height] for x, y in anno]
    bbox_xmax = bbox_xmin + bbox_width
    bbox_ymax = bbox_ymin + bbox_height
    image_crop = image[bbox_ymin:bbox_ymax, bbox_xmin:bbox_xmax, :]
    image_crop = cv2.resize(image_crop, (target_size, target_size))
    return image_crop, anno, (bbox_xmin, bbox_ymin, bbox_width, bbox_height)


def process_cofw(image, bbox, anno, target_size, scale=1.0):
    """process_cofw (scale 1; anno = 29 x then 29 y) and process_cofw_68_test (scale 1.3)."""
    image_height, image_width, _ = image.shape
    anno_x, anno_y = np.asarray(anno[:, 0]), np.asarray(anno[:, 1])
    xmin, ymin, width, height = bbox
    xmax = xmin + width - 1
    ymax = ymin + height - 1
    if scale != 1.0:
        xmin -= width * (scale - 1) / 2
        ymin -= height * (scale - 1) / 2
        xmax += width * (scale - 1) / 2
        ymax += height * (scale - 1) / 2
    xmin = max(xmin, 0)
    ymin = max(ymin, 0)
    xmax = min(xmax, image_width - 1)
    ymax = min(ymax, image_height - 1)
    anno_x = (anno_x - xmin) / (xmax - xmin)
    anno_y = (anno_y - ymin) / (ymax - ymin)
    anno = np.concatenate([anno_x.reshape(-1, 1), anno_y.reshape(-1, 1)], axis=1)
    anno = [list(x) for x in list(anno)]
    image_crop = image[int(ymin):int(ymax), int(xmin):int(xmax), :]
    image_crop = cv2.resize(image_crop, (target_size, target_size))
    return image_crop, anno, (xmin, ymin, xmax - xmin, ymax - ymin)


def process_aflw(image, bbox, anno, target_size):
    """process_aflw with the image read; bbox = (x1, x2, y1, y2) as AFLWinfo_release.mat's."""
    image_height, image_width, _ = image.shape
    anno_x = [x if x >= 0 else 0 for x in anno[:, 0]]
    anno_x = [x if x <= image_width else image_width for x in anno_x]
    anno_y = [y if y >= 0 else 0 for y in anno[:, 1]]
    anno_y = [y if y <= image_height else image_height for y in anno_y]
    xmin, xmax, ymin, ymax = bbox
    xmin = max(xmin, 0)
    ymin = max(ymin, 0)
    xmax = min(xmax, image_width - 1)
    ymax = min(ymax, image_height - 1)
    image_crop = image[int(ymin):int(ymax), int(xmin):int(xmax), :]
    image_crop = cv2.resize(image_crop, (target_size, target_size))
    anno_x = (np.array(anno_x) - xmin) / (xmax - xmin)
    anno_y = (np.array(anno_y) - ymin) / (ymax - ymin)
    anno = np.concatenate([anno_x.reshape(-1, 1), anno_y.reshape(-1, 1)], axis=1).flatten()
    return image_crop, list(zip(anno[0::2], anno[1::2], strict=True)), (xmin, ymin, xmax - xmin, ymax - ymin)


def write_label_file(path, entries) -> None:
    """train.txt / test.txt: the crop's name, then x y per landmark (str of each float)."""
    with open(path, "w") as f:
        for image_crop_name, anno in entries:
            f.write(image_crop_name + " ")
            for x, y in anno:
                f.write(str(x) + " " + str(y) + " ")
            f.write("\n")


def gen_meanface(train_txt, meanface_txt) -> None:
    with open(train_txt) as f:
        annos = f.readlines()
    annos = [x.strip().split()[1:] for x in annos]
    annos = [[float(x) for x in anno] for anno in annos]
    annos = np.array(annos)
    meanface = np.mean(annos, axis=0)
    meanface = [str(x) for x in meanface.tolist()]
    with open(meanface_txt, "w") as f:
        f.write(" ".join(meanface))


# -- lib/networks.py --------------------------------------------------------------------------------------


class Pip_resnet(nn.Module):
    """Pip_resnet18 (channels 512) / Pip_resnet50 and Pip_resnet101 (2048) at net_stride 32, 64 or 128. (The
    original's Pip_resnet50/101 give their heads 2048 inputs even after layer5's 512, which cannot run; at
    stride 32, every released config, nothing differs.)"""

    def __init__(self, resnet, num_nb, num_lms=68, input_size=256, net_stride=32, channels=512):
        super().__init__()
        self.num_nb = num_nb
        self.num_lms = num_lms
        self.input_size = input_size
        self.net_stride = net_stride
        self.conv1 = resnet.conv1
        self.bn1 = resnet.bn1
        self.maxpool = resnet.maxpool
        self.sigmoid = nn.Sigmoid()
        self.layer1 = resnet.layer1
        self.layer2 = resnet.layer2
        self.layer3 = resnet.layer3
        self.layer4 = resnet.layer4
        if self.net_stride == 128:
            self.layer5 = nn.Conv2d(channels, 512, kernel_size=3, stride=2, padding=1)
            self.bn5 = nn.BatchNorm2d(512)
            self.layer6 = nn.Conv2d(512, 512, kernel_size=3, stride=2, padding=1)
            self.bn6 = nn.BatchNorm2d(512)
            channels = 512
        elif self.net_stride == 64:
            self.layer5 = nn.Conv2d(channels, 512, kernel_size=3, stride=2, padding=1)
            self.bn5 = nn.BatchNorm2d(512)
            channels = 512
        self.cls_layer = nn.Conv2d(channels, num_lms, kernel_size=1, stride=1, padding=0)
        self.x_layer = nn.Conv2d(channels, num_lms, kernel_size=1, stride=1, padding=0)
        self.y_layer = nn.Conv2d(channels, num_lms, kernel_size=1, stride=1, padding=0)
        self.nb_x_layer = nn.Conv2d(channels, num_nb * num_lms, kernel_size=1, stride=1, padding=0)
        self.nb_y_layer = nn.Conv2d(channels, num_nb * num_lms, kernel_size=1, stride=1, padding=0)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = F.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        if self.net_stride == 128:
            x = F.relu(self.bn5(self.layer5(x)))
            x = F.relu(self.bn6(self.layer6(x)))
        elif self.net_stride == 64:
            x = F.relu(self.bn5(self.layer5(x)))
        x1 = self.cls_layer(x)
        x2 = self.x_layer(x)
        x3 = self.y_layer(x)
        x4 = self.nb_x_layer(x)
        x5 = self.nb_y_layer(x)
        return x1, x2, x3, x4, x5


def build_net(backbone: str, num_lms: int, num_nb: int = 10, net_stride: int = 32) -> Pip_resnet:
    """lib/test.py's construction: models.resnetXX() wrapped by Pip_resnetXX."""
    resnet = getattr(models, backbone)(weights=None)
    return Pip_resnet(resnet, num_nb, num_lms=num_lms, input_size=256, net_stride=net_stride,
                      channels=512 if backbone == "resnet18" else 2048)


# -- lib/functions.py -------------------------------------------------------------------------------------


def get_meanface(meanface_file, num_nb):
    with open(meanface_file) as f:
        meanface = f.readlines()[0]
    meanface = meanface.strip().split()
    meanface = [float(x) for x in meanface]
    meanface = np.array(meanface).reshape(-1, 2)
    meanface_indices = []
    for i in range(meanface.shape[0]):
        pt = meanface[i, :]
        dists = np.sum(np.power(pt - meanface, 2), axis=1)
        indices = np.argsort(dists)
        meanface_indices.append(indices[1:1 + num_nb])
    meanface_indices_reversed = {}
    for i in range(meanface.shape[0]):
        meanface_indices_reversed[i] = [[], []]
    for i in range(meanface.shape[0]):
        for j in range(num_nb):
            meanface_indices_reversed[meanface_indices[i][j]][0].append(i)
            meanface_indices_reversed[meanface_indices[i][j]][1].append(j)
    max_len = 0
    for i in range(meanface.shape[0]):
        tmp_len = len(meanface_indices_reversed[i][0])
        if tmp_len > max_len:
            max_len = tmp_len
    for i in range(meanface.shape[0]):
        meanface_indices_reversed[i][0] += meanface_indices_reversed[i][0] * 10
        meanface_indices_reversed[i][1] += meanface_indices_reversed[i][1] * 10
        meanface_indices_reversed[i][0] = meanface_indices_reversed[i][0][:max_len]
        meanface_indices_reversed[i][1] = meanface_indices_reversed[i][1][:max_len]
    reverse_index1 = []
    reverse_index2 = []
    for i in range(meanface.shape[0]):
        reverse_index1 += meanface_indices_reversed[i][0]
        reverse_index2 += meanface_indices_reversed[i][1]
    return meanface_indices, reverse_index1, reverse_index2, max_len


def forward_pip(net, inputs, preprocess, input_size, net_stride, num_nb):
    net.eval()
    with torch.no_grad():
        outputs_cls, outputs_x, outputs_y, outputs_nb_x, outputs_nb_y = net(inputs)
        tmp_batch, tmp_channel, tmp_height, tmp_width = outputs_cls.size()
        assert tmp_batch == 1
        outputs_cls = outputs_cls.view(tmp_batch * tmp_channel, -1)
        max_ids = torch.argmax(outputs_cls, 1)
        max_cls = torch.max(outputs_cls, 1)[0]
        max_ids = max_ids.view(-1, 1)
        max_ids_nb = max_ids.repeat(1, num_nb).view(-1, 1)
        outputs_x = outputs_x.view(tmp_batch * tmp_channel, -1)
        outputs_x_select = torch.gather(outputs_x, 1, max_ids)
        outputs_x_select = outputs_x_select.squeeze(1)
        outputs_y = outputs_y.view(tmp_batch * tmp_channel, -1)
        outputs_y_select = torch.gather(outputs_y, 1, max_ids)
        outputs_y_select = outputs_y_select.squeeze(1)
        outputs_nb_x = outputs_nb_x.view(tmp_batch * num_nb * tmp_channel, -1)
        outputs_nb_x_select = torch.gather(outputs_nb_x, 1, max_ids_nb)
        outputs_nb_x_select = outputs_nb_x_select.squeeze(1).view(-1, num_nb)
        outputs_nb_y = outputs_nb_y.view(tmp_batch * num_nb * tmp_channel, -1)
        outputs_nb_y_select = torch.gather(outputs_nb_y, 1, max_ids_nb)
        outputs_nb_y_select = outputs_nb_y_select.squeeze(1).view(-1, num_nb)
        tmp_x = (max_ids % tmp_width).view(-1, 1).float() + outputs_x_select.view(-1, 1)
        tmp_y = (max_ids // tmp_width).view(-1, 1).float() + outputs_y_select.view(-1, 1)
        tmp_x /= 1.0 * input_size / net_stride
        tmp_y /= 1.0 * input_size / net_stride
        tmp_nb_x = (max_ids % tmp_width).view(-1, 1).float() + outputs_nb_x_select
        tmp_nb_y = (max_ids // tmp_width).view(-1, 1).float() + outputs_nb_y_select
        tmp_nb_x = tmp_nb_x.view(-1, num_nb)
        tmp_nb_y = tmp_nb_y.view(-1, num_nb)
        tmp_nb_x /= 1.0 * input_size / net_stride
        tmp_nb_y /= 1.0 * input_size / net_stride
    return tmp_x, tmp_y, tmp_nb_x, tmp_nb_y, outputs_cls, max_cls


def compute_nme(lms_pred, lms_gt, norm):
    lms_pred = lms_pred.reshape((-1, 2))
    lms_gt = lms_gt.reshape((-1, 2))
    return np.mean(np.linalg.norm(lms_pred - lms_gt, axis=1)) / norm


# -- lib/test.py ------------------------------------------------------------------------------------------


def run_test(net, labels, images_folder, meanface_file, num_lms, num_nb=10, input_size=256, net_stride=32):
    """lib/test.py's loop over test.txt entries (name, labels): the merged predictions (fractions of each
    crop) per face."""
    meanface_indices, reverse_index1, reverse_index2, max_len = get_meanface(meanface_file, num_nb)
    normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    preprocess = transforms.Compose([transforms.Resize((input_size, input_size)), transforms.ToTensor(), normalize])
    out = []
    for image_name, _ in labels:
        image = cv2.imread(os.path.join(images_folder, image_name))
        image = cv2.resize(image, (input_size, input_size))
        inputs = Image.fromarray(image[:, :, ::-1].astype("uint8"), "RGB")
        inputs = preprocess(inputs).unsqueeze(0)
        lms_pred_x, lms_pred_y, lms_pred_nb_x, lms_pred_nb_y, outputs_cls, max_cls = forward_pip(
            net, inputs, preprocess, input_size, net_stride, num_nb)
        tmp_nb_x = lms_pred_nb_x[reverse_index1, reverse_index2].view(num_lms, max_len)
        tmp_nb_y = lms_pred_nb_y[reverse_index1, reverse_index2].view(num_lms, max_len)
        tmp_x = torch.mean(torch.cat((lms_pred_x, tmp_nb_x), dim=1), dim=1).view(-1, 1)
        tmp_y = torch.mean(torch.cat((lms_pred_y, tmp_nb_y), dim=1), dim=1).view(-1, 1)
        lms_pred_merge = torch.cat((tmp_x, tmp_y), dim=1).flatten()
        out.append(lms_pred_merge.cpu().numpy())
    return out
