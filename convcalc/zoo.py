"""Classic convolutional networks, and the seeds' tutorial networks, as ``convcalc.nn`` models.

Every builder returns a plain model to hand to :func:`convcalc.plan`; nothing is
downloaded and no weights exist. The reference numbers each builder reproduces
(exact parameter counts, multiply-accumulates, stage shapes) are written into and checked by
``tests/test_zoo.py``.

Naming. Layers carry torchvision's module paths wherever torchvision has the
network (``features.0``, ``avgpool``, ``classifier.1``, ``layer1.0.downsample.0``,
``features.3.conv.0.0``), with a ``flatten`` layer where torchvision flattens in
``forward``. Two places differ, because a convcalc model is a tree of containers
and torchvision's blocks compute part of their graph in ``forward``:

- A ResNet block ``layer<i>.<j>`` is ``Sequential(add=Add(main=..., <shortcut>=...),
  relu=ReLU())``. ``main`` holds torchvision's ``conv1, bn1, relu, conv2, bn2``
  (BasicBlock) or ``conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3``
  (Bottleneck: torchvision reuses one ``relu``, a tree needs one name each); the
  shortcut is ``downsample`` (``0``: 1x1 conv, ``1``: BN, as torchvision) or
  ``identity``. So torchvision's ``layer1.0.conv1`` is ``layer1.0.add.main.conv1``
  and ``layer2.0.downsample.0`` is ``layer2.0.add.downsample.0``;
  :func:`torchvision_name` maps one to the other.
- A MobileNetV2 block with a residual is ``Add(conv=..., identity=Identity())``,
  so its inner paths are torchvision's (``features.3.conv.1.0``); the Add row is
  ``features.3``.

Networks without a torchvision original use the names of their source: LeNet-5
the paper's ``c1, s2, c3, s4, c5, f6, output``; the seeds' networks their own
attribute names (``b1.0``, ``net.conv2d_00``, ``conv2d_6``); the U-Net the
nesting ``enc<k>`` (two valid 3x3 convs), ``cat<k>`` (``Concat(skip=Identity(),
up=Sequential(pool<k>, <level k+1>, upconv<k>), crop=True)``), ``dec<k>`` and
``head``.

>>> import convcalc
>>> from convcalc import zoo
>>> p = convcalc.plan(zoo.resnet50(), (1, 3, 224, 224))
>>> p.total_params, p.macs
(25557032, 4089184256)
>>> sorted(zoo.MODELS)[:4]
['alexnet', 'alexnet2012', 'lenet5', 'mnist_cnn']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from convcalc import keras, nn
from convcalc._errors import SpecError, checked_call

__all__ = [
    "INPUT_SHAPES",
    "MODELS",
    "alexnet",
    "alexnet2012",
    "get",
    "lenet5",
    "mnist_cnn",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "seed000_cnn",
    "seed002_keras",
    "torchvision_name",
    "unet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]


def _seq(**layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


def _indexed(layers: Sequence[nn.Module]) -> nn.Sequential:
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- #
# LeNet-5
# --------------------------------------------------------------------------- #


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5, the "modern" variant: full C3, tanh, parameter-free average pooling, linear output.

    The 1998 paper's network has 60,000 trainable parameters (sparse C3, trainable
    subsampling, fixed RBF output); this is the one tutorials mean: 61,706
    parameters, 416,520 MACs on a 1x32x32 image. C5 is a 5x5 convolution, as in
    the paper (on a 5x5 map it is the same as ``Flatten`` then ``Linear(400, 120)``).

    >>> import convcalc
    >>> p = convcalc.plan(lenet5(), (1, 1, 32, 32))
    >>> p.output_shape, p.total_params, p.macs
    ((1, 10), 61706, 416520)
    >>> convcalc.plan(lenet5(), (1, 1, 28, 28))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: c5 (Conv2d): the kernel spans 5 but the padded input is 4 + 0 = 4 on spatial axis 0; ...
    """
    return _seq(
        c1=nn.Conv2d(1, 6, 5),
        tanh1=nn.Tanh(),
        s2=nn.AvgPool2d(2),
        c3=nn.Conv2d(6, 16, 5),
        tanh2=nn.Tanh(),
        s4=nn.AvgPool2d(2),
        c5=nn.Conv2d(16, 120, 5),
        tanh3=nn.Tanh(),
        flatten=nn.Flatten(),
        f6=nn.Linear(120, 84),
        tanh4=nn.Tanh(),
        output=nn.Linear(84, num_classes),
    )


# --------------------------------------------------------------------------- #
# AlexNet
# --------------------------------------------------------------------------- #


def _alexnet_classifier(in_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    return _indexed(
        [
            nn.Dropout(p=dropout),
            nn.Linear(in_features, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        ]
    )


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """torchvision's ``alexnet`` (the single-tower "one weird trick" variant, 64/192/384/256/256 filters).

    61,100,840 parameters and 714,188,480 MACs at 224x224. The adaptive pool
    makes any input of at least 63x63 end in 256x6x6.

    >>> import convcalc
    >>> p = convcalc.plan(alexnet(), (1, 3, 224, 224))
    >>> p.output_shape, p.total_params, p.macs
    ((1, 1000), 61100840, 714188480)
    >>> H = convcalc.symbols("H")
    >>> convcalc.plan(alexnet(), (1, 3, H, H)).valid_sizes().smallest
    63
    """
    features = _indexed(
        [
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        ]
    )
    return _seq(
        features=features,
        avgpool=nn.AdaptiveAvgPool2d((6, 6)),
        flatten=nn.Flatten(),
        classifier=_alexnet_classifier(256 * 6 * 6, num_classes, dropout),
    )


def alexnet2012(num_classes: int = 1000) -> nn.Sequential:
    """The original AlexNet (Krizhevsky, Sutskever, Hinton 2012): two GPUs, so conv2, conv4, conv5 use ``groups=2``.

    60,965,224 parameters and 724,406,816 MACs at 227x227. The local response
    normalisation after conv1 and conv2 is left out: it has no parameters and does
    not change shapes, so no count here depends on it (and ``convcalc.nn`` has no
    ``LocalResponseNorm``). There is no adaptive pool, so only inputs that end in
    6x6 fit the classifier: 227 does; the paper's stated 224 does not (5x5), and
    the planner says so at ``classifier.1``.

    >>> import convcalc
    >>> p = convcalc.plan(alexnet2012(), (1, 3, 227, 227))
    >>> p.total_params, p.macs
    (60965224, 724406816)
    >>> convcalc.plan(alexnet2012(), (1, 3, 224, 224))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: classifier.1 (Linear): Linear(in_features=9216) receives 6400 features ...: use in_features=6400...
    """
    features = _indexed(
        [
            nn.Conv2d(3, 96, kernel_size=11, stride=4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        ]
    )
    return _seq(
        features=features,
        flatten=nn.Flatten(),
        classifier=_alexnet_classifier(256 * 6 * 6, num_classes, 0.5),
    )


# --------------------------------------------------------------------------- #
# VGG
# --------------------------------------------------------------------------- #

_VGG_CFGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _vgg(cfg: str, batch_norm: bool, num_classes: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for v in _VGG_CFGS[cfg]:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        assert isinstance(v, int)
        layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        channels = v
    classifier = _indexed(
        [
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        ]
    )
    return _seq(
        features=_indexed(layers),
        avgpool=nn.AdaptiveAvgPool2d((7, 7)),
        flatten=nn.Flatten(),
        classifier=classifier,
    )


def vgg11(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-11 (configuration A), torchvision's layout: 132,863,336 parameters, 7.609 GMACs at 224.

    >>> import convcalc
    >>> convcalc.plan(vgg11(), (1, 3, 224, 224)).total_params
    132863336
    """
    return _vgg("A", False, num_classes, dropout)


def vgg11_bn(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-11 with BatchNorm after every conv: 132,868,840 parameters.

    >>> import convcalc
    >>> convcalc.plan(vgg11_bn(), (1, 3, 224, 224)).total_params
    132868840
    """
    return _vgg("A", True, num_classes, dropout)


def vgg13(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-13 (configuration B): 133,047,848 parameters, 11.308 GMACs at 224.

    >>> import convcalc
    >>> convcalc.plan(vgg13(), (1, 3, 224, 224)).total_params
    133047848
    """
    return _vgg("B", False, num_classes, dropout)


def vgg13_bn(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-13 with BatchNorm: 133,053,736 parameters.

    >>> import convcalc
    >>> convcalc.plan(vgg13_bn(), (1, 3, 224, 224)).total_params
    133053736
    """
    return _vgg("B", True, num_classes, dropout)


def vgg16(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-16 (configuration D): 138,357,544 parameters, 15,470,264,320 MACs at 224.

    ``features`` is ``conv1_1 = features.0`` ... ``pool5 = features.30``.

    >>> import convcalc
    >>> p = convcalc.plan(vgg16(), (1, 3, 224, 224))
    >>> p.total_params, p.macs
    (138357544, 15470264320)
    >>> p.row("features.30").output_shape, p.row("features.30").receptive_field[0]
    ((1, 512, 7, 7), ReceptiveField(size=212, jump=32, start=-90))
    """
    return _vgg("D", False, num_classes, dropout)


def vgg16_bn(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-16 with BatchNorm: 138,365,992 parameters.

    >>> import convcalc
    >>> convcalc.plan(vgg16_bn(), (1, 3, 224, 224)).total_params
    138365992
    """
    return _vgg("D", True, num_classes, dropout)


def vgg19(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-19 (configuration E): 143,667,240 parameters, 19.632 GMACs at 224.

    >>> import convcalc
    >>> convcalc.plan(vgg19(), (1, 3, 224, 224)).total_params
    143667240
    """
    return _vgg("E", False, num_classes, dropout)


def vgg19_bn(num_classes: int = 1000, dropout: float = 0.5) -> nn.Sequential:
    """VGG-19 with BatchNorm: 143,678,248 parameters.

    >>> import convcalc
    >>> convcalc.plan(vgg19_bn(), (1, 3, 224, 224)).total_params
    143678248
    """
    return _vgg("E", True, num_classes, dropout)


# --------------------------------------------------------------------------- #
# ResNet (torchvision, v1.5: the stride of a Bottleneck is on its 3x3)
# --------------------------------------------------------------------------- #


def _shortcut(inplanes: int, planes: int, stride: int) -> tuple[str, nn.Module]:
    if stride != 1 or inplanes != planes:
        return "downsample", _indexed(
            [
                nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            ]
        )
    return "identity", nn.Identity()


def _residual(main: nn.Sequential, shortcut: tuple[str, nn.Module]) -> nn.Sequential:
    branches: OrderedDict[str, nn.Module] = OrderedDict(main=main)
    branches[shortcut[0]] = shortcut[1]
    return _seq(add=nn.Add(branches), relu=nn.ReLU(inplace=True))


def _basic_block(inplanes: int, planes: int, stride: int) -> nn.Sequential:
    main = _seq(
        conv1=nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False),
        bn1=nn.BatchNorm2d(planes),
        relu=nn.ReLU(inplace=True),
        conv2=nn.Conv2d(planes, planes, 3, padding=1, bias=False),
        bn2=nn.BatchNorm2d(planes),
    )
    return _residual(main, _shortcut(inplanes, planes, stride))


def _bottleneck(inplanes: int, planes: int, stride: int) -> nn.Sequential:
    width = planes
    out = planes * 4
    main = _seq(
        conv1=nn.Conv2d(inplanes, width, 1, bias=False),
        bn1=nn.BatchNorm2d(width),
        relu1=nn.ReLU(inplace=True),
        conv2=nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
        bn2=nn.BatchNorm2d(width),
        relu2=nn.ReLU(inplace=True),
        conv3=nn.Conv2d(width, out, 1, bias=False),
        bn3=nn.BatchNorm2d(out),
    )
    return _residual(main, _shortcut(inplanes, out, stride))


def _resnet(bottleneck: bool, depths: tuple[int, int, int, int], num_classes: int) -> nn.Sequential:
    expansion = 4 if bottleneck else 1
    block = _bottleneck if bottleneck else _basic_block
    stages: dict[str, nn.Module] = {}
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), depths, strict=True)):
        stride = 1 if i == 0 else 2
        layers = []
        for j in range(blocks):
            layers.append(block(inplanes, planes, stride if j == 0 else 1))
            inplanes = planes * expansion
        stages[f"layer{i + 1}"] = _indexed(layers)
    return _seq(
        conv1=nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
        bn1=nn.BatchNorm2d(64),
        relu=nn.ReLU(inplace=True),
        maxpool=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        **stages,
        avgpool=nn.AdaptiveAvgPool2d((1, 1)),
        flatten=nn.Flatten(),
        fc=nn.Linear(512 * expansion, num_classes),
    )


def resnet18(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-18 (BasicBlock [2, 2, 2, 2]): 11,689,512 parameters, 1.814 GMACs at 224.

    >>> import convcalc
    >>> p = convcalc.plan(resnet18(), (1, 3, 224, 224))
    >>> p.total_params, round(p.macs / 1e9, 3)
    (11689512, 1.814)
    """
    return _resnet(False, (2, 2, 2, 2), num_classes)


def resnet34(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-34 (BasicBlock [3, 4, 6, 3]): 21,797,672 parameters, 3.664 GMACs at 224.

    >>> import convcalc
    >>> p = convcalc.plan(resnet34(), (1, 3, 224, 224))
    >>> p.total_params, round(p.macs / 1e9, 3)
    (21797672, 3.664)
    """
    return _resnet(False, (3, 4, 6, 3), num_classes)


def resnet50(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-50 v1.5 (Bottleneck [3, 4, 6, 3], stride on the 3x3): 25,557,032 parameters, 4,089,184,256 MACs.

    >>> import convcalc
    >>> p = convcalc.plan(resnet50(), (1, 3, 224, 224))
    >>> p.row("layer4.2.relu").output_shape
    (1, 2048, 7, 7)
    >>> p.row("layer2.0.add.downsample.0").trainable
    131072
    """
    return _resnet(True, (3, 4, 6, 3), num_classes)


def resnet101(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-101 v1.5 (Bottleneck [3, 4, 23, 3]): 44,549,160 parameters, 7,801,405,440 MACs at 224.

    >>> import convcalc
    >>> convcalc.plan(resnet101(), (1, 3, 224, 224)).total_params
    44549160
    """
    return _resnet(True, (3, 4, 23, 3), num_classes)


def resnet152(num_classes: int = 1000) -> nn.Sequential:
    """ResNet-152 v1.5 (Bottleneck [3, 8, 36, 3]): 60,192,808 parameters, 11,513,626,624 MACs at 224.

    >>> import convcalc
    >>> convcalc.plan(resnet152(), (1, 3, 224, 224)).total_params
    60192808
    """
    return _resnet(True, (3, 8, 36, 3), num_classes)


def torchvision_name(path: str) -> str:
    """torchvision's module name for a layer path of a zoo ResNet (other zoo paths are returned unchanged).

    >>> torchvision_name("layer1.0.add.main.conv1")
    'layer1.0.conv1'
    >>> torchvision_name("layer2.0.add.downsample.0")
    'layer2.0.downsample.0'
    >>> torchvision_name("features.3.conv.1.0")
    'features.3.conv.1.0'
    """
    parts = path.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        if parts[i] == "add" and out:
            if i + 1 < len(parts) and parts[i + 1] == "main":
                i += 2
                continue
            i += 1
            continue
        out.append(parts[i])
        i += 1
    return ".".join(out)


# --------------------------------------------------------------------------- #
# MobileNetV2
# --------------------------------------------------------------------------- #


def _conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return _indexed(
        [
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        ]
    )


def _inverted_residual(inp: int, oup: int, stride: int, expand_ratio: int) -> nn.Module:
    hidden = round(inp * expand_ratio)
    layers: list[nn.Module] = []
    if expand_ratio != 1:
        layers.append(_conv_bn_relu6(inp, hidden, 1))
    layers += [
        _conv_bn_relu6(hidden, hidden, 3, stride=stride, groups=hidden),
        nn.Conv2d(hidden, oup, 1, bias=False),
        nn.BatchNorm2d(oup),
    ]
    conv = _indexed(layers)
    if stride == 1 and inp == oup:
        return nn.Add(OrderedDict(conv=conv, identity=nn.Identity()))
    return _seq(conv=conv)


def mobilenet_v2(num_classes: int = 1000, dropout: float = 0.2) -> nn.Sequential:
    """torchvision's MobileNetV2 (width 1.0): 3,504,872 parameters, 300,774,272 MACs at 224.

    ``features.0`` is the stem, ``features.1`` to ``features.17`` the inverted
    residual blocks, ``features.18`` the 1x1 conv to 1280 channels.

    >>> import convcalc
    >>> p = convcalc.plan(mobilenet_v2(), (1, 3, 224, 224))
    >>> p.total_params, p.macs
    (3504872, 300774272)
    >>> p.row("features.17.conv.3").output_shape
    (1, 320, 7, 7)
    """
    settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]
    features: list[nn.Module] = [_conv_bn_relu6(3, 32, 3, stride=2)]
    cin = 32
    for t, c, n, s in settings:
        for i in range(n):
            features.append(_inverted_residual(cin, c, s if i == 0 else 1, t))
            cin = c
    features.append(_conv_bn_relu6(cin, 1280, 1))
    return _seq(
        features=_indexed(features),
        avgpool=nn.AdaptiveAvgPool2d((1, 1)),
        flatten=nn.Flatten(),
        classifier=_indexed([nn.Dropout(p=dropout), nn.Linear(1280, num_classes)]),
    )


# --------------------------------------------------------------------------- #
# U-Net (Ronneberger, Fischer, Brox 2015)
# --------------------------------------------------------------------------- #


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return _seq(
        conv1=nn.Conv2d(cin, cout, 3),
        relu1=nn.ReLU(inplace=True),
        conv2=nn.Conv2d(cout, cout, 3),
        relu2=nn.ReLU(inplace=True),
    )


def _unet_level(k: int, cin: int, c: int, depth: int) -> OrderedDict[str, nn.Module]:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers[f"enc{k}"] = _double_conv(cin, c)
    if k == depth:
        return layers
    up: OrderedDict[str, nn.Module] = OrderedDict()
    up[f"pool{k}"] = nn.MaxPool2d(2)
    up.update(_unet_level(k + 1, c, 2 * c, depth))
    up[f"upconv{k}"] = nn.ConvTranspose2d(2 * c, c, kernel_size=2, stride=2)
    layers[f"cat{k}"] = nn.Concat(OrderedDict(skip=nn.Identity(), up=nn.Sequential(up)), crop=True)
    layers[f"dec{k}"] = _double_conv(2 * c, c)
    return layers


def unet(in_channels: int = 1, num_classes: int = 2) -> nn.Sequential:
    """The 2015 U-Net: valid 3x3 convs, 2x2 max-pools, 2x2 up-convs, centre-cropped skip connections.

    23 convolutional layers (transposed included), biases, no BatchNorm:
    31,030,658 parameters and 150,428,424,448 MACs for 1x572x572 -> 2x388x388.
    Level ``k`` (1 to 5) has ``64 * 2**(k-1)`` channels; see the module docstring
    for the layer names. The valid tile sizes are ``H >= 188`` with ``H ≡ 12 (mod 16)``.

    >>> import convcalc
    >>> p = convcalc.plan(unet(), (1, 1, 572, 572))
    >>> p.output_shape, p.total_params
    ((1, 2, 388, 388), 31030658)
    >>> H = convcalc.symbols("H")
    >>> sym = convcalc.plan(unet(), (1, 1, H, H), strict=True)
    >>> print(sym.valid_sizes()), sym.inputs_for(388)
    H >= 188 and H ≡ 12 (mod 16)
    (None, [572])
    """
    body = _unet_level(1, in_channels, 64, 5)
    body["head"] = nn.Conv2d(64, num_classes, kernel_size=1)
    return nn.Sequential(body)


# --------------------------------------------------------------------------- #
# The seeds' networks
# --------------------------------------------------------------------------- #


def mnist_cnn(dropout_rate: float = 0.5) -> nn.Sequential:
    """Seed 001's ``MnistCNNModel``: three conv blocks (``b1``, ``b2``, ``b3``) and a ``classifier``.

    Conv (3x3, ``padding="same"``) -> BatchNorm -> ReLU -> Dropout -> MaxPool(2)
    three times (the last pool has ``padding=1``: 7x7 -> 4x4), then
    ``Linear(128*4*4, 256)`` and ``Linear(256, 10)``; for 1x28x28 MNIST digits.

    >>> import convcalc
    >>> p = convcalc.plan(mnist_cnn(), (1, 1, 28, 28))
    >>> p.row("b3.4").output_shape, p.total_params
    ((1, 128, 4, 4), 620234)
    """

    def block(cin: int, cout: int, pool_padding: int) -> nn.Sequential:
        return _indexed(
            [
                nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding="same"),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.Dropout(p=dropout_rate),
                nn.MaxPool2d(kernel_size=2, stride=2, padding=pool_padding),
            ]
        )

    return _seq(
        b1=block(1, 32, 0),
        b2=block(32, 64, 0),
        b3=block(64, 128, 1),
        classifier=_indexed(
            [
                nn.Flatten(),
                nn.Linear(in_features=128 * 4 * 4, out_features=256),
                nn.ReLU(),
                nn.Dropout(p=dropout_rate),
                nn.Linear(256, 10),
            ]
        ),
    )


def seed000_cnn(
    xdim: Sequence[int] = (1, 28, 28),
    ksize: int = 3,
    cdims: Sequence[int] = (32, 64),
    hdims: Sequence[int] = (1024, 128),
    ydim: int = 10,
    use_batchnorm: bool = False,
) -> nn.Sequential:
    """Seed 000's ``ConvolutionalNeuralNetworkClass``, its bug kept.

    Each ``cdim`` adds ``Conv2d(k, padding=k//2)``, an optional BatchNorm, ReLU,
    ``MaxPool2d(2, 2)`` and ``Dropout2d(0.5)``; then ``Flatten`` and the Linears.
    Layers are named as the seed names them, ``net.<type>_<index>``
    (``net.conv2d_00``, ``net.linear_10``).

    The seed's bug, reproduced on purpose: the first Linear's ``in_features`` is
    ``cdims[-1] * (H // 2**len(cdims)) * (W // 2**len(cdims))``. That assumes
    every conv keeps the size, which ``padding=k//2`` does only for odd ``k``
    (an even ``k`` adds one pixel), and that every pool halves exactly. When the
    assumption fails, :func:`convcalc.plan` raises a ``ShapeError`` naming the
    Linear and the ``in_features`` that fits. (At 28x28 with two conv stages an
    even ``k`` is hidden by luck: 28 -> 29 -> 14 -> 15 -> 7; a third stage or a
    30x30 input exposes it.)

    >>> import convcalc
    >>> convcalc.plan(seed000_cnn(), (1, 1, 28, 28)).total_params
    3363594
    >>> convcalc.plan(seed000_cnn(xdim=(1, 30, 30), ksize=4), (1, 1, 30, 30))
    Traceback (most recent call last):
    ...
    convcalc.ShapeError: net.linear_09 (Linear): Linear(in_features=3136) receives 4096 features ...: use in_features=4096...
    """
    layers: list[nn.Module] = []
    prev_cdim = xdim[0]
    for cdim in cdims:
        layers.append(nn.Conv2d(prev_cdim, cdim, kernel_size=ksize, stride=(1, 1), padding=ksize // 2))
        if use_batchnorm:
            layers.append(nn.BatchNorm2d(cdim))
        layers.append(nn.ReLU(True))
        layers.append(nn.MaxPool2d(kernel_size=(2, 2), stride=(2, 2)))
        layers.append(nn.Dropout2d(p=0.5))
        prev_cdim = cdim
    layers.append(nn.Flatten())
    # The seed's formula, bug included: it ignores what the convs and pools really do to the size.
    prev_hdim = prev_cdim * (xdim[1] // (2 ** len(cdims))) * (xdim[2] // (2 ** len(cdims)))
    for hdim in hdims:
        layers.append(nn.Linear(prev_hdim, hdim))
        layers.append(nn.ReLU(True))
        prev_hdim = hdim
    layers.append(nn.Linear(prev_hdim, ydim, bias=True))
    named = OrderedDict((f"{type(layer).__name__.lower()}_{idx:02d}", layer) for idx, layer in enumerate(layers))
    return _seq(net=nn.Sequential(named))


def seed002_keras() -> keras.Sequential:
    """Seed 002's Keras model: Total 264,562 / Trainable 264,262 / Non-trainable 300 parameters.

    Three ``Conv2D(3x3, 'same', relu)`` + BatchNormalization + ``MaxPooling2D(2, 'same')``
    blocks (75, 50, 25 filters; 28 -> 14 -> 7 -> 4), then ``Dense(512)`` and
    ``Dense(25)``. Layer names are those of the seed's summary (``conv2d_6`` ...;
    the notebook had built six Conv2D before). The dropout rates are not in the
    seed; 0.2 and 0.3 are assumed (they change no count).

    >>> import convcalc
    >>> p = convcalc.plan(seed002_keras())
    >>> p.total_params, p.trainable_params, p.non_trainable_params
    (264562, 264262, 300)
    >>> p.row("max_pooling2d_2").output_shape
    (1, 4, 4, 25)
    """
    return keras.Sequential(
        [
            keras.Conv2D(
                75, (3, 3), strides=1, padding="same", activation="relu", input_shape=(28, 28, 1), name="conv2d_6"
            ),
            keras.BatchNormalization(name="batch_normalization"),
            keras.MaxPooling2D((2, 2), strides=2, padding="same", name="max_pooling2d"),
            keras.Conv2D(50, (3, 3), strides=1, padding="same", activation="relu", name="conv2d_7"),
            keras.Dropout(0.2, name="dropout"),
            keras.BatchNormalization(name="batch_normalization_1"),
            keras.MaxPooling2D((2, 2), strides=2, padding="same", name="max_pooling2d_1"),
            keras.Conv2D(25, (3, 3), strides=1, padding="same", activation="relu", name="conv2d_8"),
            keras.BatchNormalization(name="batch_normalization_2"),
            keras.MaxPooling2D((2, 2), strides=2, padding="same", name="max_pooling2d_2"),
            keras.Flatten(name="flatten"),
            keras.Dense(512, activation="relu", name="dense"),
            keras.Dropout(0.3, name="dropout_1"),
            keras.Dense(25, activation="softmax", name="dense_1"),
        ],
        name="sequential_4",
    )


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #

#: Every builder by name.
MODELS: dict[str, Callable[..., Any]] = {
    "lenet5": lenet5,
    "alexnet": alexnet,
    "alexnet2012": alexnet2012,
    "vgg11": vgg11,
    "vgg11_bn": vgg11_bn,
    "vgg13": vgg13,
    "vgg13_bn": vgg13_bn,
    "vgg16": vgg16,
    "vgg16_bn": vgg16_bn,
    "vgg19": vgg19,
    "vgg19_bn": vgg19_bn,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
    "mobilenet_v2": mobilenet_v2,
    "unet": unet,
    "mnist_cnn": mnist_cnn,
    "seed000_cnn": seed000_cnn,
    "seed002_keras": seed002_keras,
}

#: The input each model is published or written for (batch 1; channels last for the Keras model).
INPUT_SHAPES: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(MODELS, (1, 3, 224, 224)),
    "lenet5": (1, 1, 32, 32),
    "alexnet2012": (1, 3, 227, 227),
    "unet": (1, 1, 572, 572),
    "mnist_cnn": (1, 1, 28, 28),
    "seed000_cnn": (1, 1, 28, 28),
    "seed002_keras": (1, 28, 28, 1),
}


@checked_call
def get(name: str, **kwargs: Any) -> Any:
    """Build the zoo model called ``name`` (keyword arguments go to its builder).

    >>> import convcalc
    >>> convcalc.plan(get("lenet5"), INPUT_SHAPES["lenet5"]).total_params
    61706
    >>> get("resnet51")
    Traceback (most recent call last):
    ...
    convcalc.SpecError: no zoo model named 'resnet51'; available: alexnet, alexnet2012, lenet5, mnist_cnn, mobilenet_v2, resnet101, resnet152, resnet18, resnet34, resnet50, seed000_cnn, seed002_keras, unet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn. Received: name='resnet51'
    """
    builder = MODELS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise SpecError(f"no zoo model named {name!r}; available: {', '.join(sorted(MODELS))}. Received: name={name!r}")
    return checked_call(builder)(**kwargs)
