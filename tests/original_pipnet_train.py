"""PIPNet's training step written out from its source (jhb86253817/PIPNet at b9eab588), for tests to compare
fabrec-bench's PIPNet recipe with. Test code only: not imported by fabrec-bench.

- lib/data_utils.py: random_translate, random_occlusion, random_flip, random_rotate, random_blur (Python's
  `random` module, in this order per face), gen_target_pip, ImageFolder_pip.__getitem__ (then the transform:
  RandomGrayscale(0.2), ToTensor, ImageNet Normalize).
- lib/functions.py: compute_loss_pip, train_model's loss and step.
- lib/train.py: Adam (weight decay 5e-4 only without a pretrained backbone), MultiStepLR, the flip lists.
"""

from __future__ import annotations

import random
from math import floor

import numpy as np
import torch
import torchvision.transforms as transforms
from PIL import Image, ImageFilter

# -- lib/data_utils.py ------------------------------------------------------------------------------------


def random_translate(image, target):
    if random.random() > 0.5:
        image_height, image_width = image.size
        a = 1
        b = 0
        c = int((random.random() - 0.5) * 60)
        d = 0
        e = 1
        f = int((random.random() - 0.5) * 60)
        image = image.transform(image.size, Image.AFFINE, (a, b, c, d, e, f))
        target_translate = target.copy()
        target_translate = target_translate.reshape(-1, 2)
        target_translate[:, 0] -= 1. * c / image_width
        target_translate[:, 1] -= 1. * f / image_height
        target_translate = target_translate.flatten()
        target_translate[target_translate < 0] = 0
        target_translate[target_translate > 1] = 1
        return image, target_translate
    return image, target


def random_blur(image):
    if random.random() > 0.7:
        image = image.filter(ImageFilter.GaussianBlur(random.random() * 5))
    return image


def random_occlusion(image):
    if random.random() > 0.5:
        image_np = np.array(image).astype(np.uint8)
        image_np = image_np[:, :, ::-1]
        image_height, image_width, _ = image_np.shape
        occ_height = int(image_height * 0.4 * random.random())
        occ_width = int(image_width * 0.4 * random.random())
        occ_xmin = int((image_width - occ_width - 10) * random.random())
        occ_ymin = int((image_height - occ_height - 10) * random.random())
        image_np[occ_ymin:occ_ymin + occ_height, occ_xmin:occ_xmin + occ_width, 0] = int(random.random() * 255)
        image_np[occ_ymin:occ_ymin + occ_height, occ_xmin:occ_xmin + occ_width, 1] = int(random.random() * 255)
        image_np[occ_ymin:occ_ymin + occ_height, occ_xmin:occ_xmin + occ_width, 2] = int(random.random() * 255)
        return Image.fromarray(image_np[:, :, ::-1].astype('uint8'), 'RGB')
    return image


def random_flip(image, target, points_flip):
    if random.random() > 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
        target = np.array(target).reshape(-1, 2)
        target = target[points_flip, :]
        target[:, 0] = 1 - target[:, 0]
        target = target.flatten()
        return image, target
    return image, target


def random_rotate(image, target, angle_max):
    if random.random() > 0.5:
        center_x = 0.5
        center_y = 0.5
        landmark_num = int(len(target) / 2)
        target_center = np.array(target) - np.array([center_x, center_y] * landmark_num)
        target_center = target_center.reshape(landmark_num, 2)
        theta_max = np.radians(angle_max)
        theta = random.uniform(-theta_max, theta_max)
        angle = np.degrees(theta)
        image = image.rotate(angle)
        c, s = np.cos(theta), np.sin(theta)
        rot = np.array(((c, -s), (s, c)))
        target_center_rot = np.matmul(target_center, rot)
        target_rot = target_center_rot.reshape(landmark_num * 2) + np.array([center_x, center_y] * landmark_num)
        return image, target_rot
    return image, target


def gen_target_pip(target, meanface_indices, target_map, target_local_x, target_local_y, target_nb_x, target_nb_y):
    num_nb = len(meanface_indices[0])
    map_channel, map_height, map_width = target_map.shape
    target = target.reshape(-1, 2)
    assert map_channel == target.shape[0]
    for i in range(map_channel):
        mu_x = int(floor(target[i][0] * map_width))
        mu_y = int(floor(target[i][1] * map_height))
        mu_x = max(0, mu_x)
        mu_y = max(0, mu_y)
        mu_x = min(mu_x, map_width - 1)
        mu_y = min(mu_y, map_height - 1)
        target_map[i, mu_y, mu_x] = 1
        shift_x = target[i][0] * map_width - mu_x
        shift_y = target[i][1] * map_height - mu_y
        target_local_x[i, mu_y, mu_x] = shift_x
        target_local_y[i, mu_y, mu_x] = shift_y
        for j in range(num_nb):
            nb_x = target[meanface_indices[i][j]][0] * map_width - mu_x
            nb_y = target[meanface_indices[i][j]][1] * map_height - mu_y
            target_nb_x[num_nb * i + j, mu_y, mu_x] = nb_x
            target_nb_y[num_nb * i + j, mu_y, mu_x] = nb_y
    return target_map, target_local_x, target_local_y, target_nb_x, target_nb_y


TRANSFORM = transforms.Compose([transforms.RandomGrayscale(0.2), transforms.ToTensor(),
                                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])


def get_item(img, target, input_size, num_lms, net_stride, points_flip, meanface_indices):
    """ImageFolder_pip.__getitem__ on an opened RGB crop and its labels (fractions, flattened)."""
    num_nb = len(meanface_indices[0])
    img, target = random_translate(img, target)
    img = random_occlusion(img)
    img, target = random_flip(img, target, points_flip)
    img, target = random_rotate(img, target, 30)
    img = random_blur(img)
    side = int(input_size / net_stride)
    target_map = np.zeros((num_lms, side, side))
    target_local_x = np.zeros((num_lms, side, side))
    target_local_y = np.zeros((num_lms, side, side))
    target_nb_x = np.zeros((num_nb * num_lms, side, side))
    target_nb_y = np.zeros((num_nb * num_lms, side, side))
    maps = gen_target_pip(target, meanface_indices, target_map, target_local_x, target_local_y, target_nb_x,
                          target_nb_y)
    return (TRANSFORM(img), *(torch.from_numpy(m).float() for m in maps))


# -- lib/functions.py -------------------------------------------------------------------------------------


def compute_loss_pip(outputs_map, outputs_local_x, outputs_local_y, outputs_nb_x, outputs_nb_y, labels_map,
                     labels_local_x, labels_local_y, labels_nb_x, labels_nb_y, criterion_cls, criterion_reg, num_nb):
    tmp_batch, tmp_channel, tmp_height, tmp_width = outputs_map.size()
    labels_map = labels_map.view(tmp_batch * tmp_channel, -1)
    labels_max_ids = torch.argmax(labels_map, 1)
    labels_max_ids = labels_max_ids.view(-1, 1)
    labels_max_ids_nb = labels_max_ids.repeat(1, num_nb).view(-1, 1)
    outputs_local_x = outputs_local_x.view(tmp_batch * tmp_channel, -1)
    outputs_local_x_select = torch.gather(outputs_local_x, 1, labels_max_ids)
    outputs_local_y = outputs_local_y.view(tmp_batch * tmp_channel, -1)
    outputs_local_y_select = torch.gather(outputs_local_y, 1, labels_max_ids)
    outputs_nb_x = outputs_nb_x.view(tmp_batch * num_nb * tmp_channel, -1)
    outputs_nb_x_select = torch.gather(outputs_nb_x, 1, labels_max_ids_nb)
    outputs_nb_y = outputs_nb_y.view(tmp_batch * num_nb * tmp_channel, -1)
    outputs_nb_y_select = torch.gather(outputs_nb_y, 1, labels_max_ids_nb)
    labels_local_x = labels_local_x.view(tmp_batch * tmp_channel, -1)
    labels_local_x_select = torch.gather(labels_local_x, 1, labels_max_ids)
    labels_local_y = labels_local_y.view(tmp_batch * tmp_channel, -1)
    labels_local_y_select = torch.gather(labels_local_y, 1, labels_max_ids)
    labels_nb_x = labels_nb_x.view(tmp_batch * num_nb * tmp_channel, -1)
    labels_nb_x_select = torch.gather(labels_nb_x, 1, labels_max_ids_nb)
    labels_nb_y = labels_nb_y.view(tmp_batch * num_nb * tmp_channel, -1)
    labels_nb_y_select = torch.gather(labels_nb_y, 1, labels_max_ids_nb)
    labels_map = labels_map.view(tmp_batch, tmp_channel, tmp_height, tmp_width)
    loss_map = criterion_cls(outputs_map, labels_map)
    loss_x = criterion_reg(outputs_local_x_select, labels_local_x_select)
    loss_y = criterion_reg(outputs_local_y_select, labels_local_y_select)
    loss_nb_x = criterion_reg(outputs_nb_x_select, labels_nb_x_select)
    loss_nb_y = criterion_reg(outputs_nb_y_select, labels_nb_y_select)
    return loss_map, loss_x, loss_y, loss_nb_x, loss_nb_y


def train_step(net, batch, optimizer, num_nb, cls_loss_weight=10, reg_loss_weight=1):
    """One iteration of train_model: the weighted loss, zero_grad, backward, step; returns the loss."""
    inputs, labels_map, labels_x, labels_y, labels_nb_x, labels_nb_y = batch
    outputs_map, outputs_x, outputs_y, outputs_nb_x, outputs_nb_y = net(inputs)
    loss_map, loss_x, loss_y, loss_nb_x, loss_nb_y = compute_loss_pip(
        outputs_map, outputs_x, outputs_y, outputs_nb_x, outputs_nb_y, labels_map, labels_x, labels_y, labels_nb_x,
        labels_nb_y, torch.nn.MSELoss(), torch.nn.L1Loss(), num_nb)
    loss = cls_loss_weight * loss_map + reg_loss_weight * loss_x + reg_loss_weight * loss_y + \
        reg_loss_weight * loss_nb_x + reg_loss_weight * loss_nb_y
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# -- lib/train.py -----------------------------------------------------------------------------------------


def optimizer_and_scheduler(net, pretrained, init_lr=0.0001, decay_steps=(30, 50)):
    if pretrained:
        optimizer = torch.optim.Adam(net.parameters(), lr=init_lr)
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=init_lr, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(decay_steps), gamma=0.1)
    return optimizer, scheduler


WFLW_FLIP = [32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
             5, 4, 3, 2, 1, 0, 46, 45, 44, 43, 42, 50, 49, 48, 47, 37, 36, 35, 34, 33, 41, 40, 39, 38, 51, 52, 53, 54,
             59, 58, 57, 56, 55, 72, 71, 70, 69, 68, 75, 74, 73, 64, 63, 62, 61, 60, 67, 66, 65, 82, 81, 80, 79, 78,
             77, 76, 87, 86, 85, 84, 83, 92, 91, 90, 89, 88, 95, 94, 93, 97, 96]


# -- lib/networks.py: Pip_resnet18's initialisation at net_stride 32 ----------------------------------------


def pip_resnet18_initialised(num_lms, num_nb=10):
    """Pip_resnet18(models.resnet18(pretrained=False), ...) at net_stride 32: the backbone, the five heads made in
    order, then each head's weight drawn from N(0, 0.001) and its bias set to 0, in the same order."""
    from original_pipnet import build_net

    net = build_net("resnet18", num_lms, num_nb)
    for layer in (net.cls_layer, net.x_layer, net.y_layer, net.nb_x_layer, net.nb_y_layer):
        torch.nn.init.normal_(layer.weight, std=0.001)
        if layer.bias is not None:
            torch.nn.init.constant_(layer.bias, 0)
    return net


FLIP_LISTS = {  # lib/train.py: points_flip per dataset (300W, COFW and AFLW written 1-based, minus 1 there)
    98: WFLW_FLIP,
    68: (np.array([17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
                   28, 29, 30, 31, 36, 35, 34, 33, 32, 46, 45, 44, 43, 48, 47, 40, 39, 38, 37, 42, 41, 55, 54, 53, 52,
                   51, 50, 49, 60, 59, 58, 57, 56, 65, 64, 63, 62, 61, 68, 67, 66]) - 1).tolist(),
    29: (np.array([2, 1, 4, 3, 7, 8, 5, 6, 10, 9, 12, 11, 15, 16, 13, 14, 18, 17, 20, 19, 21, 22, 24, 23, 25, 26, 27,
                   28, 29]) - 1).tolist(),
    19: (np.array([6, 5, 4, 3, 2, 1, 12, 11, 10, 9, 8, 7, 15, 14, 13, 18, 17, 16, 19]) - 1).tolist(),
}
