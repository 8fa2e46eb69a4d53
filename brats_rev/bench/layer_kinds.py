"""Which kind of layer an op of the U-Net belongs to, from the name scopes in its name.

Keras names each op after the layers it runs in ("reversible_unet/encoder_0/coupling_0/f/
depthwise/Pad"; a traced copy may add "_<n>" to a part, "reversible_unet_1/..."), so the
innermost scope that is the name of a layer of a known class gives the kind:

    pointwise        Dense / Pointwise (1x1x1): MBConv expand and project, skip-merge
                     projection, the head's logits
    depthwise        DepthwiseConv3D (the decomposed taps, their padding and sums)
    norm             GroupNormalization
    transposed conv  Conv3DTranspose (the skip merges' upsampling)
    other conv       Conv3D (the stem, the downsampling convolutions)
    other model ops  in the model but in none of those: activations, the couplings'
                     split / add / concat, the skip concatenation
    sliding window   outside the model: cutting windows, Gaussian weighting, adding them back
"""

import re

import keras

from brats_rev.layers.depthwise import DepthwiseConv3D

KINDS = ("pointwise", "depthwise", "norm", "transposed conv", "other conv", "other model ops",
         "sliding window")
MODEL_KINDS = KINDS[:-1]
# Layer classes and their kind; a class's subclasses (Pointwise is a Dense) have it too.
_CLASS_KINDS = ((keras.layers.Dense, "pointwise"), (DepthwiseConv3D, "depthwise"),
                (keras.layers.GroupNormalization, "norm"),
                (keras.layers.Conv3DTranspose, "transposed conv"),
                (keras.layers.Conv3D, "other conv"))


def _kind_of_layer(layer):
    for cls, kind in _CLASS_KINDS:
        if isinstance(layer, cls):
            return kind
    return None


def layer_kinds(model):
    """{layer name: kind} of every layer inside `model` (nested ones too) of a known class."""
    kinds = {}
    # Keras 3 has no public walk over nested layers; `_flatten_layers` is the one it uses.
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = _kind_of_layer(layer)
        if kind is not None:
            kinds.setdefault(layer.name, kind)
    return kinds


def _scope_name(part):
    """A name-scope part without the "_<n>" suffixes tracing adds ("encoder_0_1" keeps
    "encoder_0_1" and "encoder_0" as candidates, so both are tried)."""
    names = [part]
    while re.search(r"_\d+$", names[-1]):
        names.append(re.sub(r"_\d+$", "", names[-1]))
    return names


def classifier(model):
    """A function op name -> kind (one of KINDS) for the ops of `model`'s graphs, traced in
    any function around it (names may have prefixes such as "while/body/_3/")."""
    kinds = layer_kinds(model)

    def kind_of(op_name):
        scopes = op_name.split("/")[:-1]
        in_model = False
        for part in reversed(scopes):
            candidates = _scope_name(part)
            for name in candidates:
                if name in kinds:
                    return kinds[name]
            in_model = in_model or model.name in candidates
        return "other model ops" if in_model else "sliding window"
    return kind_of
