"""srma: from systematic-review search exports to pooled meta-analyses.

All logic of the srma workflow lives in this package as plain functions; the
Snakemake rules in ``workflow/rules`` only call them, and so do the tests and the
``srma`` command line.
"""

__version__ = "0.1.0"
