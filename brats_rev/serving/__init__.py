"""Serving: SavedModel export for TF Serving (`export`, `segment_graph`) and its client."""
