"""Publication figures of srma: forest, funnel, leave-one-out, PRISMA 2020 flow, heatmap.

Every function takes precomputed results (tables and dicts of numbers, as written by the
pooling, screening and correlation stages) and writes one SVG (text kept as text) and one
300-dpi PNG, byte-identical on rerun. None of them uses ``matplotlib.pyplot``.
"""
