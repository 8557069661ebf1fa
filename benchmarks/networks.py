"""The benchmark networks, each built twice: hand-written ``torch.nn`` and ``convcalc.nn``.

The two builds of a network describe the same layers with the same arguments, so
their parameter and MAC counts must agree exactly. Nothing here depends on
``convcalc.zoo`` or torchvision: the torch modules are written out by hand the way
torchvision writes them (Bottleneck blocks with ``out += identity``, a U-Net whose
``forward`` centre-crops the skip connection by slicing).

torch is imported lazily, inside the ``torch_*`` builders, so that the convcalc
half can be imported (and timed) without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcalc import nn as cnn

__all__ = [
    "NETWORKS",
    "Network",
    "cc_alexnet",
    "cc_chain",
    "cc_resnet50",
    "cc_unet",
    "cc_vgg16",
    "torch_alexnet",
    "torch_chain",
    "torch_resnet50",
    "torch_unet",
    "torch_vgg16",
]

VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
RESNET50_LAYERS = (3, 4, 6, 3)


# --------------------------------------------------------------------------- #
# convcalc.nn builds
# --------------------------------------------------------------------------- #


def _cc_bottleneck(inplanes: int, planes: int, stride: int) -> cnn.Module:
    width = planes
    out = planes * 4
    main = cnn.Sequential(
        cnn.Conv2d(inplanes, width, 1, bias=False),
        cnn.BatchNorm2d(width),
        cnn.ReLU(),
        cnn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),  # v1.5: stride on the 3x3
        cnn.BatchNorm2d(width),
        cnn.ReLU(),
        cnn.Conv2d(width, out, 1, bias=False),
        cnn.BatchNorm2d(out),
    )
    if stride != 1 or inplanes != out:
        shortcut: cnn.Module = cnn.Sequential(
            cnn.Conv2d(inplanes, out, 1, stride=stride, bias=False), cnn.BatchNorm2d(out)
        )
    else:
        shortcut = cnn.Identity()
    return cnn.Sequential(cnn.Add(main, shortcut), cnn.ReLU())


def cc_resnet50(num_classes: int = 1000) -> cnn.Module:
    """ResNet-50 v1.5 (torchvision layout) in convcalc.nn: 25,557,032 params, 4,089,184,256 MACs at 224."""
    layers: list[cnn.Module] = [
        cnn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        cnn.BatchNorm2d(64),
        cnn.ReLU(),
        cnn.MaxPool2d(3, stride=2, padding=1),
    ]
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), RESNET50_LAYERS, strict=True)):
        stage = []
        for b in range(blocks):
            stride = 2 if (i > 0 and b == 0) else 1
            stage.append(_cc_bottleneck(inplanes, planes, stride))
            inplanes = planes * 4
        layers.append(cnn.Sequential(*stage))
    layers += [cnn.AdaptiveAvgPool2d(1), cnn.Flatten(), cnn.Linear(2048, num_classes)]
    return cnn.Sequential(*layers)


def cc_vgg16(num_classes: int = 1000) -> cnn.Module:
    """VGG-16 (torchvision layout, no BN): 138,357,544 params, 15,470,264,320 MACs at 224."""
    layers: list[cnn.Module] = []
    c = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(cnn.MaxPool2d(2, stride=2))
        else:
            assert isinstance(v, int)
            layers += [cnn.Conv2d(c, v, 3, padding=1), cnn.ReLU()]
            c = v
    return cnn.Sequential(
        cnn.Sequential(*layers),
        cnn.AdaptiveAvgPool2d((7, 7)),
        cnn.Flatten(),
        cnn.Sequential(
            cnn.Linear(512 * 7 * 7, 4096),
            cnn.ReLU(),
            cnn.Dropout(),
            cnn.Linear(4096, 4096),
            cnn.ReLU(),
            cnn.Dropout(),
            cnn.Linear(4096, num_classes),
        ),
    )


def cc_alexnet(num_classes: int = 1000) -> cnn.Module:
    """AlexNet, torchvision's single-tower variant: 61,100,840 params, 714,188,480 MACs at 224."""
    return cnn.Sequential(
        cnn.Sequential(
            cnn.Conv2d(3, 64, 11, stride=4, padding=2),
            cnn.ReLU(),
            cnn.MaxPool2d(3, stride=2),
            cnn.Conv2d(64, 192, 5, padding=2),
            cnn.ReLU(),
            cnn.MaxPool2d(3, stride=2),
            cnn.Conv2d(192, 384, 3, padding=1),
            cnn.ReLU(),
            cnn.Conv2d(384, 256, 3, padding=1),
            cnn.ReLU(),
            cnn.Conv2d(256, 256, 3, padding=1),
            cnn.ReLU(),
            cnn.MaxPool2d(3, stride=2),
        ),
        cnn.AdaptiveAvgPool2d((6, 6)),
        cnn.Flatten(),
        cnn.Sequential(
            cnn.Dropout(),
            cnn.Linear(256 * 6 * 6, 4096),
            cnn.ReLU(),
            cnn.Dropout(),
            cnn.Linear(4096, 4096),
            cnn.ReLU(),
            cnn.Linear(4096, num_classes),
        ),
    )


def cc_chain(depth: int = 200, channels: int = 16) -> cnn.Module:
    """``depth`` x (Conv2d(c, c, 3, padding=1) + ReLU)."""
    layers: list[cnn.Module] = []
    for _ in range(depth):
        layers += [cnn.Conv2d(channels, channels, 3, padding=1), cnn.ReLU()]
    return cnn.Sequential(*layers)


def _cc_double_conv(cin: int, cout: int) -> list[cnn.Module]:
    return [cnn.Conv2d(cin, cout, 3), cnn.ReLU(), cnn.Conv2d(cout, cout, 3), cnn.ReLU()]


def cc_unet(in_channels: int = 1, num_classes: int = 2) -> cnn.Module:
    """The 2015 U-Net (valid convs, centre-cropped skips): 31,030,658 params for 1 -> 2, 572 -> 388."""
    widths = (64, 128, 256, 512)
    # the bottom: pool, two convs 512 -> 1024, up-conv back to 512
    inner: cnn.Module = cnn.Sequential(
        cnn.MaxPool2d(2), *_cc_double_conv(512, 1024), cnn.ConvTranspose2d(1024, 512, 2, stride=2)
    )
    for level in range(3, -1, -1):
        w = widths[level]
        cin = in_channels if level == 0 else widths[level - 1]
        block = cnn.Sequential(
            *_cc_double_conv(cin, w),
            cnn.Concat(cnn.Identity(), inner, crop=True),  # skip (cropped) ++ upsampled path
            *_cc_double_conv(2 * w, w),
        )
        if level == 0:
            inner = block
        else:
            inner = cnn.Sequential(cnn.MaxPool2d(2), block, cnn.ConvTranspose2d(w, w // 2, 2, stride=2))
    return cnn.Sequential(inner, cnn.Conv2d(64, num_classes, 1))


# --------------------------------------------------------------------------- #
# torch.nn builds (hand-written, torchvision style)
# --------------------------------------------------------------------------- #


def torch_resnet50(num_classes: int = 1000) -> Any:
    """ResNet-50 v1.5 written out by hand, as torchvision's ``resnet.py`` does."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
            super().__init__()
            width = planes
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * self.expansion)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            self.layer1 = self._make_layer(64, RESNET50_LAYERS[0])
            self.layer2 = self._make_layer(128, RESNET50_LAYERS[1], stride=2)
            self.layer3 = self._make_layer(256, RESNET50_LAYERS[2], stride=2)
            self.layer4 = self._make_layer(512, RESNET50_LAYERS[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)

        def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
            downsample = None
            if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * Bottleneck.expansion),
                )
            layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * Bottleneck.expansion
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = torch.flatten(self.avgpool(x), 1)
            return self.fc(x)

    return ResNet().eval()


def torch_vgg16(num_classes: int = 1000) -> Any:
    """VGG-16 as torchvision's ``vgg.py`` builds it (features / avgpool / classifier)."""
    import torch
    from torch import nn

    class VGG(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            c = 3
            for v in VGG16_CFG:
                if v == "M":
                    layers.append(nn.MaxPool2d(2, stride=2))
                else:
                    assert isinstance(v, int)
                    layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                    c = v
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, num_classes),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))

    return VGG().eval()


def torch_alexnet(num_classes: int = 1000) -> Any:
    """AlexNet as torchvision's ``alexnet.py`` builds it."""
    import torch
    from torch import nn

    class AlexNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, stride=4, padding=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2),
                nn.Conv2d(64, 192, 5, padding=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2),
                nn.Conv2d(192, 384, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2),
            )
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(),
                nn.Linear(256 * 6 * 6, 4096),
                nn.ReLU(inplace=True),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))

    return AlexNet().eval()


def torch_chain(depth: int = 200, channels: int = 16) -> Any:
    """``depth`` x (Conv2d(c, c, 3, padding=1) + ReLU) as one ``nn.Sequential``."""
    from torch import nn

    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers).eval()


def torch_unet(in_channels: int = 1, num_classes: int = 2) -> Any:
    """The 2015 U-Net written by hand: valid 3x3 convs, the skip centre-cropped by slicing in ``forward``."""
    import torch
    from torch import nn

    def double_conv(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3), nn.ReLU(inplace=True)
        )

    def center_crop(skip: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        dh = (skip.shape[2] - target.shape[2]) // 2
        dw = (skip.shape[3] - target.shape[3]) // 2
        return skip[:, :, dh : dh + target.shape[2], dw : dw + target.shape[3]]

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down1 = double_conv(in_channels, 64)
            self.down2 = double_conv(64, 128)
            self.down3 = double_conv(128, 256)
            self.down4 = double_conv(256, 512)
            self.bottom = double_conv(512, 1024)
            self.pool = nn.MaxPool2d(2)
            self.up4 = nn.ConvTranspose2d(1024, 512, 2, stride=2)
            self.conv4 = double_conv(1024, 512)
            self.up3 = nn.ConvTranspose2d(512, 256, 2, stride=2)
            self.conv3 = double_conv(512, 256)
            self.up2 = nn.ConvTranspose2d(256, 128, 2, stride=2)
            self.conv2 = double_conv(256, 128)
            self.up1 = nn.ConvTranspose2d(128, 64, 2, stride=2)
            self.conv1 = double_conv(128, 64)
            self.out = nn.Conv2d(64, num_classes, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            d1 = self.down1(x)
            d2 = self.down2(self.pool(d1))
            d3 = self.down3(self.pool(d2))
            d4 = self.down4(self.pool(d3))
            b = self.bottom(self.pool(d4))
            u = self.up4(b)
            u = self.conv4(torch.cat([center_crop(d4, u), u], 1))
            u = self.up3(u)
            u = self.conv3(torch.cat([center_crop(d3, u), u], 1))
            u = self.up2(u)
            u = self.conv2(torch.cat([center_crop(d2, u), u], 1))
            u = self.up1(u)
            u = self.conv1(torch.cat([center_crop(d1, u), u], 1))
            return self.out(u)

    return UNet().eval()


# --------------------------------------------------------------------------- #
# The registry the runner walks
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Network:
    """One benchmark network: both builds, its input, and its published counts."""

    name: str
    convcalc: Callable[[], cnn.Module]
    torch: Callable[[], Any]
    input_shape: tuple[int, int, int, int]
    params: int | None = None  # published / recomputed reference (published_numbers.md)
    macs: int | None = None


NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network("resnet50", cc_resnet50, torch_resnet50, (1, 3, 224, 224), 25_557_032, 4_089_184_256),
        Network("vgg16", cc_vgg16, torch_vgg16, (1, 3, 224, 224), 138_357_544, 15_470_264_320),
        Network("alexnet", cc_alexnet, torch_alexnet, (1, 3, 224, 224), 61_100_840, 714_188_480),
        Network(
            "chain200", cc_chain, torch_chain, (1, 16, 64, 64), 200 * (16 * 16 * 9 + 16), 200 * 16 * 16 * 9 * 64 * 64
        ),
        Network("unet2015", cc_unet, torch_unet, (1, 1, 572, 572), 31_030_658, 150_428_424_448),
    )
}
