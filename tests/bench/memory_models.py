"""Made-up memory models standing in for measured U-Net steps where a test checks the
search and reporting logic around the measurements, not the measurements."""

import math


def analytic_runner(spec):
    """Peak bytes of a made-up memory model: weights + per-voxel activations, where plain
    stores every block's activations and reversible stores one block's."""
    changes = spec["changes"]
    blocks = changes.get("encoder_blocks", 2)
    width = changes.get("filters", [32])[0]
    voxels = math.prod(spec["patch"])
    stored_blocks = blocks if changes["block_mode"] == "plain" else 1
    peak = 1000 * width**2 + voxels * width * (4 + 8 * stored_blocks)
    return {"spec": spec, "peak_bytes": peak}
