"""Publication figures of srma: forest, funnel, leave-one-out, PRISMA 2020 flow, heatmap.

Every function takes precomputed results (tables and dicts of numbers, as written by the
pooling, sensitivity, screening and correlation stages; the figure code computes no
statistics) and writes one SVG (text kept as text) and one 300-dpi PNG, byte-identical
on rerun. They use matplotlib's public API only, and never ``matplotlib.pyplot``.
"""
